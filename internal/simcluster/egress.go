package simcluster

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// egressProxy is how kube-apiserver reaches pods, as on EKS it reaches them through the cluster's network: its
// service and pod proxies (`kubectl get --raw /api/v1/namespaces/N/services/S:P/proxy/...`, the rollout command's
// gate) dial the pod addresses the API holds, 10.N.x.y, which exist only inside the simulated network. The API
// server's egress selector sends its "cluster" connections to this HTTP CONNECT proxy on a Unix socket, which
// dials the pod's address on this host (127.N.x.y). Nothing else is reachable through it.
type egressProxy struct {
	listener  net.Listener
	socketDir string
	net       *network
}

// egressConfig is the EgressSelectorConfiguration that routes the API server's cluster traffic to socket.
const egressConfig = `apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`

// startEgressProxy listens on a socket and writes the API server's egress configuration into dir; it returns the
// configuration file's path. The socket is in a short folder of its own: a socket's path has at most 107 bytes.
func startEgressProxy(dir string, n *network) (*egressProxy, string, error) {
	socketDir, err := os.MkdirTemp("", "egress-")
	if err != nil {
		return nil, "", fmt.Errorf("egress proxy: %w", err)
	}
	socket := filepath.Join(socketDir, "s")
	l, err := net.Listen("unix", socket)
	if err != nil {
		return nil, "", errors.Join(fmt.Errorf("egress proxy: %w", err), os.RemoveAll(socketDir))
	}
	config := filepath.Join(dir, "egress-selector.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, egressConfig, socket), 0o600); err != nil {
		return nil, "", errors.Join(err, l.Close(), os.RemoveAll(socketDir))
	}
	p := &egressProxy{listener: l, socketDir: socketDir, net: n}
	go p.serve()
	return p, config, nil
}

func (p *egressProxy) serve() {
	for {
		conn, err := p.listener.Accept()
		if err != nil {
			return
		}
		go p.handle(conn)
	}
}

// handle answers one CONNECT to a pod address of this cluster and pipes the connection to the pod.
func (p *egressProxy) handle(conn net.Conn) {
	reader := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	req, err := http.ReadRequest(reader)
	if err != nil {
		_ = conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	target, err := netip.ParseAddrPort(req.Host)
	if req.Method != http.MethodConnect || err != nil || !p.net.apiPrefix().Contains(target.Addr()) {
		_, _ = fmt.Fprintf(conn, "HTTP/1.1 403 Forbidden\r\n\r\nonly pod addresses of %s\n", p.net.apiPrefix())
		_ = conn.Close()
		return
	}
	pod, err := net.DialTimeout("tcp", netip.AddrPortFrom(p.net.hostAddr(target.Addr()), target.Port()).String(), 10*time.Second)
	if err != nil {
		_, _ = fmt.Fprintf(conn, "HTTP/1.1 503 Service Unavailable\r\n\r\n%v\n", err)
		_ = conn.Close()
		return
	}
	if _, err := fmt.Fprint(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		_ = conn.Close()
		_ = pod.Close()
		return
	}
	if n := reader.Buffered(); n > 0 { // bytes the client sent after its CONNECT
		buffered, _ := reader.Peek(n)
		if _, err := pod.Write(buffered); err != nil {
			_ = conn.Close()
			_ = pod.Close()
			return
		}
	}
	pipe(conn, pod)
}

func (p *egressProxy) close() error {
	return errors.Join(p.listener.Close(), os.RemoveAll(p.socketDir))
}
