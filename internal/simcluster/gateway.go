package simcluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	gloogatewayv1 "github.com/fluxcd/flagger/pkg/apis/gloo/gateway/v1"
	gloov1 "github.com/fluxcd/flagger/pkg/apis/gloo/gloo/v1"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	gatewayapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The gateway proxy's ports: Gloo's gateway-proxy listens on 8080 behind its Service's port 80 and serves its
// Envoy statistics for Prometheus on 8081 at /metrics (the Gloo chart's gateway-proxy pod annotations).
const (
	gatewayHTTPPort    = 8080
	gatewayMetricsPort = 8081
)

var (
	virtualServicesGVR = schema.GroupVersionResource{Group: "gateway.solo.io", Version: "v1", Resource: "virtualservices"}
	routeTablesGVR     = schema.GroupVersionResource{Group: "gateway.solo.io", Version: "v1", Resource: "routetables"}
	upstreamsGVR       = schema.GroupVersionResource{Group: "gloo.solo.io", Version: "v1", Resource: "upstreams"}
	httpRoutesGVR      = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
)

// envoyTimeBucketsMs are Envoy's default histogram buckets, in milliseconds.
var envoyTimeBucketsMs = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// gatewayStandIn plays the ingress's Envoy proxy, which cannot run here. It is a stand-in: it routes each
// request by its Host header through the watched objects (routeObjects), as Envoy configured by the ingress's
// controller would —
// Gloo: the VirtualService with that domain, the RouteTable it delegates to, the weighted Upstreams and their
// Service's ready endpoints; Gateway API: the HTTPRoute with that hostname and its weighted backendRefs — and
// forwards to the pods at the weights Flagger wrote. An unknown Host gets Envoy's 404. It counts every answer
// under the names and labels Gloo's Envoy exports and Flagger's Gloo queries read
// (envoy_cluster_upstream_rq{envoy_cluster_name="<upstream>_<namespace>",envoy_response_code} and the
// envoy_cluster_upstream_rq_time histogram in ms; flagger v1.36.1 pkg/metrics/observers/gloo.go).
type gatewayStandIn struct {
	routes   *routeObjects
	proxy    *serviceProxy
	requests *prometheus.CounterVec
	times    *prometheus.HistogramVec
	registry *prometheus.Registry
}

func newGatewayStandIn(routes *routeObjects, proxy *serviceProxy) *gatewayStandIn {
	g := &gatewayStandIn{routes: routes, proxy: proxy, registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "envoy_cluster_upstream_rq",
			Help: "Upstream requests by response code (Envoy cluster.<name>.upstream_rq_<code>)."},
			[]string{"envoy_response_code", "envoy_cluster_name"}),
		times: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "envoy_cluster_upstream_rq_time",
			Help: "Upstream request time in milliseconds.", Buckets: envoyTimeBucketsMs},
			[]string{"envoy_cluster_name"}),
	}
	g.registry.MustRegister(g.requests, g.times)
	return g
}

// runGateway runs the gateway stand-in as the gateway proxy pod: listening at the pod's address, Ready at once.
func (d *dataPlane) runGateway(ctx context.Context, p *simPod, pod *corev1.Pod, container corev1.Container) {
	g := newGatewayStandIn(d.routes, d.proxy)
	for port, handler := range map[int]http.Handler{
		gatewayHTTPPort:    g,
		gatewayMetricsPort: promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{}),
	} {
		l, err := net.Listen("tcp", netip.AddrPortFrom(p.ip, uint16(port)).String())
		if err != nil {
			_ = d.setStatus(ctx, p, pod, containerWaiting(container, "RunContainerError", err.Error()), false)
			return
		}
		s := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
		defer s.Close()
		go func() { _ = s.Serve(l) }()
	}
	d.expose(p, container)
	defer d.unexpose(p.uid)
	// Sent again until the API server takes it (it may be away), as the probe loop does for the other pods.
	started := metav1.Now()
	_ = wait.PollUntilContextCancel(ctx, 2*time.Second, true, func(ctx context.Context) (bool, error) {
		return d.setStatus(ctx, p, pod, containerRunning(container, started, 0, true), true) == nil, nil
	})
	<-ctx.Done()
}

// backend is one weighted destination of a route.
type backend struct {
	cluster string // Envoy's cluster name
	service *corev1.Service
	port    int32
	weight  uint32
}

func (g *gatewayStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	backends, err := g.route(r.Context(), host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if len(backends) == 0 {
		w.WriteHeader(http.StatusNotFound) // Envoy's answer for a host no virtual host matches
		return
	}
	b := pick(backends)
	if b == nil {
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
		return
	}
	endpoints, err := g.proxy.EndpointsForPort(b.service, b.port)
	if err != nil || len(endpoints) == 0 {
		g.record(b.cluster, http.StatusServiceUnavailable, 0)
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
		return
	}
	target := endpoints[rand.IntN(len(endpoints))]
	start := time.Now()
	status := http.StatusBadGateway
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", target
			pr.Out.Host = r.Host
		},
		ModifyResponse: func(resp *http.Response) error { status = resp.StatusCode; return nil },
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "upstream connect error: "+err.Error(), http.StatusServiceUnavailable)
			status = http.StatusServiceUnavailable
		},
	}
	rp.ServeHTTP(w, r)
	g.record(b.cluster, status, time.Since(start))
}

