package simcluster

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	gloogatewayv1 "github.com/fluxcd/flagger/pkg/apis/gloo/gateway/v1"
	gloov1 "github.com/fluxcd/flagger/pkg/apis/gloo/gloo/v1"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The stand-in's route matching is fed the objects Flagger 1.36.1's routers write during an analysis, built here
// as pkg/router/gloo.go and gateway_api.go build them (Flagger's router package itself does not compile against
// this module's Kubernetes API: its KEDA types need autoscaling/v2beta2, removed in k8s.io/api v0.37). The real
// Flagger drives the same routing in the real-engine suite.

// flaggerRouter holds one service's route objects as Flagger wrote them, with the canary at a weight.
type flaggerRouter struct {
	t       *testing.T
	service manifests.Service
	// cookie is the session-affinity cookie Flagger chose (Canary status.sessionAffinityCookie).
	cookie    string
	table     gloogatewayv1.RouteTable
	upstreams map[string]gloov1.Upstream
	route     gatewayapiv1.HTTPRoute
}

func routeWithFlagger(t *testing.T, s manifests.Service, in manifests.Ingress, primaryWeight, canaryWeight int, mirrored bool) *flaggerRouter {
	t.Helper()
	canary := manifests.Canary(manifests.CanaryParams{Service: s, Ingress: in, LoadTesterURL: "http://flagger-loadtester." + s.Namespace + "/"})
	f := &flaggerRouter{t: t, service: s, upstreams: map[string]gloov1.Upstream{}}
	primary, canarySvc := s.Name+"-primary", s.Name+"-canary"
	if in.Name() == manifests.IngressGloo {
		// GlooRouter.SetRoutes: one route, the analysis' header matchers, primary and canary upstreams weighted.
		upstream := func(svc, kind string) string {
			name := fmt.Sprintf("%s-%s-%supstream-%d", s.Namespace, s.Name, kind, s.Port)
			f.upstreams[name] = gloov1.Upstream{Spec: gloov1.UpstreamSpec{Kube: &gloov1.KubeUpstream{
				ServiceName: svc, ServiceNamespace: s.Namespace, ServicePort: s.Port}}}
			return name
		}
		var headers []gloogatewayv1.HeaderMatcher
		for _, m := range canary.Spec.Analysis.Match {
			for name, match := range m.Headers {
				h := gloogatewayv1.HeaderMatcher{Name: name, Value: match.Exact}
				if match.Regex != "" {
					h = gloogatewayv1.HeaderMatcher{Name: name, Value: match.Regex, Regex: true}
				}
				headers = append(headers, h)
			}
		}
		route := gloogatewayv1.Route{InheritablePathMatchers: true, Action: gloogatewayv1.RouteAction{
			Destination: gloogatewayv1.MultiDestination{Destinations: []gloogatewayv1.WeightedDestination{
				{Destination: gloogatewayv1.Destination{Upstream: gloogatewayv1.ResourceRef{Name: upstream(primary, "primary"), Namespace: s.Namespace}}, Weight: uint32(primaryWeight)},
				{Destination: gloogatewayv1.Destination{Upstream: gloogatewayv1.ResourceRef{Name: upstream(canarySvc, "canary"), Namespace: s.Namespace}}, Weight: uint32(canaryWeight)},
			}}}}
		if len(headers) > 0 {
			route.Matchers = []gloogatewayv1.Matcher{{Headers: headers}}
		}
		f.table = gloogatewayv1.RouteTable{Spec: gloogatewayv1.RouteTableSpec{Routes: []gloogatewayv1.Route{route}}}
		return f
	}
	// GatewayAPIRouter.SetRoutes: the weighted rule on PathPrefix "/"; a mirror filter while mirroring; for session
	// affinity a sticky rule on the cookie first and Set-Cookie on the canary's answers; for an A/B test the
	// analysis' matches on the first rule and a primary-only rule after it.
	prefix, regex := gatewayapiv1.PathMatchPathPrefix, gatewayapiv1.HeaderMatchRegularExpression
	slash := "/"
	root := []gatewayapiv1.HTTPRouteMatch{{Path: &gatewayapiv1.HTTPPathMatch{Type: &prefix, Value: &slash}}}
	port := gatewayapiv1.PortNumber(s.Port)
	ref := func(name string, weight int) gatewayapiv1.HTTPBackendRef {
		w := int32(weight)
		return gatewayapiv1.HTTPBackendRef{BackendRef: gatewayapiv1.BackendRef{Weight: &w,
			BackendObjectReference: gatewayapiv1.BackendObjectReference{Name: gatewayapiv1.ObjectName(name), Port: &port}}}
	}
	weighted := gatewayapiv1.HTTPRouteRule{Matches: root, BackendRefs: []gatewayapiv1.HTTPBackendRef{ref(primary, primaryWeight), ref(canarySvc, canaryWeight)}}
	if mirrored && canary.Spec.Analysis.Iterations > 0 {
		weighted.Filters = append(weighted.Filters, gatewayapiv1.HTTPRouteFilter{Type: gatewayapiv1.HTTPRouteFilterRequestMirror,
			RequestMirror: &gatewayapiv1.HTTPRequestMirrorFilter{BackendRef: gatewayapiv1.BackendObjectReference{Name: gatewayapiv1.ObjectName(canarySvc), Port: &port}}})
	}
	rules := []gatewayapiv1.HTTPRouteRule{weighted}
	if affinity := canary.Spec.Analysis.SessionAffinity; affinity != nil && canaryWeight > 0 {
		f.cookie = affinity.CookieName + "=Xq3vKp0Lm"
		name, value, _ := strings.Cut(f.cookie, "=")
		weighted.BackendRefs[1].Filters = []gatewayapiv1.HTTPRouteFilter{{Type: gatewayapiv1.HTTPRouteFilterResponseHeaderModifier,
			ResponseHeaderModifier: &gatewayapiv1.HTTPHeaderFilter{Add: []gatewayapiv1.HTTPHeader{{Name: "Set-Cookie", Value: f.cookie + "; Max-Age=86400"}}}}}
		sticky := gatewayapiv1.HTTPRouteRule{
			Matches: []gatewayapiv1.HTTPRouteMatch{{Path: root[0].Path, Headers: []gatewayapiv1.HTTPHeaderMatch{
				{Type: &regex, Name: "Cookie", Value: fmt.Sprintf(".*%s.*%s.*", name, value)}}}},
			BackendRefs: []gatewayapiv1.HTTPBackendRef{ref(primary, 0), ref(canarySvc, 100)}}
		rules = []gatewayapiv1.HTTPRouteRule{sticky, weighted}
	}
	if len(canary.Spec.Analysis.Match) > 0 {
		var matches []gatewayapiv1.HTTPRouteMatch
		for _, m := range canary.Spec.Analysis.Match {
			var headers []gatewayapiv1.HTTPHeaderMatch
			for name, match := range m.Headers {
				h := gatewayapiv1.HTTPHeaderMatch{Name: gatewayapiv1.HTTPHeaderName(name), Value: match.Exact}
				if match.Regex != "" {
					h = gatewayapiv1.HTTPHeaderMatch{Type: &regex, Name: gatewayapiv1.HTTPHeaderName(name), Value: match.Regex}
				}
				headers = append(headers, h)
			}
			matches = append(matches, gatewayapiv1.HTTPRouteMatch{Path: root[0].Path, Headers: headers})
		}
		rules[0].Matches = matches
		rules = append(rules, gatewayapiv1.HTTPRouteRule{Matches: root, BackendRefs: []gatewayapiv1.HTTPBackendRef{ref(primary, 100)}})
	}
	f.route = gatewayapiv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace},
		Spec: gatewayapiv1.HTTPRouteSpec{Hostnames: []gatewayapiv1.Hostname{gatewayapiv1.Hostname(s.Host)}, Rules: rules}}
	return f
}

