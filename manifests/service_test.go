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
	assert.Equal(t, `^(.*?;)?(canary=always)(;.*)?$`, an.Match[1].Headers["cookie"].Regex, "Flagger's cookie regex")
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

	objs, err := CheckTemplates(&p.Service, PrometheusURL(p.Ingress))
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
