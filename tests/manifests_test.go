package tests

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// strictDecode decodes an object into typed API structs, failing on unknown fields and on mistyped values.
func strictDecode(t *testing.T, obj manifests.Object, into any) error {
	t.Helper()
	data, err := json.Marshal(obj)
	require.NoError(t, err)
	return yaml.UnmarshalStrict(data, into)
}

func devCanaryParams() manifests.CanaryParams {
	return manifests.CanaryParams{
		Service:       manifests.WalkthroughService("apps", "podinfo.example.com"),
		Ingress:       manifests.MustIngress(manifests.IngressGloo),
		LoadTesterURL: "http://flagger-loadtester.apps/",
	}
}

func TestCanary_DecodesStrictlyIntoFlaggerTypes(t *testing.T) {
	t.Parallel()
	obj, err := manifests.ToObject(manifests.Canary(devCanaryParams()))
	require.NoError(t, err)
	var c flaggerv1.Canary
	require.NoError(t, strictDecode(t, obj, &c), "the rendered Canary is a valid flagger.app/v1beta1 Canary")

	assert.Equal(t, "flagger.app/v1beta1", c.APIVersion)
	assert.Equal(t, "Canary", c.Kind)
	assert.Equal(t, "podinfo", c.Name)
	assert.Equal(t, "apps", c.Namespace)
	assert.Equal(t, "gloo", c.Spec.Provider)
	assert.Equal(t, flaggerv1.LocalObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "podinfo"}, c.Spec.TargetRef)
	require.NotNil(t, c.Spec.AutoscalerRef)
	assert.Equal(t, "HorizontalPodAutoscaler", c.Spec.AutoscalerRef.Kind)
	assert.Equal(t, "podinfo", c.Spec.AutoscalerRef.Name)
	assert.Equal(t, int32(9898), c.Spec.Service.Port)
	assert.Equal(t, 9898, c.Spec.Service.TargetPort.IntValue())

	a := c.Spec.Analysis
	require.NotNil(t, a)
	assert.Equal(t, "10s", a.Interval)
	assert.Equal(t, 5, a.Threshold)
	assert.Equal(t, 50, a.MaxWeight)
	assert.Equal(t, 5, a.StepWeight)
	require.Len(t, a.Metrics, 2)
	assert.Equal(t, "request-success-rate", a.Metrics[0].Name)
	assert.Equal(t, 99.0, *a.Metrics[0].ThresholdRange.Min)
	assert.Equal(t, "1m", a.Metrics[0].Interval)
	assert.Equal(t, "request-duration", a.Metrics[1].Name)
	assert.Equal(t, 500.0, *a.Metrics[1].ThresholdRange.Max)
	assert.Equal(t, "30s", a.Metrics[1].Interval)

	require.Len(t, a.Webhooks, 2)
	acceptance, load := a.Webhooks[0], a.Webhooks[1]
	assert.Equal(t, "acceptance-test", acceptance.Name)
	assert.Equal(t, flaggerv1.PreRolloutHook, acceptance.Type)
	assert.Equal(t, "http://flagger-loadtester.apps/", acceptance.URL)
	assert.Equal(t, "10s", acceptance.Timeout)
	assert.Equal(t, map[string]string{"type": "bash", "cmd": "curl -sd 'test' http://podinfo-canary:9898/token | grep token"}, *acceptance.Metadata)
	assert.Equal(t, "load-test", load.Name)
	assert.Equal(t, "http://flagger-loadtester.apps/", load.URL)
	assert.Equal(t, "5s", load.Timeout)
	assert.Equal(t, map[string]string{"type": "cmd", "cmd": "hey -z 2m -q 5 -c 2 -host podinfo.example.com http://gateway-proxy.gloo-system"}, *load.Metadata)
}