func (f *flaggerRouter) tables(_, _ string, into any) error {
	*into.(*gloogatewayv1.RouteTable) = f.table
	return nil
}

func (f *flaggerRouter) upstream(_, name string, into any) error {
	up, ok := f.upstreams[name]
	if !ok {
		return errors.New("no upstream " + name)
	}
	*into.(*gloov1.Upstream) = up
	return nil
}

// take is where a request goes: the services that can answer it with their shares in percent, the mirror's, and
// the response headers added by the services that can answer.
func (f *flaggerRouter) take(in manifests.Ingress, header http.Header) (weights map[string]uint32, mirror string, addHeaders http.Header) {
	f.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://"+f.service.Host+"/", nil)
	r.Header = header
	var matched *routing
	if in.Name() == manifests.IngressGloo {
		vs := in.Route(&f.service).(*manifests.GlooVirtualService)
		var err error
		matched, err = glooRouting(*vs, r, f.tables, f.upstream)
		require.NoError(f.t, err)
	} else {
		matched = httpRouteRouting([]gatewayapiv1.HTTPRoute{f.route}, r)
	}
	if matched == nil {
		return nil, "", nil
	}
	weights = map[string]uint32{}
	addHeaders = http.Header{}
	var total uint32
	for _, d := range matched.destinations {
		total += d.weight
	}
	for _, d := range matched.destinations {
		if d.weight > 0 {
			weights[d.service] = d.weight * 100 / total
			for k, v := range d.addHeaders {
				addHeaders[k] = append(addHeaders[k], v...)
			}
		}
	}
	if matched.mirror != nil {
		mirror = matched.mirror.service
	}
	return weights, mirror, addHeaders
}