func (g *gatewayStandIn) record(cluster string, status int, took time.Duration) {
	g.requests.WithLabelValues(strconv.Itoa(status), cluster).Inc()
	g.times.WithLabelValues(cluster).Observe(float64(took.Microseconds()) / 1000)
}

// pick chooses a backend at random in proportion to the weights, as Envoy's weighted clusters do.
func pick(backends []backend) *backend {
	var total uint32
	for _, b := range backends {
		total += b.weight
	}
	if total == 0 {
		return nil
	}
	n := rand.Uint32N(total)
	for i := range backends {
		if n < backends[i].weight {
			return &backends[i]
		}
		n -= backends[i].weight
	}
	return nil
}

// route finds the backends for host: a Gloo VirtualService's domain first, then an HTTPRoute's hostname.
func (g *gatewayStandIn) route(ctx context.Context, host string) ([]backend, error) {
	backends, err := g.glooRoute(ctx, host)
	if err != nil || len(backends) > 0 {
		return backends, err
	}
	return g.httpRoute(ctx, host)
}

func hostMatches(patterns []string, host string) bool {
	for _, p := range patterns {
		p = strings.ToLower(p)
		if p == "*" || p == host || (strings.HasPrefix(p, "*.") && strings.HasSuffix(host, p[1:])) {
			return true
		}
	}
	return false
}

func (g *gatewayStandIn) glooRoute(ctx context.Context, host string) ([]backend, error) {
	list, err := g.routes.list(ctx, virtualServicesGVR)
	if err != nil {
		return nil, err
	}
	for _, item := range list {
		var vs manifests.GlooVirtualService
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, &vs); err != nil {
			return nil, err
		}
		if !hostMatches(vs.Spec.VirtualHost.Domains, host) {
			continue
		}
		for _, route := range vs.Spec.VirtualHost.Routes {
			if route.DelegateAction == nil || route.DelegateAction.Ref == nil {
				continue
			}
			ref := route.DelegateAction.Ref
			ns := ref.Namespace
			if ns == "" {
				ns = vs.Namespace
			}
			var table gloogatewayv1.RouteTable
			if err := g.routes.get(ctx, routeTablesGVR, ns, ref.Name, &table); err != nil {
				return nil, fmt.Errorf("route table %s/%s: %w", ns, ref.Name, err)
			}
			if len(table.Spec.Routes) == 0 {
				return nil, fmt.Errorf("route table %s/%s has no routes", ns, ref.Name)
			}
			var out []backend
			for _, d := range table.Spec.Routes[0].Action.Destination.Destinations {
				b, err := g.upstream(ctx, d.Destination.Upstream, d.Weight)
				if err != nil {
					return nil, err
				}
				out = append(out, b)
			}
			return out, nil
		}
	}
	return nil, nil
}

func (g *gatewayStandIn) upstream(ctx context.Context, ref gloogatewayv1.ResourceRef, weight uint32) (backend, error) {
	var up gloov1.Upstream
	if err := g.routes.get(ctx, upstreamsGVR, ref.Namespace, ref.Name, &up); err != nil {
		return backend{}, fmt.Errorf("upstream %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	if up.Spec.Kube == nil {
		return backend{}, fmt.Errorf("upstream %s/%s is not a kube upstream", ref.Namespace, ref.Name)
	}
	svc, err := g.routes.service(up.Spec.Kube.ServiceNamespace, up.Spec.Kube.ServiceName)
	if err != nil {
		return backend{}, err
	}
	// Gloo names an upstream's Envoy cluster <name>_<namespace>.
	return backend{cluster: ref.Name + "_" + ref.Namespace, service: svc, port: up.Spec.Kube.ServicePort, weight: weight}, nil
}

func (g *gatewayStandIn) httpRoute(ctx context.Context, host string) ([]backend, error) {
	list, err := g.routes.list(ctx, httpRoutesGVR)
	if err != nil {
		return nil, err
	}
	for _, item := range list {
		var route gatewayapiv1.HTTPRoute
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, &route); err != nil {
			return nil, err
		}
		hostnames := make([]string, len(route.Spec.Hostnames))
		for i, h := range route.Spec.Hostnames {
			hostnames[i] = string(h)
		}
		if !hostMatches(hostnames, host) || len(route.Spec.Rules) == 0 {
			continue
		}
		// Flagger's rules: with a header match first (A/B), the plain weighted rule last; the stand-in takes the
		// first rule without matches on headers.
		rules := route.Spec.Rules
		i := slices.IndexFunc(rules, func(r gatewayapiv1.HTTPRouteRule) bool {
			return !slices.ContainsFunc(r.Matches, func(m gatewayapiv1.HTTPRouteMatch) bool { return len(m.Headers) > 0 })
		})
		if i < 0 {
			return nil, errors.New("HTTPRoute " + route.Name + " has no rule without header matches")
		}
		var out []backend
		for _, ref := range rules[i].BackendRefs {
			ns := route.Namespace
			if ref.Namespace != nil {
				ns = string(*ref.Namespace)
			}
			svc, err := g.routes.service(ns, string(ref.Name))
			if err != nil {
				return nil, err
			}
			weight := uint32(1)
			if ref.Weight != nil {
				weight = uint32(*ref.Weight)
			}
			var port int32
			if ref.Port != nil {
				port = int32(*ref.Port)
			}
			out = append(out, backend{cluster: ns + "_" + svc.Name, service: svc, port: port, weight: weight})
		}
		return out, nil
	}
	return nil, nil
}
