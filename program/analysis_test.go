package program

import (
	"encoding/json"
	"strings"
	"testing"
	"text/template"

	"github.com/aws/aws-sdk-go/service/cloudwatch"
	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const (
	customResourceType = "kubernetes:flagger.app/v1beta1:"
	secretType         = "kubernetes:core/v1:Secret"
)

// runAnalysis runs the dev stack with overrides, the keys in secrets set with --secret.
func runAnalysis(t *testing.T, overrides map[string]string, secrets ...string) *graph.Graph {
	t.Helper()
	mon, err := mocks.Run(Run, mocks.RunConfig{Config: mocks.DevConfig(overrides), Secrets: secrets})
	require.NoError(t, err)
	return graph.NewGraph(mon.Registrations())
}

// decodeAs decodes a registered custom resource's inputs strictly into Flagger's API type.
func decodeAs(t *testing.T, r graph.Registration, into any) {
	t.Helper()
	obj := map[string]any{}
	for _, k := range []string{"apiVersion", "kind", "metadata", "spec"} {
		if v, err := graph.Lookup(r.Inputs, k); err == nil {
			obj[k] = v
		}
	}
	data, err := json.Marshal(obj)
	require.NoError(t, err)
	require.NoError(t, yaml.UnmarshalStrict(data, into), "%s is a valid %T", r.Name, into)
}

// canaryModel is what Flagger renders a template of apps/podinfo's metric with.
func canaryModel(m flaggerv1.CanaryMetric) flaggerv1.MetricTemplateModel {
	return flaggerv1.MetricTemplateModel{Name: "podinfo", Namespace: "apps", Target: "podinfo", Service: "podinfo",
		Interval: m.Interval, Variables: m.TemplateVariables}
}

func TestAnalysis_DatadogChecksWithAlertsToSlackTeamsAndAWebhook(t *testing.T) {
	t.Parallel()
	g := runAnalysis(t, map[string]string{
		"metricsProvider": "datadog", "datadogSite": "datadoghq.eu",
		"datadogApiKey": "dd-api-key", "datadogAppKey": "dd-app-key",
		"slackUrl": "https://hooks.slack.com/services/T/B/X", "slackChannel": "releases", "slackSeverity": "error",
		"teamsUrl": "https://example.webhook.office.com/webhookb2/T", "alertWebhookUrl": "https://alerts.example.com/flagger",
	}, "datadogApiKey", "datadogAppKey", "slackUrl", "teamsUrl", "alertWebhookUrl")

	credentials := g.MustOne(t, secretType, "apps-analysis-datadog")
	assert.Equal(t, "flagger-datadog", graph.MustLookup(t, credentials.Inputs, "metadata", "name"))
	assert.Equal(t, "apps", graph.MustLookup(t, credentials.Inputs, "metadata", "namespace"))
	assert.Equal(t, map[string]any{"datadog_api_key": "dd-api-key", "datadog_application_key": "dd-app-key"},
		graph.MustLookup(t, credentials.Inputs, "stringData"), "the keys Flagger's Datadog provider reads")
	assert.True(t, graph.IsSecret(credentials.Inputs, "stringData"), "the keys stay secret in state")

	var canary flaggerv1.Canary
	decodeAs(t, g.MustOne(t, customResourceType+"Canary", "podinfo-canary"), &canary)
	metrics := canary.Spec.Analysis.Metrics
	require.Len(t, metrics, 2)
	want := map[string]struct {
		min, max *float64
		interval string
		query    string
	}{
		"request-success-rate-datadog": {min: ptr(99.0), interval: "1m", query: "100 * sum:envoy.cluster.upstream_rq.count{envoy_cluster:apps-podinfo-canaryupstream-9898_apps,!envoy_response_code:5*}.as_count() " +
			"/ sum:envoy.cluster.upstream_rq.count{envoy_cluster:apps-podinfo-canaryupstream-9898_apps}.as_count()"},
		"request-duration-datadog": {max: ptr(500.0), interval: "30s", query: "p99:envoy.cluster.upstream_rq_time{envoy_cluster:apps-podinfo-canaryupstream-9898_apps}"},
	}
	for _, m := range metrics {
		w, ok := want[m.Name]
		require.True(t, ok, "metric %s: the built-in names would make Flagger query Prometheus", m.Name)
		require.NotNil(t, m.TemplateRef)
		assert.Equal(t, flaggerv1.CrossNamespaceObjectReference{Name: m.Name, Namespace: "apps"}, *m.TemplateRef)
		assert.Equal(t, w.interval, m.Interval)
		assert.Equal(t, w.min, m.ThresholdRange.Min, m.Name)
		assert.Equal(t, w.max, m.ThresholdRange.Max, m.Name)

		var mt flaggerv1.MetricTemplate
		r := g.MustOne(t, customResourceType+"MetricTemplate", "apps-analysis-"+m.Name)
		decodeAs(t, r, &mt)
		assert.Equal(t, "apps", mt.Namespace)
		assert.Equal(t, flaggerv1.MetricTemplateProvider{Type: "datadog", Address: "https://api.datadoghq.eu",
			SecretRef: &corev1.LocalObjectReference{Name: "flagger-datadog"}}, mt.Spec.Provider)
		query, err := renderQuery(mt.Spec.Query, canaryModel(m))
		require.NoError(t, err, "Flagger renders the template")
		assert.Equal(t, w.query, query, "the query Flagger sends for %s", m.Name)
		assert.Contains(t, r.Dependencies, credentials.URN, "the template comes with its credentials")
	}

	alerts := canary.Spec.Analysis.Alerts
	assert.Equal(t, []flaggerv1.CanaryAlert{
		{Name: "slack", Severity: "error", ProviderRef: flaggerv1.CrossNamespaceObjectReference{Name: "slack", Namespace: "apps"}},
		{Name: "msteams", Severity: "info", ProviderRef: flaggerv1.CrossNamespaceObjectReference{Name: "msteams", Namespace: "apps"}},
	}, alerts)
	for _, p := range []struct{ name, typ, channel string }{{"slack", "slack", "releases"}, {"msteams", "msteams", ""}} {
		var provider flaggerv1.AlertProvider
		decodeAs(t, g.MustOne(t, customResourceType+"AlertProvider", "apps-analysis-"+p.name+"-alerts"), &provider)
		assert.Equal(t, p.typ, provider.Spec.Type)
		assert.Equal(t, p.channel, provider.Spec.Channel)
		assert.Empty(t, provider.Spec.Address, "the URL is not in the AlertProvider")
		require.NotNil(t, provider.Spec.SecretRef)
		secret := g.MustOne(t, secretType, "apps-analysis-"+p.name)
		assert.Equal(t, provider.Spec.SecretRef.Name, graph.MustLookup(t, secret.Inputs, "metadata", "name"))
		assert.True(t, graph.IsSecret(secret.Inputs, "stringData"), "the %s URL stays secret", p.name)
	}

	canaryReg := g.MustOne(t, customResourceType+"Canary", "podinfo-canary")
	hooks := graph.MustLookup(t, canaryReg.Inputs, "spec", "analysis", "webhooks").([]any)
	events := hooks[len(hooks)-1].(map[string]any)
	assert.Equal(t, map[string]any{"name": "events", "type": "event", "url": "https://alerts.example.com/flagger", "muteAlert": false}, events)
	assert.True(t, graph.IsSecret(canaryReg.Inputs, "spec", "analysis", "webhooks", len(hooks)-1, "url"),
		"the webhook URL stays secret in state and previews")
	for _, dep := range []struct{ kind, name string }{
		{"MetricTemplate", "apps-analysis-request-success-rate-datadog"}, {"MetricTemplate", "apps-analysis-request-duration-datadog"},
		{"AlertProvider", "apps-analysis-slack-alerts"}, {"AlertProvider", "apps-analysis-msteams-alerts"},
	} {
		assert.True(t, g.DependsOn(canaryReg.URN, g.MustOne(t, customResourceType+dep.kind, dep.name).URN), "the Canary waits for %s", dep.name)
	}

	gloo := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-gloo")
	_, err := graph.Lookup(gloo.Inputs, "values", "gatewayProxies", "gatewayProxy", "podTemplate", "extraAnnotations", "ad.datadoghq.com/gateway-proxy.checks")
	assert.NoError(t, err, "the Datadog agent collects the gateway's Envoy metrics")
	assert.Len(t, g.Find("kubernetes:helm.sh/v3:Release"), 4, "metrics-server, gloo, flagger, datadog")
	flagger := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-flagger")
	_, err = graph.Lookup(flagger.Inputs, "values", "slack")
	assert.Error(t, err, "Slack is an AlertProvider, not a chart value")
}

func TestAnalysis_CloudWatchChecksThroughAnIAMRoleForFlagger(t *testing.T) {
	t.Parallel()
	g := runAnalysis(t, map[string]string{"metricsProvider": "cloudwatch"})

	role := g.MustOne(t, "aws:iam/role:Role", "flagger-metrics-reader-role")
	var trust struct {
		Statement []struct {
			Effect    string
			Principal map[string]string
			Action    string
			Condition map[string]map[string]string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(graph.MustLookup(t, role.Inputs, "assumeRolePolicy").(string)), &trust))
	require.Len(t, trust.Statement, 1)
	issuer := "oidc.eks.us-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
	st := trust.Statement[0]
	assert.Equal(t, "Allow", st.Effect)
	assert.Equal(t, "sts:AssumeRoleWithWebIdentity", st.Action)
	assert.Equal(t, map[string]string{"Federated": "arn:aws:iam::" + mocks.AccountID + ":oidc-provider/" + issuer}, st.Principal,
		"the cluster's OIDC provider")
	assert.Equal(t, map[string]map[string]string{"StringEquals": {
		issuer + ":sub": "system:serviceaccount:gloo-system:flagger", issuer + ":aud": "sts.amazonaws.com",
	}}, st.Condition, "only Flagger's service account")

	policy := g.MustOne(t, "aws:iam/rolePolicy:RolePolicy", "flagger-metrics-reader-policy")
	var doc struct {
		Statement []struct {
			Effect   string
			Action   []string
			Resource string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(graph.MustLookup(t, policy.Inputs, "policy").(string)), &doc))
	require.Len(t, doc.Statement, 1)
	assert.Equal(t, []string{"cloudwatch:GetMetricData", "cloudwatch:ListMetrics"}, doc.Statement[0].Action, "read-only, metrics only")
	assert.True(t, g.DependsOn(policy.URN, role.URN))

	flagger := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-flagger")
	assert.Equal(t, "arn:aws:iam::"+mocks.AccountID+":role/flagger-metrics-reader-role",
		graph.MustLookup(t, flagger.Inputs, "values", "serviceAccount", "annotations", "eks.amazonaws.com/role-arn"))

	var canary flaggerv1.Canary
	decodeAs(t, g.MustOne(t, customResourceType+"Canary", "podinfo-canary"), &canary)
	require.Len(t, canary.Spec.Analysis.Metrics, 2)
	for _, m := range canary.Spec.Analysis.Metrics {
		assert.Contains(t, []string{"request-success-rate-cloudwatch", "request-duration-cloudwatch"}, m.Name)
		assert.Equal(t, map[string]string{"servicePort": "9898", "eksCluster": "ps-eks-66"}, m.TemplateVariables)
		var mt flaggerv1.MetricTemplate
		decodeAs(t, g.MustOne(t, customResourceType+"MetricTemplate", "apps-analysis-"+m.Name), &mt)
		assert.Equal(t, flaggerv1.MetricTemplateProvider{Type: "cloudwatch", Region: "us-west-1"}, mt.Spec.Provider)
		query, err := renderQuery(mt.Spec.Query, canaryModel(m))
		require.NoError(t, err)
		// Flagger decodes the query into the AWS SDK's MetricDataQuery list and returns the first result.
		var queries []*cloudwatch.MetricDataQuery
		require.NoError(t, json.Unmarshal([]byte(query), &queries), "%s decodes as Flagger decodes it", m.Name)
		returned := 0
		for _, q := range queries {
			require.NoError(t, q.Validate(), "%s: query %s", m.Name, *q.Id)
			if q.ReturnData == nil || *q.ReturnData {
				returned++
				require.NotNil(t, q.Expression, "the one result is the expression over the others")
			} else {
				dims := map[string]string{}
				for _, d := range q.MetricStat.Metric.Dimensions {
					dims[*d.Name] = *d.Value
				}
				assert.Equal(t, "ps-eks-66", dims["ClusterName"])
				assert.Equal(t, "apps-podinfo-canaryupstream-9898_apps", dims["envoy_cluster_name"])
			}
		}
		assert.Equal(t, 1, returned, "%s: exactly one result, the one Flagger reads", m.Name)
	}
	assert.Empty(t, g.Find(secretType), "CloudWatch needs no credentials in the cluster")
}

func TestAnalysis_PrometheusByDefaultCreatesNothingMore(t *testing.T) {
	t.Parallel()
	g := runAnalysis(t, nil)
	assert.Empty(t, g.Find(customResourceType+"MetricTemplate"))
	assert.Empty(t, g.Find(customResourceType+"AlertProvider"))
	assert.Empty(t, g.Find("aws:iam/rolePolicy:RolePolicy"))
	assert.Empty(t, g.Find("progressive-delivery:workloads:CanaryAnalysis"), "no component without objects")
	var canary flaggerv1.Canary
	decodeAs(t, g.MustOne(t, customResourceType+"Canary", "podinfo-canary"), &canary)
	for _, m := range canary.Spec.Analysis.Metrics {
		assert.Nil(t, m.TemplateRef, "%s is Flagger's built-in check", m.Name)
	}
	assert.Empty(t, canary.Spec.Analysis.Alerts)
}

// renderQuery renders a MetricTemplate's query as Flagger's observers.RenderQuery does: Go templates with the
// model's functions (the package itself is not imported: its tests' imports do not resolve with this module's
// Kubernetes API version, which go mod tidy would then need).
func renderQuery(query string, model flaggerv1.MetricTemplateModel) (string, error) {
	tmpl, err := template.New("tmpl").Option("missingkey=error").Funcs(model.TemplateFunctions()).Parse(query)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	err = tmpl.Execute(&out, nil)
	return out.String(), err
}

func ptr[T any](v T) *T { return &v }
