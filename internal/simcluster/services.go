package simcluster

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	listersdiscoveryv1 "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// serviceProxy stands in for kube-proxy and the cluster DNS: every Service gets an address of the cluster's
// loopback block, listens there on its ports and forwards each connection to one ready endpoint, as kube-proxy
// does; its names (name.namespace, name.namespace.svc, name.namespace.svc.cluster.local, and the short name inside
// its namespace) go into the hosts files the simulated pods and Flagger resolve with.
type serviceProxy struct {
	net    *network
	slices listersdiscoveryv1.EndpointSliceLister
	// changed is called after the set of services changed, to rewrite the hosts files.
	changed func()

	mu       sync.Mutex
	services map[string]*proxiedService
}

type proxiedService struct {
	namespace, name string
	ip              netip.Addr
	listeners       map[int32]net.Listener
}

func newServiceProxy(n *network, factory informers.SharedInformerFactory, changed func()) (*serviceProxy, error) {
	p := &serviceProxy{net: n, changed: changed, services: map[string]*proxiedService{},
		slices: factory.Discovery().V1().EndpointSlices().Lister()}
	_, err := factory.Core().V1().Services().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.sync(obj.(*corev1.Service)) },
		UpdateFunc: func(_, obj any) { p.sync(obj.(*corev1.Service)) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if svc, ok := obj.(*corev1.Service); ok {
				p.remove(svc.Namespace, svc.Name)
			}
		},
	})
	return p, err
}

// sync opens a listener for every port of the service and closes those of ports it no longer has.
func (p *serviceProxy) sync(svc *corev1.Service) {
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	p.mu.Lock()
	key := svc.Namespace + "/" + svc.Name
	s, known := p.services[key]
	if !known {
		s = &proxiedService{namespace: svc.Namespace, name: svc.Name, ip: p.net.serviceIP(), listeners: map[int32]net.Listener{}}
		p.services[key] = s
	}
	want := map[int32]corev1.ServicePort{}
	for _, port := range svc.Spec.Ports {
		if port.Protocol == "" || port.Protocol == corev1.ProtocolTCP {
			want[port.Port] = port
		}
	}
	for number, l := range s.listeners {
		if _, ok := want[number]; !ok {
			l.Close()
			delete(s.listeners, number)
		}
	}
	for number, port := range want {
		if s.listeners[number] != nil {
			continue
		}
		l, err := net.Listen("tcp", netip.AddrPortFrom(s.ip, uint16(number)).String())
		if err != nil {
			continue // the address is ours alone; only a port below 1024 without root fails, and then the name does not resolve
		}
		s.listeners[number] = l
		go p.serve(l, s.namespace, s.name, port)
	}
	p.mu.Unlock()
	if !known {
		p.changed()
	}
}

func (p *serviceProxy) remove(namespace, name string) {
	p.mu.Lock()
	s := p.services[namespace+"/"+name]
	delete(p.services, namespace+"/"+name)
	p.mu.Unlock()
	if s == nil {
		return
	}
	for _, l := range s.listeners {
		l.Close()
	}
	p.changed()
}

func (p *serviceProxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.services {
		for _, l := range s.listeners {
			l.Close()
		}
	}
	p.services = map[string]*proxiedService{}
}

// serve forwards each connection to a ready endpoint picked at random, as kube-proxy's iptables mode does; with
// no ready endpoint the connection is refused (closed).
func (p *serviceProxy) serve(l net.Listener, namespace, name string, port corev1.ServicePort) {
	forward(l, func() (net.Conn, error) {
		targets := p.Endpoints(namespace, name, port)
		if len(targets) == 0 {
			return nil, errors.New("no ready endpoint")
		}
		return net.DialTimeout("tcp", targets[rand.IntN(len(targets))], 5*time.Second)
	})
}

// pipe copies both ways until either side ends.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	copyHalf := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tcp, ok := dst.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
		done <- struct{}{}
	}
	go copyHalf(a, b)
	go copyHalf(b, a)
	<-done
	<-done
}

// Endpoints are the ready pod addresses (ip:port) behind a service port, from the EndpointSlices the
// controller-manager keeps.
func (p *serviceProxy) Endpoints(namespace, name string, port corev1.ServicePort) []string {
	list, err := p.slices.EndpointSlices(namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name}))
	if err != nil {
		return nil
	}
	var out []string
	for _, slice := range list {
		for _, sp := range slice.Ports {
			if sp.Port == nil || (sp.Name != nil && *sp.Name != port.Name) {
				continue
			}
			for _, e := range slice.Endpoints {
				if e.Conditions.Ready != nil && !*e.Conditions.Ready {
					continue
				}
				for _, a := range e.Addresses {
					if addr, err := netip.ParseAddr(a); err == nil {
						a = p.net.hostAddr(addr).String()
					}
					out = append(out, net.JoinHostPort(a, strconv.Itoa(int(*sp.Port))))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// EndpointsForPort is Endpoints for the service port numbered port (what a Gloo Upstream or an HTTPRoute
// backendRef names).
func (p *serviceProxy) EndpointsForPort(svc *corev1.Service, port int32) ([]string, error) {
	for _, sp := range svc.Spec.Ports {
		if sp.Port == port {
			return p.Endpoints(svc.Namespace, svc.Name, sp), nil
		}
	}
	return nil, fmt.Errorf("service %s/%s has no port %d", svc.Namespace, svc.Name, port)
}

// hosts is the hosts-file text a process in namespace resolves services with; self is the pod's own address
// ("localhost" too, as inside a pod's network namespace), or invalid for a process that is not a pod.
func (p *serviceProxy) hosts(namespace, podName string, self netip.Addr) string {
	var b strings.Builder
	if self.IsValid() {
		fmt.Fprintf(&b, "%s\tlocalhost %s\n", self, podName)
	} else {
		b.WriteString("127.0.0.1\tlocalhost\n")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]string, 0, len(p.services))
	for k := range p.services {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s := p.services[k]
		names := []string{s.name + "." + s.namespace, s.name + "." + s.namespace + ".svc", s.name + "." + s.namespace + ".svc.cluster.local"}
		if s.namespace == namespace {
			names = append([]string{s.name}, names...)
		}
		fmt.Fprintf(&b, "%s\t%s\n", s.ip, strings.Join(names, " "))
	}
	return b.String()
}

// resolve maps an in-cluster host (name.namespace, name.namespace.svc[.cluster.local], with or without a port) to
// the service's address and port; ok is false for any other host.
func (p *serviceProxy) resolve(host string) (addr string, ok bool) {
	name, port, err := net.SplitHostPort(host)
	if err != nil {
		name, port = host, "80"
	}
	labels := strings.Split(strings.TrimSuffix(strings.TrimSuffix(name, ".cluster.local"), ".svc"), ".")
	if len(labels) != 2 {
		return "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.services[labels[1]+"/"+labels[0]]
	if s == nil {
		return "", false
	}
	return net.JoinHostPort(s.ip.String(), port), true
}
