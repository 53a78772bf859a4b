package simcluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"time"

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
// request by its Host header through the watched objects (routeObjects), matching routes as Envoy configured by
// the ingress's controller would (routing.go) —
// Gloo: the VirtualService with that domain, its routes in order with the RouteTable it delegates to in place,
// the first whose matchers (path, method, headers with Flagger's cookie regex) match; Gateway API: the HTTPRoute
// rules with that hostname, by the Gateway API's precedence, with their response-header and mirror filters — and
// forwards to the Services' ready endpoints at the weights Flagger wrote. A request no route matches gets Envoy's
// 404. It counts every answer under the names and labels Gloo's Envoy exports and Flagger's Gloo queries read
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

func (g *gatewayStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	matched, err := g.route(r.Context(), host, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if matched == nil || len(matched.destinations) == 0 {
		w.WriteHeader(http.StatusNotFound) // Envoy's answer when no virtual host or route matches
		return
	}
	b := pick(matched.destinations)
	if b == nil {
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
		return
	}
	if matched.mirror != nil {
		r = g.mirror(r, *matched.mirror)
	}
	target, svcErr := g.endpoint(*b)
	if svcErr != nil {
		g.record(b.cluster, http.StatusServiceUnavailable, 0)
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
		return
	}
	start := time.Now()
	status := http.StatusBadGateway
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", target
			pr.Out.Host = r.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			status = resp.StatusCode
			for _, add := range []http.Header{matched.addHeaders, b.addHeaders} {
				for name, values := range add {
					for _, v := range values {
						resp.Header.Add(name, v)
					}
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "upstream connect error: "+err.Error(), http.StatusServiceUnavailable)
			status = http.StatusServiceUnavailable
		},
	}
	rp.ServeHTTP(w, r)
	g.record(b.cluster, status, time.Since(start))
}

// endpoint is one ready endpoint of the destination's Service port, chosen at random.
func (g *gatewayStandIn) endpoint(d destination) (string, error) {
	svc, err := g.routes.service(d.namespace, d.service)
	if err != nil {
		return "", err
	}
	endpoints, err := g.proxy.EndpointsForPort(svc, d.port)
	if err != nil {
		return "", err
	}
	if len(endpoints) == 0 {
		return "", errors.New("no ready endpoint")
	}
	return endpoints[rand.IntN(len(endpoints))], nil
}

// mirror sends a copy of r to the mirror destination in the background and drops its answer, as Envoy's request
// mirroring does (its Host gets Envoy's "-shadow" suffix); the copy is counted under the mirror's cluster. It
// returns the request to forward, its body read once for both.
func (g *gatewayStandIn) mirror(r *http.Request, to destination) *http.Request {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return r
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	target, err := g.endpoint(to)
	if err != nil {
		g.record(to.cluster, http.StatusServiceUnavailable, 0)
		return r
	}
	shadow, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method,
		"http://"+target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return r
	}
	shadow.Header = r.Header.Clone()
	shadow.Host = r.Host + "-shadow"
	go func() {
		ctx, cancel := context.WithTimeout(shadow.Context(), 30*time.Second)
		defer cancel()
		start := time.Now()
		resp, err := http.DefaultClient.Do(shadow.WithContext(ctx))
		if err != nil {
			g.record(to.cluster, http.StatusServiceUnavailable, time.Since(start))
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		g.record(to.cluster, resp.StatusCode, time.Since(start))
	}()
	return r
}

func (g *gatewayStandIn) record(cluster string, status int, took time.Duration) {
	g.requests.WithLabelValues(strconv.Itoa(status), cluster).Inc()
	g.times.WithLabelValues(cluster).Observe(float64(took.Microseconds()) / 1000)
}

// pick chooses a destination at random in proportion to the weights, as Envoy's weighted clusters do.
func pick(backends []destination) *destination {
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

// route finds what the route objects do with a request for host: a Gloo VirtualService with that domain first,
// then the HTTPRoutes with that hostname; nil when none serves it.
func (g *gatewayStandIn) route(ctx context.Context, host string, r *http.Request) (*routing, error) {
	list, err := g.routes.list(ctx, virtualServicesGVR)
	if err != nil {
		return nil, err
	}
	getter := func(gvr schema.GroupVersionResource) objectGetter {
		return func(namespace, name string, into any) error { return g.routes.get(ctx, gvr, namespace, name, into) }
	}
	for _, item := range list {
		var vs manifests.GlooVirtualService
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, &vs); err != nil {
			return nil, err
		}
		if hostMatches(vs.Spec.VirtualHost.Domains, host) {
			return glooRouting(vs, r, getter(routeTablesGVR), getter(upstreamsGVR))
		}
	}
	items, err := g.routes.list(ctx, httpRoutesGVR)
	if err != nil {
		return nil, err
	}
	var routes []gatewayapiv1.HTTPRoute
	for _, item := range items {
		var route gatewayapiv1.HTTPRoute
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, &route); err != nil {
			return nil, err
		}
		hostnames := make([]string, len(route.Spec.Hostnames))
		for i, h := range route.Spec.Hostnames {
			hostnames[i] = string(h)
		}
		if len(hostnames) == 0 || hostMatches(hostnames, host) {
			routes = append(routes, route)
		}
	}
	if len(routes) == 0 {
		return nil, nil
	}
	return httpRouteRouting(routes, r), nil
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
