package manifests

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRender_FailsOnAManifestThatDoesNotFitItsType: the embedded YAML is decoded strictly, so a misspelled field
// or a mistyped value in it stops the program instead of reaching the cluster.
func TestRender_FailsOnAManifestThatDoesNotFitItsType(t *testing.T) {
	original := canaryYAML
	t.Cleanup(func() { canaryYAML = original })
	for name, doc := range map[string]string{
		"misspelled field":  strings.Replace(string(original), "stepWeight: 5", "stepWieght: 5", 1),
		"mistyped value":    strings.Replace(string(original), "threshold: 5", "threshold: five", 1),
		"renamed metric":    strings.Replace(string(original), "request-duration", "latency", 1),
		"no load-test hook": strings.Replace(string(original), "name: load-test", "name: smoke-test", 1),
	} {
		require.NotEqual(t, string(original), doc, name)
		canaryYAML = []byte(doc)
		_, err := Canary(CanaryParams{Namespace: "apps", Analysis: DefaultAnalysis})
		assert.Error(t, err, name)
	}
}

func TestRender_OmitsServerOwnedFields(t *testing.T) {
	t.Parallel()
	obj, err := Canary(CanaryParams{Namespace: "apps", Analysis: DefaultAnalysis})
	require.NoError(t, err)
	assert.NotContains(t, obj, "status", "status belongs to Flagger")
	assert.NotContains(t, obj["metadata"], "creationTimestamp")
	vs, err := VirtualService(VirtualServiceParams{Namespace: "apps", Domain: "podinfo.example.com"})
	require.NoError(t, err)
	assert.NotContains(t, vs, "status")
	assert.Equal(t, map[string]any{"name": "podinfo", "namespace": "apps"}, vs["metadata"])
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
