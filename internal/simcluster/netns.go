package simcluster

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// netns is a network namespace of its own, held open by a file. Prometheus runs in one: it listens on all
// addresses and scrapes pod addresses that the API holds (10.N.x.y, since Endpoints refuse loopback ones), and
// inside its namespace those can be made local and forwarded to the pods' loopback addresses on this host.
type netns struct{ file *os.File }

// openNetns opens the network namespace of process pid once it has left this one (unshare does so right after
// it starts).
func openNetns(pid int) (*netns, error) {
	own, err := os.Stat("/proc/self/ns/net")
	if err != nil {
		return nil, err
	}
	path := fmt.Sprintf("/proc/%d/ns/net", pid)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		theirs, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if !os.SameFile(own, theirs) {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			return &netns{file: f}, nil
		}
	}
	return nil, fmt.Errorf("process %d did not enter a network namespace of its own", pid)
}

func (n *netns) close() error { return n.file.Close() }

// listen opens a TCP listener inside the namespace: the socket keeps the namespace it was made in, so the thread
// enters it only for the socket call. A thread that cannot return is left locked, so the runtime retires it.
func (n *netns) listen(addr string) (net.Listener, error) {
	return inNetns(n.file, func() (net.Listener, error) { return net.Listen("tcp", addr) })
}

// dial connects to addr from inside the namespace.
func (n *netns) dial(addr string) (net.Conn, error) {
	return inNetns(n.file, func() (net.Conn, error) { return net.Dial("tcp", addr) })
}

func inNetns[T any](target *os.File, fn func() (T, error)) (T, error) {
	var zero T
	type result struct {
		v   T
		err error
	}
	out := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			out <- result{err: err}
			return
		}
		defer own.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			out <- result{err: fmt.Errorf("entering the network namespace: %w", err)}
			return
		}
		v, err := fn()
		if unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		out <- result{v, err}
	}()
	r := <-out
	if r.err != nil {
		return zero, r.err
	}
	return r.v, nil
}

// forward accepts on l and connects each connection with dial(), until l is closed.
func forward(l net.Listener, dial func() (net.Conn, error)) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			upstream, err := dial()
			if err != nil {
				return
			}
			defer upstream.Close()
			pipe(conn, upstream)
		}()
	}
}
