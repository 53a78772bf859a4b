package simcluster

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	gloogatewayv1 "github.com/fluxcd/flagger/pkg/apis/gloo/gateway/v1"
	gloov1 "github.com/fluxcd/flagger/pkg/apis/gloo/gloo/v1"
	"github.com/progressive-delivery/platform/manifests"
	gatewayapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The gateway stand-in's route matching, as Envoy does it once the ingress's controller has translated the route
// objects: which route (and so which weighted destinations, mirror and response headers) a request takes. It reads
// the objects Flagger writes (pkg/router/gloo.go and gateway_api.go of v1.36.1); the tests feed it Flagger's own
// router's output.

// destination is one weighted destination of the matched route, before its Service is resolved.
type destination struct {
	cluster            string // Envoy's cluster name, which the metrics carry
	namespace, service string
	port               int32
	weight             uint32
	// addHeaders are response headers added when this destination answers (a backendRef's filter).
	addHeaders http.Header
}

// routing is what the matched route does with a request.
type routing struct {
	destinations []destination
	// mirror, when set, receives a copy of the request whose answer is dropped (a RequestMirror filter).
	mirror *destination
	// addHeaders are response headers the route adds whichever destination answers.
	addHeaders http.Header
}

// objectGetter reads the object namespace/name into a typed value.
type objectGetter func(namespace, name string, into any) error

// glooRouting is the route Envoy takes on a Gloo VirtualService whose domain matched: its routes in order, a
// delegating route replaced by its RouteTable's routes (Gloo flattens delegation into the virtual host's route
// list), the first route whose matchers match the request. nil: no route matches (Envoy's 404).
func glooRouting(vs manifests.GlooVirtualService, r *http.Request, routeTable, upstream objectGetter) (*routing, error) {
	for _, route := range vs.Spec.VirtualHost.Routes {
		if !glooPathMatches(route.Matchers, r) {
			continue
		}
		switch {
		case route.DelegateAction != nil && route.DelegateAction.Ref != nil:
			ref := route.DelegateAction.Ref
			ns := ref.Namespace
			if ns == "" {
				ns = vs.Namespace
			}
			var table gloogatewayv1.RouteTable
			if err := routeTable(ns, ref.Name, &table); err != nil {
				return nil, fmt.Errorf("route table %s/%s: %w", ns, ref.Name, err)
			}
			for _, child := range table.Spec.Routes {
				if !glooMatchersMatch(child.Matchers, r) {
					continue
				}
				out := &routing{}
				for _, d := range child.Action.Destination.Destinations {
					dest, err := glooUpstream(d.Destination.Upstream.Namespace, d.Destination.Upstream.Name, d.Weight, upstream)
					if err != nil {
						return nil, err
					}
					out.destinations = append(out.destinations, dest)
				}
				return out, nil
			}
		case route.RouteAction != nil && route.RouteAction.Single != nil && route.RouteAction.Single.Upstream != nil:
			ref := route.RouteAction.Single.Upstream
			dest, err := glooUpstream(ref.Namespace, ref.Name, 1, upstream)
			if err != nil {
				return nil, err
			}
			return &routing{destinations: []destination{dest}}, nil
		}
	}
	return nil, nil
}

func glooUpstream(namespace, name string, weight uint32, get objectGetter) (destination, error) {
	var up gloov1.Upstream
	if err := get(namespace, name, &up); err != nil {
		return destination{}, fmt.Errorf("upstream %s/%s: %w", namespace, name, err)
	}
	if up.Spec.Kube == nil {
		return destination{}, fmt.Errorf("upstream %s/%s is not a kube upstream", namespace, name)
	}
	// Gloo names an upstream's Envoy cluster <name>_<namespace>.
	return destination{cluster: name + "_" + namespace, namespace: up.Spec.Kube.ServiceNamespace,
		service: up.Spec.Kube.ServiceName, port: up.Spec.Kube.ServicePort, weight: weight}, nil
}

