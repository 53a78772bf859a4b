package simcluster

import (
	"net"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// exposedPod is a running pod's ports at its two addresses.
type exposedPod struct {
	apiIP, ip netip.Addr
	ports     []uint16
}

// isolatedPod is a pod in a network namespace of its own (Prometheus). This host's address of the pod forwards
// into the namespace; inside it, the API server's address and every other pod's API address forward out.
type isolatedPod struct {
	ns       *netns
	host     []net.Listener
	outbound map[types.UID][]net.Listener
}

func containerPorts(c corev1.Container) []uint16 {
	var out []uint16
	for _, p := range c.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			out = append(out, uint16(p.ContainerPort))
		}
	}
	return out
}

// expose records a running pod's ports and makes them reachable at its API address from every isolated pod.
func (d *dataPlane) expose(p *simPod, c corev1.Container) {
	e := exposedPod{apiIP: p.apiIP, ip: p.ip, ports: containerPorts(c)}
	d.netMu.Lock()
	defer d.netMu.Unlock()
	d.exposed[p.uid] = e
	for uid, iso := range d.isolated {
		if uid != p.uid {
			iso.reach(p.uid, e)
		}
	}
}

// unexpose undoes expose, and ends the pod's own namespace's forwarding if it had one.
func (d *dataPlane) unexpose(uid types.UID) {
	d.netMu.Lock()
	defer d.netMu.Unlock()
	delete(d.exposed, uid)
	for _, iso := range d.isolated {
		closeAll(iso.outbound[uid])
		delete(iso.outbound, uid)
	}
	if iso := d.isolated[uid]; iso != nil {
		closeAll(iso.host)
		for _, ls := range iso.outbound {
			closeAll(ls)
		}
		_ = iso.ns.close()
		delete(d.isolated, uid)
	}
}

// joinNetwork wires up the network namespace the pod's process runs in.
func (d *dataPlane) joinNetwork(p *simPod, c corev1.Container, proc *process) error {
	ns, err := openNetns(proc.cmd.Process.Pid)
	if err != nil {
		return err
	}
	iso := &isolatedPod{ns: ns, outbound: map[types.UID][]net.Listener{}}
	for _, port := range containerPorts(c) {
		l, err := net.Listen("tcp", netip.AddrPortFrom(p.ip, port).String())
		if err != nil {
			closeAll(iso.host)
			_ = ns.close()
			return err
		}
		iso.host = append(iso.host, l)
		inside := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String()
		go forward(l, func() (net.Conn, error) { return ns.dial(inside) })
	}
	// The API server at the address the service-account kubeconfig names (its certificate's), from inside.
	api := d.c.apiServerHostPort()
	if l, err := listenWhenUp(ns, api); err == nil {
		iso.outbound[""] = []net.Listener{l}
		go forward(l, func() (net.Conn, error) { return net.Dial("tcp", api) })
	} else {
		closeAll(iso.host)
		_ = ns.close()
		return err
	}
	d.netMu.Lock()
	defer d.netMu.Unlock()
	d.isolated[p.uid] = iso
	for uid, e := range d.exposed {
		if uid != p.uid {
			iso.reach(uid, e)
		}
	}
	return nil
}

// reach makes pod e reachable from inside the namespace at its API address.
func (iso *isolatedPod) reach(uid types.UID, e exposedPod) {
	for _, port := range e.ports {
		l, err := listenWhenUp(iso.ns, netip.AddrPortFrom(e.apiIP, port).String())
		if err != nil {
			continue
		}
		iso.outbound[uid] = append(iso.outbound[uid], l)
		target := netip.AddrPortFrom(e.ip, port).String()
		go forward(l, func() (net.Conn, error) { return net.Dial("tcp", target) })
	}
}

// listenWhenUp listens inside the namespace, waiting the moment the sandbox needs to bring its loopback up.
func listenWhenUp(ns *netns, addr string) (net.Listener, error) {
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var l net.Listener
		if l, err = ns.listen(addr); err == nil {
			return l, nil
		}
	}
	return nil, err
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		_ = l.Close()
	}
}
