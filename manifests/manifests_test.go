package manifests

import (
	"os"
	"strings"
	"testing"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// golden decodes a walkthrough fixture strictly into its type and returns it as custom resource fields.
func golden[T any](t *testing.T, file string) Object {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + file)
	require.NoError(t, err)
	var typed T
	require.NoError(t, yaml.UnmarshalStrict(raw, &typed), "the fixture fits its type")
	obj, err := ToObject(&typed)
	require.NoError(t, err)
	return obj
}

func walkthroughCanary() CanaryParams {
	return CanaryParams{
		Service: WalkthroughService("apps", "podinfo.example.com"), Ingress: MustIngress(IngressGloo),
		LoadTesterURL: "http://flagger-loadtester.apps/",
	}
}

// TestCanary_DevValuesAreTheWalkthroughs: the typed Canary with the dev stack's values is exactly the
// walkthrough's manifest.
func TestCanary_DevValuesAreTheWalkthroughs(t *testing.T) {
	t.Parallel()
	got, err := ToObject(Canary(walkthroughCanary()))
	require.NoError(t, err)
	assert.Equal(t, golden[flaggerv1.Canary](t, "canary.yaml"), got)
}

func TestVirtualService_DevValuesAreTheWalkthroughs(t *testing.T) {
	t.Parallel()
	got, err := ToObject(VirtualService(VirtualServiceParams{Name: "podinfo", Namespace: "apps", Domain: "podinfo.example.com"}))
	require.NoError(t, err)
	assert.Equal(t, golden[GlooVirtualService](t, "virtualservice.yaml"), got)
}

// TestGolden_FixturesAreStrict: a misspelled field in a fixture fails its decode, so the golden comparison
// cannot pass on a fixture that Flagger would not read the same way.
func TestGolden_FixturesAreStrict(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/canary.yaml")
	require.NoError(t, err)
	var c flaggerv1.Canary
	assert.Error(t, yaml.UnmarshalStrict([]byte(strings.Replace(string(raw), "stepWeight: 5", "stepWieght: 5", 1)), &c))
	assert.Error(t, yaml.UnmarshalStrict([]byte(strings.Replace(string(raw), "threshold: 5", "threshold: five", 1)), &c))
}

func TestCanary_GatewayAPIRoutesThroughTheGateway(t *testing.T) {
	t.Parallel()
	p := walkthroughCanary()
	p.Ingress = MustIngress(IngressGatewayAPI)
	c := Canary(p)
	assert.Equal(t, "gatewayapi:v1", c.Spec.Provider)
	require.Len(t, c.Spec.Service.GatewayRefs, 1)
	assert.Equal(t, "gateway-proxy", string(c.Spec.Service.GatewayRefs[0].Name))
	assert.Equal(t, "kgateway-system", string(*c.Spec.Service.GatewayRefs[0].Namespace))
	assert.Equal(t, []string{"podinfo.example.com"}, c.Spec.Service.Hosts)
	assert.Equal(t, "hey -z 2m -q 5 -c 2 -host podinfo.example.com http://gateway-proxy.kgateway-system",
		(*c.Spec.Analysis.Webhooks[1].Metadata)["cmd"])
	assert.Empty(t, Canary(walkthroughCanary()).Spec.Service.GatewayRefs, "Gloo needs no gateway reference")
}

func TestCanary_EventWebhookIsOneMoreHook(t *testing.T) {
	t.Parallel()
	p := walkthroughCanary()
	p.EventWebhookURL = "https://alerts.example.com/flagger"
	hooks := Canary(p).Spec.Analysis.Webhooks
	require.Len(t, hooks, 3)
	assert.Equal(t, flaggerv1.CanaryWebhook{Name: "events", Type: flaggerv1.EventHook, URL: "https://alerts.example.com/flagger"}, hooks[2])
}

func TestToObject_OmitsServerOwnedFields(t *testing.T) {
	t.Parallel()
	obj, err := ToObject(Canary(walkthroughCanary()))
	require.NoError(t, err)
	assert.NotContains(t, obj, "status", "status belongs to Flagger")
	assert.NotContains(t, obj["metadata"], "creationTimestamp")
}

func TestPublicGateway_OneHostFromTheAppNamespace(t *testing.T) {
	t.Parallel()
	g := PublicGateway(GatewayParams{Gateway: Gateway{Namespace: "kgateway-system", Name: "gateway-proxy"},
		Hosts: []string{"podinfo.example.com"}, RouteNamespaces: []string{"apps"}})
	obj, err := ToObject(g)
	require.NoError(t, err)
	assert.Equal(t, "gateway.networking.k8s.io/v1", obj["apiVersion"])
	require.Len(t, g.Spec.Listeners, 1)
	l := g.Spec.Listeners[0]
	assert.Equal(t, "podinfo.example.com", string(*l.Hostname))
	assert.Equal(t, "kgateway", string(g.Spec.GatewayClassName))
	assert.Equal(t, "http", string(l.Name))
	assert.Equal(t, map[string]string{"kubernetes.io/metadata.name": "apps"}, l.AllowedRoutes.Namespaces.Selector.MatchLabels)
}

func TestPublicGateway_AListenerPerHostAndOnlyTheServicesNamespaces(t *testing.T) {
	t.Parallel()
	g := PublicGateway(GatewayParams{Gateway: Gateway{Namespace: "kgateway-system", Name: "gateway-proxy"},
		Hosts: []string{"cart.example.com", "podinfo.example.com"}, RouteNamespaces: []string{"apps", "shop"}})
	require.Len(t, g.Spec.Listeners, 2)
	for i, host := range []string{"cart.example.com", "podinfo.example.com"} {
		l := g.Spec.Listeners[i]
		assert.Equal(t, host, string(*l.Hostname))
		assert.Equal(t, host, string(l.Name), "listener names are unique: each host's own")
		sel := l.AllowedRoutes.Namespaces.Selector
		assert.Empty(t, sel.MatchLabels)
		require.Len(t, sel.MatchExpressions, 1)
		assert.Equal(t, []string{"apps", "shop"}, sel.MatchExpressions[0].Values)
	}
}

func TestMetricTemplates_TwoPerProviderDecodedStrictly(t *testing.T) {
	original := metricTemplatesYAML
	t.Cleanup(func() { metricTemplatesYAML = original })
	for _, provider := range []string{Datadog, CloudWatch} {
		objs, err := MetricTemplates("apps", MetricsSource{Provider: provider})
		require.NoError(t, err)
		require.Len(t, objs, 2, provider)
	}
	objs, err := MetricTemplates("apps", MetricsSource{Provider: Prometheus})
	require.NoError(t, err)
	assert.Empty(t, objs, "Prometheus is Flagger's built-in checks")

	metricTemplatesYAML = []byte(strings.Replace(string(original), "    type: datadog\n  query:", "    type: datadog\n  qeury:", 1))
	_, err = MetricTemplates("apps", MetricsSource{Provider: Datadog})
	assert.ErrorContains(t, err, "metrictemplates.yaml", "a misspelled field stops the program")
	metricTemplatesYAML = []byte(strings.Replace(string(original), "name: request-duration-cloudwatch", "name: request-duration-cloudwatch\n  labels: {a: b}", 1))
	_, err = MetricTemplates("apps", MetricsSource{Provider: CloudWatch})
	assert.NoError(t, err, "metadata fields are allowed")
}