// glooPathMatches: a VirtualService route's matchers, on path and method; none is Gloo's default, prefix "/".
func glooPathMatches(matchers []manifests.GlooMatcher, r *http.Request) bool {
	if len(matchers) == 0 {
		return true
	}
	return slices.ContainsFunc(matchers, func(m manifests.GlooMatcher) bool {
		switch {
		case m.Exact != "" && r.URL.Path != m.Exact,
			m.Regex != "" && !fullMatch(m.Regex, r.URL.Path),
			m.Prefix != "" && !strings.HasPrefix(r.URL.Path, m.Prefix),
			len(m.Methods) > 0 && !slices.Contains(m.Methods, r.Method):
			return false
		}
		return true
	})
}

// glooMatchersMatch: a RouteTable route matches if any of its matchers does (none: every request, the path being
// inherited from the delegating route); a matcher needs all its headers, query parameters and one of its methods.
func glooMatchersMatch(matchers []gloogatewayv1.Matcher, r *http.Request) bool {
	if len(matchers) == 0 {
		return true
	}
	return slices.ContainsFunc(matchers, func(m gloogatewayv1.Matcher) bool {
		if len(m.Methods) > 0 && !slices.Contains(m.Methods, r.Method) {
			return false
		}
		for _, h := range m.Headers {
			values, present := r.Header[http.CanonicalHeaderKey(h.Name)]
			value := strings.Join(values, ",")
			var ok bool
			switch {
			case h.Value == "": // presence
				ok = present
			case h.Regex:
				ok = present && fullMatch(h.Value, value)
			default:
				ok = present && value == h.Value
			}
			if ok == h.InvertMatch {
				return false
			}
		}
		for _, q := range m.QueryParameterMatchers {
			value, present := r.URL.Query()[q.Name]
			if !present || (q.Regex && !fullMatch(q.Value, value[0])) || (!q.Regex && q.Value != "" && value[0] != q.Value) {
				return false
			}
		}
		return true
	})
}

// fullMatch is Envoy's safe_regex match: RE2, the whole value.
func fullMatch(pattern, value string) bool {
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	return err == nil && re.MatchString(value)
}

// httpRouteCandidate is one match of one rule that a request satisfies.
type httpRouteCandidate struct {
	route *gatewayapiv1.HTTPRoute
	rule  int
	match gatewayapiv1.HTTPRouteMatch
}

// httpRouteRouting is the rule a request takes among the HTTPRoutes whose hostnames matched: of every rule's
// matches the request satisfies, the one the Gateway API's precedence puts first (HTTPRouteRule's documentation:
// an exact path, then the longest prefix, then a method, then the most header matches, then the most query
// matches; then the oldest route, then namespace/name, then the rule's order). nil: nothing matches (Envoy's 404).
func httpRouteRouting(routes []gatewayapiv1.HTTPRoute, r *http.Request) *routing {
	var best *httpRouteCandidate
	for i := range routes {
		route := &routes[i]
		for ruleIndex, rule := range route.Spec.Rules {
			matches := rule.Matches
			if len(matches) == 0 {
				matches = []gatewayapiv1.HTTPRouteMatch{{}}
			}
			for _, m := range matches {
				if !httpMatch(m, r) {
					continue
				}
				c := &httpRouteCandidate{route: route, rule: ruleIndex, match: m}
				if best == nil || precedes(c, best) {
					best = c
				}
			}
		}
	}
	if best == nil {
		return nil
	}
	rule := best.route.Spec.Rules[best.rule]
	out := &routing{addHeaders: http.Header{}}
	for _, ref := range rule.BackendRefs {
		dest := backendDestination(best.route.Namespace, ref.BackendObjectReference)
		dest.weight = 1
		if ref.Weight != nil {
			dest.weight = uint32(*ref.Weight)
		}
		dest.addHeaders = http.Header{}
		for _, f := range ref.Filters {
			addResponseHeaders(dest.addHeaders, f)
		}
		out.destinations = append(out.destinations, dest)
	}
	for _, f := range rule.Filters {
		addResponseHeaders(out.addHeaders, f)
		if f.Type == gatewayapiv1.HTTPRouteFilterRequestMirror && f.RequestMirror != nil {
			mirror := backendDestination(best.route.Namespace, f.RequestMirror.BackendRef)
			out.mirror = &mirror
		}
	}
	return out
}

