package manifests

import (
	"testing"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cart is a service that is not podinfo: its own port, host and namespace.
func cart(strategy string) CanaryParams {
	s := Service{Name: "cart", Namespace: "shop", Host: "cart.example.com", Port: 8080, Strategy: strategy,
		Analysis: Analysis{Interval: "15s", Threshold: 3, MaxWeight: 30, StepWeight: 10, Iterations: 6, SuccessRateMin: 98, LatencyMaxMs: 300},
		LoadTest: "hey -z 1m -q 10 -c 2 -host {host} {gateway}", Gate: GateNone}
	return CanaryParams{Service: s, Ingress: MustIngress(IngressGatewayAPI), LoadTesterURL: "http://flagger-loadtester.shop/"}
}

func TestCanary_AServiceOfItsOwnKeepsItsNamesPortAndHost(t *testing.T) {
	t.Parallel()
	c := Canary(cart(StrategyCanary))
	assert.Equal(t, "cart", c.Name)
	assert.Equal(t, "shop", c.Namespace)
	assert.Equal(t, "cart", c.Spec.TargetRef.Name)
	assert.Equal(t, "cart", c.Spec.AutoscalerRef.Name)
	assert.Equal(t, int32(8080), c.Spec.Service.Port)
	assert.Equal(t, []string{"cart.example.com"}, c.Spec.Service.Hosts)
	assert.Equal(t, 30, c.Spec.Analysis.MaxWeight)
	assert.Equal(t, 10, c.Spec.Analysis.StepWeight)
	assert.Zero(t, c.Spec.Analysis.Iterations, "a weighted strategy runs no iterations")
	assert.Nil(t, c.Spec.ProgressDeadlineSeconds, "Flagger's default")
	s := cart(StrategyCanary)
	s.Service.Analysis.ProgressDeadlineSeconds = 90
	assert.Equal(t, int32(90), *Canary(s).Spec.ProgressDeadlineSeconds)
	require.Len(t, c.Spec.Analysis.Webhooks, 1, "no acceptance test was asked for")
	assert.Equal(t, "hey -z 1m -q 10 -c 2 -host cart.example.com http://gateway-proxy.kgateway-system",
		(*c.Spec.Analysis.Webhooks[0].Metadata)["cmd"])
}

func TestCanary_ABTestMatchesHeaderAndCookieForSomeIterations(t *testing.T) {
	t.Parallel()
	p := cart(StrategyABTest)
	p.Service.Match = []Match{{Header: "X-Canary", Value: "insider"}, {Cookie: "canary=always"}}
	an := Canary(p).Spec.Analysis
	assert.Equal(t, 6, an.Iterations)
	assert.Zero(t, an.MaxWeight)
	assert.Zero(t, an.StepWeight)
	require.Len(t, an.Match, 2)
	assert.Equal(t, "insider", an.Match[0].Headers["x-canary"].Exact, "header names are matched lower-case, as HTTP/2 sends them")
	assert.Equal(t, `^(.*?;\s*)?(canary=always)(;.*)?$`, an.Match[1].Headers["cookie"].Regex, "Flagger's cookie regex, spaces allowed")
	assert.Equal(t, "15s", Canary(p).Spec.Service.Timeout, "Flagger 1.36.1 writes the A/B rule's timeout from it; an empty one is refused")
	assert.Empty(t, Canary(cart(StrategyCanary)).Spec.Service.Timeout, "other strategies keep Envoy's default unset")
}

func TestCanary_BlueGreenMirrorAndSessionAffinity(t *testing.T) {
	t.Parallel()
	bg := Canary(cart(StrategyBlueGreen)).Spec.Analysis
	assert.Equal(t, 6, bg.Iterations)
	assert.False(t, bg.Mirror)
	assert.Empty(t, bg.Match)

	mirror := Canary(cart(StrategyMirror)).Spec.Analysis
	assert.True(t, mirror.Mirror)
	assert.Equal(t, 6, mirror.Iterations, "Flagger mirrors only in iterations mode")

	sticky := Canary(cart(StrategySessionAffinity)).Spec.Analysis
	require.NotNil(t, sticky.SessionAffinity)
	assert.Equal(t, SessionCookie, sticky.SessionAffinity.CookieName)
	assert.Equal(t, 10, sticky.StepWeight)
}

func TestCanary_ManualGateWaitsAtTheLoadTestersGate(t *testing.T) {
	t.Parallel()
	p := cart(StrategyCanary)
	p.Service.Gate = GateManual
	hooks := Canary(p).Spec.Analysis.Webhooks
	require.Len(t, hooks, 3)
	assert.Equal(t, flaggerv1.CanaryWebhook{Name: "approval", Type: flaggerv1.ConfirmPromotionHook, URL: "http://flagger-loadtester.shop/gate/check"}, hooks[1])
	assert.Equal(t, flaggerv1.CanaryWebhook{Name: "rollback", Type: flaggerv1.RollbackHook, URL: "http://flagger-loadtester.shop/rollback/check"}, hooks[2])
}

func TestCanary_OwnChecksAreMetricTemplatesOnThePlatformsPrometheus(t *testing.T) {
	t.Parallel()
	p := cart(StrategyCanary)
	maxErrors := 2.0
	p.Service.Checks = []Check{{Name: "checkout-errors", Query: `sum(rate(checkout_errors_total{namespace="{{ namespace }}"}[{{ interval }}]))`, Max: &maxErrors, Interval: "1m"}}
	metrics := Canary(p).Spec.Analysis.Metrics
	require.Len(t, metrics, 3)
	own := metrics[2]
	assert.Equal(t, "checkout-errors", own.Name, "the check's own name is what Flagger reports")
	assert.Equal(t, &flaggerv1.CrossNamespaceObjectReference{Name: "cart-checkout-errors", Namespace: "shop"}, own.TemplateRef)
	assert.Equal(t, &maxErrors, own.ThresholdRange.Max)
	assert.Nil(t, own.ThresholdRange.Min)

	objs, err := CheckTemplates(&p.Service, p.Ingress)
	require.NoError(t, err)
	require.Len(t, objs, 1)
	spec := objs[0]["spec"].(map[string]any)
	assert.Equal(t, map[string]any{"type": "prometheus", "address": "http://flagger-prometheus.kgateway-system:9090"}, spec["provider"])
	assert.Equal(t, p.Service.Checks[0].Query, spec["query"])
	assert.Equal(t, "cart-checkout-errors", objs[0]["metadata"].(map[string]any)["name"])
}

func TestCanary_ServiceSeverityOverridesTheChannels(t *testing.T) {
	t.Parallel()
	p := cart(StrategyCanary)
	p.Alerts = []Alert{{Name: "slack", Severity: "info"}}
	assert.Equal(t, flaggerv1.AlertSeverity("info"), Canary(p).Spec.Analysis.Alerts[0].Severity)
	p.Service.AlertSeverity = "error"
	assert.Equal(t, flaggerv1.AlertSeverity("error"), Canary(p).Spec.Analysis.Alerts[0].Severity)
}

// TestIngress_StrategiesAsFlaggersRoutersImplementThem: the support table follows Flagger 1.36.1's routers; an
// unsupported strategy is refused naming the ingress and what it supports.
func TestIngress_StrategiesAsFlaggersRoutersImplementThem(t *testing.T) {
	t.Parallel()
	gloo, gw := MustIngress(IngressGloo), MustIngress(IngressGatewayAPI)
	for _, s := range []string{StrategyCanary, StrategyABTest, StrategyBlueGreen} {
		assert.NoError(t, Supports(gloo, s), s)
	}
	for _, s := range Strategies {
		assert.NoError(t, Supports(gw, s), s)
	}
	assert.EqualError(t, Supports(gloo, StrategyMirror),
		"ingress gloo (Flagger provider gloo) does not support strategy mirror; it supports canary, abtest, bluegreen")
	assert.Error(t, Supports(gloo, StrategySessionAffinity))
	_, err := IngressFor("nginx")
	assert.EqualError(t, err, `ingress: want one of gloo, gatewayapi, got "nginx"`)
	assert.Equal(t, "gloo-system", gloo.Namespace())
	assert.Equal(t, "gatewayapi:v1", gw.Provider())
	assert.Nil(t, gw.Route(&Service{Name: "cart"}), "Flagger writes the HTTPRoute itself")
	assert.NotNil(t, gloo.Route(&Service{Name: "cart"}))
}

// TestIngress_GlooABTestRoutesTheUnmatchedToThePrimary: Flagger's A/B RouteTable holds only the matched route, so
// the VirtualService sends everything else to the primary's upstream, after the delegation.
func TestIngress_GlooABTestRoutesTheUnmatchedToThePrimary(t *testing.T) {
	t.Parallel()
	gloo := MustIngress(IngressGloo)
	p := cart(StrategyABTest)
	vs := gloo.Route(&p.Service).(*GlooVirtualService)
	require.Len(t, vs.Spec.VirtualHost.Routes, 2)
	assert.NotNil(t, vs.Spec.VirtualHost.Routes[0].DelegateAction, "the RouteTable Flagger weights comes first")
	fallback := vs.Spec.VirtualHost.Routes[1]
	assert.Equal(t, []GlooMatcher{{Prefix: "/"}}, fallback.Matchers)
	assert.Equal(t, &GlooResourceRef{Name: "shop-cart-primaryupstream-8080", Namespace: "shop"}, fallback.RouteAction.Single.Upstream)

	for _, s := range []string{StrategyCanary, StrategyBlueGreen} {
		p := cart(s)
		assert.Len(t, gloo.Route(&p.Service).(*GlooVirtualService).Spec.VirtualHost.Routes, 1, "%s: the delegation alone", s)
	}
}

// TestCanary_GlooBlueGreenIsMeasuredOnItsPods: on Gloo, Flagger's checks read the gateway's requests to the
// canary's upstream, which a blue/green release does not get; its two checks become MetricTemplates on the pods'
// own metrics. Elsewhere the built-in checks stay.
func TestCanary_GlooBlueGreenIsMeasuredOnItsPods(t *testing.T) {
	t.Parallel()
	p := cart(StrategyBlueGreen)
	p.Ingress = MustIngress(IngressGloo)
	metrics := Canary(p).Spec.Analysis.Metrics
	require.Len(t, metrics, 2)
	assert.Equal(t, "request-success-rate-pods", metrics[0].Name, "not Flagger's built-in name, which would run its Gloo query")
	assert.Equal(t, &flaggerv1.CrossNamespaceObjectReference{Name: "cart-request-success-rate-pods", Namespace: "shop"}, metrics[0].TemplateRef)
	assert.Equal(t, 98.0, *metrics[0].ThresholdRange.Min)
	assert.Equal(t, "request-duration-pods", metrics[1].Name)
	assert.Equal(t, 300.0, *metrics[1].ThresholdRange.Max, "milliseconds, as the built-in check")

	objs, err := CheckTemplates(&p.Service, p.Ingress)
	require.NoError(t, err)
	require.Len(t, objs, 2)
	names := []any{objs[0]["metadata"].(map[string]any)["name"], objs[1]["metadata"].(map[string]any)["name"]}
	assert.Equal(t, []any{"cart-request-duration-pods", "cart-request-success-rate-pods"}, names)
	duration := objs[0]["spec"].(map[string]any)["query"].(string)
	assert.Contains(t, duration, `1000 * histogram_quantile(0.99`)
	assert.Contains(t, duration, `kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"`)

	for _, other := range []CanaryParams{cart(StrategyBlueGreen), func() CanaryParams { c := cart(StrategyCanary); c.Ingress = MustIngress(IngressGloo); return c }()} {
		metrics := Canary(other).Spec.Analysis.Metrics
		assert.Equal(t, "request-success-rate", metrics[0].Name, "%s on %s keeps the built-in check", other.Service.Strategy, other.Ingress.Name())
		assert.Nil(t, metrics[0].TemplateRef)
	}
}
