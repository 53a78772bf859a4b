package workloads

import (
	"testing"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runAnalysis(t *testing.T, args *CanaryAnalysisArgs) (*graph.Graph, *CanaryAnalysis) {
	t.Helper()
	var a *CanaryAnalysis
	g, _ := mocks.MustRun(t, mocks.RunConfig{}, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		var err error
		a, err = NewCanaryAnalysis(ctx, "analysis", args)
		if err != nil {
			return nil, err
		}
		return map[string]pulumi.Output{"providers": a.AlertProviders, "templates": a.MetricTemplates}, nil
	})
	return g, a
}

func TestCanaryAnalysis_TeamsAlertsAtTheDefaultSeverity(t *testing.T) {
	t.Parallel()
	g, a := runAnalysis(t, &CanaryAnalysisArgs{NamespaceName: "apps", Namespace: pulumi.String("apps"),
		Teams: &AlertArgs{URL: pulumi.ToSecret(pulumi.String("https://example.webhook.office.com/webhookb2/T")).(pulumi.StringOutput)}})
	assert.Equal(t, []manifests.Alert{{Name: "msteams", Severity: "info"}}, a.Alerts, "info: every step")
	provider := g.MustOne(t, "kubernetes:flagger.app/v1beta1:AlertProvider", "analysis-msteams-alerts")
	assert.Equal(t, "msteams", graph.MustLookup(t, provider.Inputs, "spec", "type"))
	assert.Equal(t, "flagger-alert-msteams", graph.MustLookup(t, provider.Inputs, "spec", "secretRef", "name"))
	secret := g.MustOne(t, "kubernetes:core/v1:Secret", "analysis-msteams")
	assert.Contains(t, provider.Dependencies, secret.URN, "the address exists before Flagger reads it")
	assert.Empty(t, g.Find("kubernetes:flagger.app/v1beta1:MetricTemplate"), "Prometheus needs no template")
	assert.Len(t, a.Objects, 1)
}

func TestCanaryAnalysis_DatadogNeedsBothKeys(t *testing.T) {
	t.Parallel()
	_, err := mocks.Run(func(ctx *pulumi.Context) error {
		_, err := NewCanaryAnalysis(ctx, "analysis", &CanaryAnalysisArgs{NamespaceName: "apps", Namespace: pulumi.String("apps"),
			Metrics: &MetricsArgs{Source: manifests.MetricsSource{Provider: manifests.Datadog}, DatadogAPIKey: pulumi.String("k")}})
		return err
	}, mocks.RunConfig{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Datadog needs DatadogAPIKey and DatadogAppKey")
}