func shop(strategy string) manifests.Service {
	return manifests.Service{Name: "cart", Namespace: "shop", Host: "cart.example.com", Port: 8080, Strategy: strategy,
		Analysis: manifests.Analysis{Interval: "10s", Threshold: 2, StepWeight: 10, MaxWeight: 50, Iterations: 5,
			SuccessRateMin: 99, LatencyMaxMs: 500},
		Match: []manifests.Match{{Header: "X-Canary", Value: "insider"}, {Cookie: "canary=always"}}, Gate: manifests.GateNone}
}

// TestRouting_ABTestSendsOnlyMatchingRequestsToTheCanary: on the Gateway API a header or a cookie (any match); on
// Gloo, which takes one match, a header, and a cookie in another service.
func TestRouting_ABTestSendsOnlyMatchingRequestsToTheCanary(t *testing.T) {
	t.Parallel()
	canaryOnly := map[string]uint32{"cart-canary": 100}
	primaryOnly := map[string]uint32{"cart-primary": 100}
	header, cookie := manifests.Match{Header: "X-Canary", Value: "insider"}, manifests.Match{Cookie: "canary=always"}
	for _, c := range []struct {
		ingress string
		matches [][]manifests.Match
	}{
		{manifests.IngressGatewayAPI, [][]manifests.Match{{header, cookie}}},
		{manifests.IngressGloo, [][]manifests.Match{{header}, {cookie}}},
	} {
		in := manifests.MustIngress(c.ingress)
		for _, matches := range c.matches {
			s := shop(manifests.StrategyABTest)
			s.Match = matches
			// During an A/B analysis Flagger sets the matched route to the canary alone.
			f := routeWithFlagger(t, s, in, 0, 100, false)
			withHeader := slices.Contains(matches, header)
			withCookie := slices.Contains(matches, cookie)
			expect := func(matched bool) map[string]uint32 {
				if matched {
					return canaryOnly
				}
				return primaryOnly
			}
			got, _, _ := f.take(in, http.Header{"X-Canary": {"insider"}})
			assert.Equal(t, expect(withHeader), got, "%s %v: the header", c.ingress, matches)
			got, _, _ = f.take(in, http.Header{"Cookie": {"session=1; canary=always; theme=dark"}})
			assert.Equal(t, expect(withCookie), got, "%s %v: the cookie, among others", c.ingress, matches)
			got, _, _ = f.take(in, http.Header{"Cookie": {"canary=always"}})
			assert.Equal(t, expect(withCookie), got, "%s %v: the cookie alone", c.ingress, matches)
			got, _, _ = f.take(in, http.Header{"Cookie": {"canary=alwaysnot"}})
			assert.Equal(t, primaryOnly, got, "%s %v: another cookie value", c.ingress, matches)
			got, _, _ = f.take(in, http.Header{"X-Canary": {"outsider"}})
			assert.Equal(t, primaryOnly, got, "%s %v: another header value", c.ingress, matches)
			got, _, _ = f.take(in, http.Header{})
			assert.Equal(t, primaryOnly, got, "%s %v: neither", c.ingress, matches)
		}
	}
}

// TestRouting_GlooABTestWithoutTheFallbackRouteIs404: what the VirtualService's second route is for: Flagger's
// RouteTable alone matches nothing without the header.
func TestRouting_GlooABTestWithoutTheFallbackRouteIs404(t *testing.T) {
	t.Parallel()
	in := manifests.MustIngress(manifests.IngressGloo)
	f := routeWithFlagger(t, shop(manifests.StrategyABTest), in, 0, 100, false)
	vs := in.Route(&f.service).(*manifests.GlooVirtualService)
	vs.Spec.VirtualHost.Routes = vs.Spec.VirtualHost.Routes[:1]
	matched, err := glooRouting(*vs, httptest.NewRequest(http.MethodGet, "http://cart.example.com/", nil), f.tables, f.upstream)
	require.NoError(t, err)
	assert.Nil(t, matched)
}

func TestRouting_WeightedAndBlueGreen(t *testing.T) {
	t.Parallel()
	for _, name := range manifests.Ingresses {
		in := manifests.MustIngress(name)
		t.Run(name, func(t *testing.T) {
			got, _, _ := routeWithFlagger(t, shop(manifests.StrategyCanary), in, 70, 30, false).take(in, http.Header{})
			assert.Equal(t, map[string]uint32{"cart-primary": 70, "cart-canary": 30}, got)
			// Blue/green: Flagger keeps every request on the primary until it promotes.
			got, _, _ = routeWithFlagger(t, shop(manifests.StrategyBlueGreen), in, 100, 0, false).take(in, http.Header{"X-Canary": {"insider"}})
			assert.Equal(t, map[string]uint32{"cart-primary": 100}, got)
		})
	}
}

