package manifests

import (
	"fmt"
	"slices"
	"strings"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	gatewayv1beta1 "github.com/fluxcd/flagger/pkg/apis/gatewayapi/v1beta1"
)

// Ingresses: where traffic enters the cluster, and so which Flagger router shifts it.
const (
	// IngressGloo is the walkthrough's Gloo Edge: a VirtualService delegating to the RouteTable Flagger weights.
	IngressGloo = "gloo"
	// IngressGatewayAPI is kgateway on the Kubernetes Gateway API: Flagger weights an HTTPRoute's backendRefs.
	IngressGatewayAPI = "gatewayapi"
)

// Ingresses are the ingress choices.
var Ingresses = []string{IngressGloo, IngressGatewayAPI}

// GatewayName is the public gateway: Gloo's gateway-proxy Service, or the Gateway API Gateway of that name (kgateway
// names its proxy Service after the Gateway), so the load test's address reads the same on both ingresses.
const GatewayName = "gateway-proxy"

// Ingress is one ingress, chosen once from config: everything that differs between Gloo Edge and the Gateway API
// is answered here, as Flagger's router.Factory answers it per provider, so no caller compares ingress names.
type Ingress interface {
	// Name is the config value: one of Ingresses.
	Name() string
	// Namespace is where the platform installs the ingress and Flagger.
	Namespace() string
	// Provider is Flagger's provider: the Canary's spec.provider and the chart's meshProvider.
	Provider() string
	// Strategies are the deployment strategies Flagger 1.36.1's router for this provider implements.
	Strategies() []string
	// Route is the object that sends the service's host to the route Flagger weights, or nil when Flagger
	// writes the whole route itself.
	Route(s *Service) any
	// routeCanary adds what the Canary needs to route on this ingress.
	routeCanary(c *flaggerv1.Canary, s *Service)
	// NeedsPodChecks reports whether a release of this strategy needs its success rate and latency measured on the
	// new version's pods' own metrics (PodCheckTemplates), Flagger's built-in checks for this provider reading
	// gateway traffic the release does not get.
	NeedsPodChecks(strategy string) bool
	// MatchesAny reports whether an A/B test's matches are alternatives, any one of them sending a request to the
	// new version; false: the router requires all of them at once, so a service may have only one.
	MatchesAny() bool
	// GatewayPodLabels select the gateway's proxy pods in Namespace, for the NetworkPolicy that lets them reach
	// the services; nil: any pod of Namespace.
	GatewayPodLabels() map[string]string
}

// IngressFor returns the ingress of a config value.
func IngressFor(name string) (Ingress, error) {
	switch name {
	case IngressGloo:
		return glooEdge{}, nil
	case IngressGatewayAPI:
		return gatewayAPI{}, nil
	}
	return nil, fmt.Errorf("ingress: want one of %s, got %q", strings.Join(Ingresses, ", "), name)
}

// MustIngress is IngressFor for a name already validated.
func MustIngress(name string) Ingress {
	in, err := IngressFor(name)
	if err != nil {
		panic(err)
	}
	return in
}

// GatewayURL is the in-cluster URL of the ingress's gateway proxy, where load tests send their traffic.
func GatewayURL(in Ingress) string { return "http://" + GatewayName + "." + in.Namespace() }

// PrometheusURL is the in-cluster address of the Prometheus the Flagger chart installs (release "flagger").
func PrometheusURL(in Ingress) string { return "http://flagger-prometheus." + in.Namespace() + ":9090" }

// Supports reports whether the ingress's router implements the strategy, and if not, says what it does implement.
func Supports(in Ingress, strategy string) error {
	if slices.Contains(in.Strategies(), strategy) {
		return nil
	}
	return fmt.Errorf("ingress %s (Flagger provider %s) does not support strategy %s; it supports %s",
		in.Name(), in.Provider(), strategy, strings.Join(in.Strategies(), ", "))
}

type glooEdge struct{}

func (glooEdge) Name() string      { return IngressGloo }
func (glooEdge) Namespace() string { return "gloo-system" }
func (glooEdge) Provider() string  { return flaggerv1.GlooProvider }

// Strategies: Flagger 1.36.1's pkg/router/gloo.go weights a RouteTable and copies the analysis' header matches
// (exact and regex, so cookies too, as a regex on the Cookie header) into its matchers; it has no mirror and no
// session affinity.
func (glooEdge) Strategies() []string {
	return []string{StrategyCanary, StrategyABTest, StrategyBlueGreen}
}