func backendDestination(routeNamespace string, ref gatewayapiv1.BackendObjectReference) destination {
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	var port int32
	if ref.Port != nil {
		port = int32(*ref.Port)
	}
	return destination{cluster: ns + "_" + string(ref.Name), namespace: ns, service: string(ref.Name), port: port}
}

func addResponseHeaders(into http.Header, f gatewayapiv1.HTTPRouteFilter) {
	if f.Type != gatewayapiv1.HTTPRouteFilterResponseHeaderModifier || f.ResponseHeaderModifier == nil {
		return
	}
	for _, h := range f.ResponseHeaderModifier.Add {
		into.Add(string(h.Name), h.Value)
	}
	for _, h := range f.ResponseHeaderModifier.Set {
		into.Set(string(h.Name), h.Value)
	}
}

// httpMatch: path (PathPrefix "/" by default, prefixes by whole path elements), method, every header (Exact by
// default; RegularExpression as Envoy's full match) and every query parameter.
func httpMatch(m gatewayapiv1.HTTPRouteMatch, r *http.Request) bool {
	kind, value := pathOf(m)
	switch kind {
	case gatewayapiv1.PathMatchExact:
		if r.URL.Path != value {
			return false
		}
	case gatewayapiv1.PathMatchRegularExpression:
		if !fullMatch(value, r.URL.Path) {
			return false
		}
	default:
		prefix := strings.TrimSuffix(value, "/")
		if prefix != "" && r.URL.Path != prefix && !strings.HasPrefix(r.URL.Path, prefix+"/") {
			return false
		}
	}
	if m.Method != nil && string(*m.Method) != r.Method {
		return false
	}
	for _, h := range m.Headers {
		values, present := r.Header[http.CanonicalHeaderKey(string(h.Name))]
		value := strings.Join(values, ",")
		if !present {
			return false
		}
		if h.Type != nil && *h.Type == gatewayapiv1.HeaderMatchRegularExpression {
			if !fullMatch(h.Value, value) {
				return false
			}
		} else if value != h.Value {
			return false
		}
	}
	for _, q := range m.QueryParams {
		values, present := r.URL.Query()[string(q.Name)]
		if !present {
			return false
		}
		if q.Type != nil && *q.Type == gatewayapiv1.QueryParamMatchRegularExpression {
			if !fullMatch(q.Value, values[0]) {
				return false
			}
		} else if values[0] != q.Value {
			return false
		}
	}
	return true
}

func pathOf(m gatewayapiv1.HTTPRouteMatch) (gatewayapiv1.PathMatchType, string) {
	kind, value := gatewayapiv1.PathMatchPathPrefix, "/"
	if m.Path != nil {
		if m.Path.Type != nil {
			kind = *m.Path.Type
		}
		if m.Path.Value != nil {
			value = *m.Path.Value
		}
	}
	return kind, value
}

// precedes reports whether candidate a goes before b in the Gateway API's order.
func precedes(a, b *httpRouteCandidate) bool {
	aKind, aPath := pathOf(a.match)
	bKind, bPath := pathOf(b.match)
	if (aKind == gatewayapiv1.PathMatchExact) != (bKind == gatewayapiv1.PathMatchExact) {
		return aKind == gatewayapiv1.PathMatchExact
	}
	if aKind == gatewayapiv1.PathMatchPathPrefix && bKind == gatewayapiv1.PathMatchPathPrefix && len(aPath) != len(bPath) {
		return len(aPath) > len(bPath)
	}
	if (a.match.Method != nil) != (b.match.Method != nil) {
		return a.match.Method != nil
	}
	if len(a.match.Headers) != len(b.match.Headers) {
		return len(a.match.Headers) > len(b.match.Headers)
	}
	if len(a.match.QueryParams) != len(b.match.QueryParams) {
		return len(a.match.QueryParams) > len(b.match.QueryParams)
	}
	if a.route != b.route {
		at, bt := a.route.CreationTimestamp, b.route.CreationTimestamp
		if !at.Equal(&bt) {
			return at.Before(&bt)
		}
		return a.route.Namespace+"/"+a.route.Name < b.route.Namespace+"/"+b.route.Name
	}
	return a.rule < b.rule
}