func TestRouting_GatewayAPIMirrorsToTheCanary(t *testing.T) {
	t.Parallel()
	in := manifests.MustIngress(manifests.IngressGatewayAPI)
	got, mirror, _ := routeWithFlagger(t, shop(manifests.StrategyMirror), in, 100, 0, true).take(in, http.Header{})
	assert.Equal(t, map[string]uint32{"cart-primary": 100}, got)
	assert.Equal(t, "cart-canary", mirror, "a copy of each request")
	_, mirror, _ = routeWithFlagger(t, shop(manifests.StrategyMirror), in, 100, 0, false).take(in, http.Header{})
	assert.Empty(t, mirror, "once Flagger stops mirroring")
}

func TestRouting_GatewayAPISessionAffinityKeepsTheCookieHolderOnTheCanary(t *testing.T) {
	t.Parallel()
	in := manifests.MustIngress(manifests.IngressGatewayAPI)
	f := routeWithFlagger(t, shop(manifests.StrategySessionAffinity), in, 90, 10, false)
	cookie := f.cookie
	require.Contains(t, cookie, manifests.SessionCookie+"=")

	got, _, added := f.take(in, http.Header{})
	assert.Equal(t, map[string]uint32{"cart-primary": 90, "cart-canary": 10}, got, "a new client: the weights")
	assert.Contains(t, added.Get("Set-Cookie"), cookie, "the canary's answers set the cookie")
	got, _, _ = f.take(in, http.Header{"Cookie": {"theme=dark; " + cookie}})
	assert.Equal(t, map[string]uint32{"cart-canary": 100}, got, "the cookie's holder stays on the canary")
}

// TestRouting_GatewayAPIPrecedence: an exact path before a prefix, a longer prefix before a shorter, more header
// matches before fewer, then the rules' order; no match is nil (404).
func TestRouting_GatewayAPIPrecedence(t *testing.T) {
	t.Parallel()
	exact, prefix := gatewayapiv1.PathMatchExact, gatewayapiv1.PathMatchPathPrefix
	path := func(kind gatewayapiv1.PathMatchType, value string) *gatewayapiv1.HTTPPathMatch {
		return &gatewayapiv1.HTTPPathMatch{Type: &kind, Value: &value}
	}
	rule := func(service string, m gatewayapiv1.HTTPRouteMatch) gatewayapiv1.HTTPRouteRule {
		return gatewayapiv1.HTTPRouteRule{Matches: []gatewayapiv1.HTTPRouteMatch{m},
			BackendRefs: []gatewayapiv1.HTTPBackendRef{{BackendRef: gatewayapiv1.BackendRef{BackendObjectReference: gatewayapiv1.BackendObjectReference{Name: gatewayapiv1.ObjectName(service)}}}}}
	}
	route := gatewayapiv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "shop"}, Spec: gatewayapiv1.HTTPRouteSpec{Rules: []gatewayapiv1.HTTPRouteRule{
		rule("root", gatewayapiv1.HTTPRouteMatch{Path: path(prefix, "/")}),
		rule("api", gatewayapiv1.HTTPRouteMatch{Path: path(prefix, "/api")}),
		rule("api-beta", gatewayapiv1.HTTPRouteMatch{Path: path(prefix, "/api"), Headers: []gatewayapiv1.HTTPHeaderMatch{{Name: "X-Beta", Value: "1"}}}),
		rule("status", gatewayapiv1.HTTPRouteMatch{Path: path(exact, "/api/status")}),
		rule("root-again", gatewayapiv1.HTTPRouteMatch{Path: path(prefix, "/")}),
	}}}
	to := func(target string, header http.Header) string {
		r := httptest.NewRequest(http.MethodGet, "http://cart.example.com"+target, nil)
		r.Header = header
		matched := httpRouteRouting([]gatewayapiv1.HTTPRoute{route}, r)
		if matched == nil {
			return "404"
		}
		return matched.destinations[0].service
	}
	assert.Equal(t, "status", to("/api/status", http.Header{"X-Beta": {"1"}}), "exact path first")
	assert.Equal(t, "api-beta", to("/api/cart", http.Header{"X-Beta": {"1"}}), "then the header match")
	assert.Equal(t, "api", to("/api/cart", nil), "the longest prefix")
	assert.Equal(t, "root", to("/apiary", nil), "prefixes match whole path elements; the first of equal rules")
	route.Spec.Rules = route.Spec.Rules[1:2]
	assert.Equal(t, "404", to("/other", nil))
}