func TestCanary_StackValuesAreApplied(t *testing.T) {
	t.Parallel()
	p := devCanaryParams()
	p.Service.Namespace = "shop"
	p.Service.Host = "shop.example.org"
	p.LoadTesterURL = "http://flagger-loadtester.shop/"
	p.Service.Analysis = manifests.Analysis{Interval: "1m", Threshold: 10, MaxWeight: 30, StepWeight: 10, SuccessRateMin: 99.9, LatencyMaxMs: 250}
	obj, err := manifests.ToObject(manifests.Canary(p))
	require.NoError(t, err)
	var c flaggerv1.Canary
	require.NoError(t, strictDecode(t, obj, &c))
	assert.Equal(t, "shop", c.Namespace)
	assert.Equal(t, "1m", c.Spec.Analysis.Interval)
	assert.Equal(t, 10, c.Spec.Analysis.Threshold)
	assert.Equal(t, 30, c.Spec.Analysis.MaxWeight)
	assert.Equal(t, 99.9, *c.Spec.Analysis.Metrics[0].ThresholdRange.Min)
	assert.Equal(t, 250.0, *c.Spec.Analysis.Metrics[1].ThresholdRange.Max)
	assert.Equal(t, "http://flagger-loadtester.shop/", c.Spec.Analysis.Webhooks[1].URL)
	assert.Contains(t, (*c.Spec.Analysis.Webhooks[1].Metadata)["cmd"], "-host shop.example.org ")

	again, err := manifests.ToObject(manifests.Canary(devCanaryParams()))
	require.NoError(t, err)
	assert.Equal(t, "apps", again["metadata"].(map[string]any)["namespace"], "a render keeps no state between calls")
}

// TestStrictDecode_CatchesMistakes shows that the strict decode is a real check: a misspelled field and a
// mistyped value in the Canary both fail it.
func TestStrictDecode_CatchesMistakes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../manifests/testdata/canary.yaml")
	require.NoError(t, err)
	tests := map[string]string{
		"misspelled field": strings.Replace(string(raw), "stepWeight: 5", "stepWieght: 5", 1),
		"mistyped value":   strings.Replace(string(raw), "threshold: 5", "threshold: five", 1),
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NotEqual(t, string(raw), doc, "the fixture must change the manifest")
			var obj manifests.Object
			require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
			var c flaggerv1.Canary
			assert.Error(t, strictDecode(t, obj, &c))
		})
	}
}

func TestVirtualService_DecodesStrictly(t *testing.T) {
	t.Parallel()
	obj, err := manifests.ToObject(manifests.VirtualService(manifests.VirtualServiceParams{Name: "podinfo", Namespace: "apps", Domain: "podinfo.example.com"}))
	require.NoError(t, err)
	var vs manifests.GlooVirtualService
	require.NoError(t, strictDecode(t, obj, &vs))
	assert.Equal(t, "gateway.solo.io/v1", vs.APIVersion)
	assert.Equal(t, "VirtualService", vs.Kind)
	assert.Equal(t, "podinfo", vs.Name)
	assert.Equal(t, "apps", vs.Namespace)
	assert.Equal(t, []string{"podinfo.example.com"}, vs.Spec.VirtualHost.Domains)
	require.Len(t, vs.Spec.VirtualHost.Routes, 1)
	route := vs.Spec.VirtualHost.Routes[0]
	require.Len(t, route.Matchers, 1)
	assert.Equal(t, "/", route.Matchers[0].Prefix)
	require.NotNil(t, route.DelegateAction)
	require.NotNil(t, route.DelegateAction.Ref)
	assert.Equal(t, "podinfo", route.DelegateAction.Ref.Name, "delegated to the RouteTable Flagger names after the Canary")
	assert.Equal(t, "apps", route.DelegateAction.Ref.Namespace)

	obj["spec"].(map[string]any)["virtualHost"].(map[string]any)["domain"] = "typo"
	assert.Error(t, strictDecode(t, obj, &vs), "a misspelled VirtualService field fails the check")
}