// Route is a VirtualService for the host delegating every path to the RouteTable Flagger creates. For an A/B
// test it also routes what the RouteTable does not match to the primary: Flagger's RouteTable then holds one
// route, with the analysis' matchers (pkg/router/gloo.go, in 1.36.1 as on main), so without this route Envoy
// would answer 404 to every request without the header or cookie.
func (glooEdge) Route(s *Service) any {
	vs := VirtualService(VirtualServiceParams{Name: s.Name, Namespace: s.Namespace, Domain: s.Host})
	if s.Strategy == StrategyABTest {
		primary := fmt.Sprintf("%s-%s-primaryupstream-%d", s.Namespace, s.Name, s.Port) // the upstream Flagger creates
		vs.Spec.VirtualHost.Routes = append(vs.Spec.VirtualHost.Routes, GlooRoute{
			Name: "primary", Matchers: []GlooMatcher{{Prefix: "/"}},
			RouteAction: &GlooRouteAction{Single: &GlooDestination{Upstream: &GlooResourceRef{Name: primary, Namespace: s.Namespace}}},
		})
	}
	return vs
}

func (glooEdge) routeCanary(*flaggerv1.Canary, *Service) {}

// NeedsPodChecks: Flagger's Gloo checks read the gateway's requests to the canary's upstream, and a blue/green
// release has none (the load test calls the canary's Service), so it is measured on its pods' own metrics.
func (glooEdge) NeedsPodChecks(strategy string) bool { return strategy == StrategyBlueGreen }

// MatchesAny: Flagger's Gloo router puts the headers of every match into one Gloo matcher (getHeaderMatchers), so
// a request would need them all.
func (glooEdge) MatchesAny() bool { return false }

// GatewayPodLabels are the gateway-proxy Deployment's pod labels in the Gloo chart (7-gateway-proxy-deployment.yaml).
func (glooEdge) GatewayPodLabels() map[string]string {
	return map[string]string{"gloo": "gateway-proxy"}
}

type gatewayAPI struct{}

func (gatewayAPI) Name() string      { return IngressGatewayAPI }
func (gatewayAPI) Namespace() string { return "kgateway-system" }
func (gatewayAPI) Provider() string  { return "gatewayapi:v1" }

// Strategies: Flagger 1.36.1's pkg/router/gateway_api.go also mirrors to the canary (a RequestMirror filter) and
// keeps a client on the canary with a session cookie.
func (gatewayAPI) Strategies() []string {
	return []string{StrategyCanary, StrategyABTest, StrategyBlueGreen, StrategyMirror, StrategySessionAffinity}
}

// NeedsPodChecks: Flagger's built-in Gateway API checks already read the pods' own metrics.
func (gatewayAPI) NeedsPodChecks(string) bool { return false }

// MatchesAny: Flagger's Gateway API router makes each match an HTTPRouteMatch of the canary's rule.
func (gatewayAPI) MatchesAny() bool { return true }

// GatewayPodLabels is nil: kgateway creates the proxy for a Gateway itself, and its pod labels are not pinned by
// anything this program installs, so the policy admits the ingress namespace as a whole.
func (gatewayAPI) GatewayPodLabels() map[string]string { return nil }

// Route is nil: Flagger generates the HTTPRoute from the Canary's gatewayRefs and hosts.
func (gatewayAPI) Route(*Service) any { return nil }

// abTestRouteTimeout is Envoy's default route timeout, set explicitly on a Gateway API A/B test's Canary.
const abTestRouteTimeout = "15s"

// routeCanary attaches Flagger's HTTPRoute to the public Gateway, for the service's host. An A/B test also gets
// spec.service.timeout: Flagger 1.36.1's SetRoutes gives the A/B test's primary-only rule timeouts.request from
// it even when it is empty, and the HTTPRoute's schema refuses "" (seen on the simulated cluster: every weight
// change failed with "spec.rules[1].timeouts.request ... should match"). Envoy's default changes nothing else.
func (g gatewayAPI) routeCanary(c *flaggerv1.Canary, s *Service) {
	gw := PublicGatewayRef(g)
	ns := gatewayv1beta1.Namespace(gw.Namespace)
	c.Spec.Service.GatewayRefs = []gatewayv1beta1.ParentReference{{Name: gatewayv1beta1.ObjectName(gw.Name), Namespace: &ns}}
	c.Spec.Service.Hosts = []string{s.Host}
	if s.Strategy == StrategyABTest {
		c.Spec.Service.Timeout = abTestRouteTimeout
	}
}

// PublicGatewayRef is the Gateway API Gateway Canaries' HTTPRoutes attach to.
func PublicGatewayRef(in Ingress) Gateway {
	return Gateway{Namespace: in.Namespace(), Name: GatewayName}
}
