package program

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kubernetesObject is the apiVersion and kind of a Kubernetes resource type token, e.g.
// kubernetes:networking.k8s.io/v1:NetworkPolicy; ok is false for what is not an object of the API server (the
// provider, Helm releases, the YAML and kustomize components).
func kubernetesObject(typ string) (apiVersion, kind string, ok bool) {
	rest, found := strings.CutPrefix(typ, "kubernetes:")
	if !found {
		return "", "", false
	}
	module, kind, found := strings.Cut(rest, ":")
	group, _, _ := strings.Cut(module, "/")
	if !found || slices.Contains([]string{"helm.sh", "yaml", "kustomize"}, group) {
		return "", "", false
	}
	return strings.TrimPrefix(module, "core/"), kind, true
}

// removedAPIsUsed names each object of g whose API version Kubernetes no longer serves by eksfacts.RemovedAPIsThrough.
func removedAPIsUsed(g *graph.Graph) []string {
	var out []string
	for _, r := range g.Order {
		apiVersion, kind, ok := kubernetesObject(r.Type)
		if !ok {
			continue
		}
		if release := eksfacts.RemovedIn(apiVersion, kind); release != "" {
			out = append(out, fmt.Sprintf("%s %s (%s): not served since Kubernetes %s", apiVersion, kind, r.Name, release))
		}
	}
	return out
}

// renderings are the stacks whose objects the test renders: both ingresses and every option that adds objects.
var renderings = map[string]map[string]string{
	"dev, gloo": nil,
	"gatewayapi with every strategy it has": {"ingress": "gatewayapi", "kgatewayChartVersion": "v2.2.4", "gatewayApiVersion": "v1.4.1",
		"kubernetesVersion": "1.35", "services": `{"podinfo":{},` +
			`"cart":{"image":{"source":"ghcr.io/stefanprodan/podinfo"},"version":"6.0.1","host":"cart.example.com","strategy":"mirror","gate":"manual"},` +
			`"web":{"image":{"source":"ghcr.io/stefanprodan/podinfo"},"version":"6.0.1","host":"web.example.com","strategy":"sessionaffinity"},` +
			`"ab":{"image":{"source":"ghcr.io/stefanprodan/podinfo"},"version":"6.0.1","host":"ab.example.com","strategy":"abtest","match":[{"header":"x-canary","value":"insider"}]},` +
			`"bg":{"image":{"source":"ghcr.io/stefanprodan/podinfo"},"version":"6.0.1","host":"bg.example.com","strategy":"bluegreen",` +
			`"analysis":{"checks":[{"name":"errors","query":"sum(rate(errors_total[1m]))","max":1,"interval":"1m"}]}}}`},
	"datadog with its agent and alerts": {"metricsProvider": "datadog", "datadogApiKey": "a", "datadogAppKey": "b",
		"slackUrl": "https://hooks.slack.com/services/T0/B0/x", "slackChannel": "deployments", "alertWebhookUrl": "https://alerts.example.com/flagger"},
	"cloudwatch": {"metricsProvider": "cloudwatch"},
	"teams with principals, quota and defaults": {"services": `{"podinfo":{"namespace":"shop","team":"shop"}}`,
		"teams": `{"shop":{"principals":["arn:aws:iam::111111111111:role/shop"],"quota":{"requests":{"cpu":"4","memory":"8Gi"},"pods":40}}}`},
}

// TestDeprecatedAPIs_NoRenderedObjectUsesARemovedAPI renders every Kubernetes object the program creates, in each
// rendering, and fails on one whose API version the newest Kubernetes the table covers no longer serves. The
// charts' own objects are rendered by the Kubernetes provider at deploy time: the real-engine suite installs the
// Flagger, Gloo and kgateway charts onto a 1.37 API server, which refuses what it does not serve.
func TestDeprecatedAPIs_NoRenderedObjectUsesARemovedAPI(t *testing.T) {
	t.Parallel()
	kinds := map[string]bool{}
	for name, overrides := range renderings {
		cfg := mocks.DevConfig(overrides)
		var secrets []string
		for _, k := range []string{"datadogApiKey", "datadogAppKey", "slackUrl", "alertWebhookUrl"} {
			if _, ok := cfg[k]; ok {
				secrets = append(secrets, k)
			}
		}
		g, _ := mocks.MustRun(t, mocks.RunConfig{Config: cfg, Secrets: secrets}, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
			return nil, Run(ctx)
		})
		assert.Empty(t, removedAPIsUsed(g), name)
		for _, r := range g.Order {
			if apiVersion, kind, ok := kubernetesObject(r.Type); ok {
				kinds[apiVersion+" "+kind] = true
			}
		}
	}
	// The renderings did reach the objects of each part of the platform.
	for _, want := range []string{"v1 Namespace", "apps/v1 Deployment", "autoscaling/v2 HorizontalPodAutoscaler", "policy/v1 PodDisruptionBudget",
		"networking.k8s.io/v1 NetworkPolicy", "v1 ResourceQuota", "v1 LimitRange", "flagger.app/v1beta1 Canary", "flagger.app/v1beta1 MetricTemplate",
		"gateway.solo.io/v1 VirtualService", "gateway.networking.k8s.io/v1 Gateway", "flagger.app/v1beta1 AlertProvider"} {
		assert.True(t, kinds[want], "no rendering created a %s; have %v", want, slices.Sorted(maps.Keys(kinds)))
	}
}

// TestDeprecatedAPIs_AFixtureWithARemovedAPIFails: the check finds an object of a removed API version, by release,
// and passes the stable versions the program uses.
func TestDeprecatedAPIs_AFixtureWithARemovedAPIFails(t *testing.T) {
	t.Parallel()
	fixture := graph.NewGraph([]graph.Registration{
		{Type: "kubernetes:policy/v1beta1:PodDisruptionBudget", Name: "old-pdb"},
		{Type: "kubernetes:networking.k8s.io/v1beta1:ServiceCIDR", Name: "cidr"},
		{Type: "kubernetes:storage.k8s.io/v1beta1:VolumeAttributesClass", Name: "vac"},
		{Type: "kubernetes:networking.k8s.io/v1:NetworkPolicy", Name: "deny"},
		{Type: "kubernetes:core/v1:Namespace", Name: "apps"},
		{Type: "kubernetes:helm.sh/v3:Release", Name: "flagger"},
	})
	require.Equal(t, []string{
		"policy/v1beta1 PodDisruptionBudget (old-pdb): not served since Kubernetes 1.25",
		"networking.k8s.io/v1beta1 ServiceCIDR (cidr): not served since Kubernetes 1.37",
		"storage.k8s.io/v1beta1 VolumeAttributesClass (vac): not served since Kubernetes 1.37",
	}, removedAPIsUsed(fixture))
	assert.Equal(t, "1.22", eksfacts.RemovedIn("networking.k8s.io/v1beta1", "Ingress"), "a kind gone before its version")
}
