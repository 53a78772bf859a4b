package simcluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// network is the loopback block 127.N.0.0/16 one cluster's pods and services live in. A pod listens at its
// address 127.N.x.y on this host, and the API knows it as 10.N.x.y: Endpoints and EndpointSlices refuse loopback
// addresses, so whoever connects to a pod address from the API (the service proxy, the gateway stand-in)
// translates it, and in Prometheus's network namespace 10.N.0.0/16 is forwarded to the pods. Clusters of parallel tests,
// and of other test binaries, each hold a different block: an exclusive lock on a file named after it, released
// when the cluster stops or its process dies.
type network struct {
	block    byte
	lock     *os.File
	mu       sync.Mutex
	pods     int
	services int
}

// Pod addresses are 127.N.0.1 upwards; service addresses 127.N.128.1 upwards.
const servicesFrom = 128 * 256

func claimNetwork() (*network, error) {
	// One folder for every process on the machine, whatever its TMPDIR: the locks must meet.
	dir := "/tmp/simcluster-networks"
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	// 127.0.0.0/16 is the host's own loopback; 127.100–127.249 are free on a machine that runs nothing else there.
	for _, i := range rand.Perm(150) {
		block := byte(100 + i)
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("127.%d.lock", block)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		return &network{block: block, lock: f}, nil
	}
	return nil, errors.New("no free 127.N.0.0/16 block for the simulated pods: 150 clusters are running")
}

func (n *network) address(index int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, n.block, byte(index >> 8), byte(index)})
}

// podIP is a new pod's address on this host.
func (n *network) podIP() netip.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pods++
	return n.address(1 + (n.pods-1)%(servicesFrom-1))
}

// apiAddr is how the API knows a pod address of this host: 10.N.x.y for 127.N.x.y.
func (n *network) apiAddr(host netip.Addr) netip.Addr {
	b := host.As4()
	b[0] = 10
	return netip.AddrFrom4(b)
}

// hostAddr is the address on this host of a pod address from the API; others are returned as they are.
func (n *network) hostAddr(api netip.Addr) netip.Addr {
	b := api.As4()
	if !api.Is4() || b[0] != 10 || b[1] != n.block {
		return api
	}
	b[0] = 127
	return netip.AddrFrom4(b)
}

// apiPrefix is 10.N.0.0/16, the pod addresses as the API knows them.
func (n *network) apiPrefix() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, n.block, 0, 0}), 16)
}

// serviceIP is a new service address.
func (n *network) serviceIP() netip.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.services++
	return n.address(servicesFrom + n.services%servicesFrom)
}

func (n *network) release() error {
	if n == nil || n.lock == nil {
		return nil
	}
	return n.lock.Close()
}
