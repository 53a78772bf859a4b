package workloads

import (
	"encoding/json"
	"testing"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runPlatform(t *testing.T, args *PlatformArgs) (*graph.Graph, string) {
	t.Helper()
	g, out := mocks.MustRun(t, mocks.RunConfig{}, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		p, err := NewPlatform(ctx, "platform", args)
		if err != nil {
			return nil, err
		}
		return map[string]pulumi.Output{"hostname": p.GatewayHostname}, nil
	})
	hostname, _ := out["hostname"].Value.(string)
	return g, hostname
}

func TestPlatform_GlooAndFlaggerReleases(t *testing.T) {
	t.Parallel()
	g, hostname := runPlatform(t, &PlatformArgs{Ingress: manifests.MustIngress(manifests.IngressGloo), GlooChartVersion: "1.14.10", FlaggerChartVersion: "1.33.0",
		ClusterName: pulumi.String("ps-eks-66")})

	ns := g.MustOne(t, "kubernetes:core/v1:Namespace", "platform-ns")
	assert.Equal(t, "gloo-system", graph.MustLookup(t, ns.Inputs, "metadata", "name"))

	gloo := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-gloo")
	for path, want := range map[string]any{
		"name": "gloo", "chart": "gloo", "version": "1.14.10", "namespace": "gloo-system",
	} {
		assert.Equal(t, want, graph.MustLookup(t, gloo.Inputs, path), "gloo %s", path)
	}
	assert.Equal(t, GlooRepo, graph.MustLookup(t, gloo.Inputs, "repositoryOpts", "repo"))
	assert.Equal(t, false, graph.MustLookup(t, gloo.Inputs, "values", "discovery", "enabled"))
	assert.Equal(t, "LoadBalancer", graph.MustLookup(t, gloo.Inputs, "values", "gatewayProxies", "gatewayProxy", "service", "type"))
	assert.Contains(t, gloo.Dependencies, ns.URN, "releases wait for their namespace")

	flagger := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-flagger")
	for path, want := range map[string]any{
		"name": "flagger", "chart": "flagger", "version": "1.33.0", "namespace": "gloo-system",
	} {
		assert.Equal(t, want, graph.MustLookup(t, flagger.Inputs, path), "flagger %s", path)
	}
	assert.Equal(t, FlaggerRepo, graph.MustLookup(t, flagger.Inputs, "repositoryOpts", "repo"))
	values := graph.MustLookup(t, flagger.Inputs, "values").(map[string]any)
	assert.Equal(t, "gloo", values["meshProvider"])
	assert.Equal(t, map[string]any{"install": true}, values["prometheus"])
	assert.Equal(t, "ps-eks-66", values["clusterName"])
	assert.NotContains(t, values, "slack", "notifications are AlertProviders, not chart values")

	assert.Len(t, g.Find("kubernetes:helm.sh/v3:Release"), 2, "one Gloo and one Flagger release, no Datadog by default")

	proxy := g.MustOne(t, "kubernetes:core/v1:Service", "platform-gateway-proxy")
	assert.Equal(t, "gloo-system/gateway-proxy", proxy.ReadID, "the gateway-proxy Service is read, not created")
	assert.True(t, g.DependsOn(proxy.URN, gloo.URN), "the Service is read after the Gloo release")
	assert.Equal(t, "a1b2c3-gateway-proxy.us-west-1.elb.amazonaws.com", hostname)
}

func TestPlatform_CloudWatchRoleOnFlaggersServiceAccountAndEnvoyChecksForDatadog(t *testing.T) {
	t.Parallel()
	const roleARN = "arn:aws:iam::123456789012:role/flagger-metrics-reader"
	g, _ := runPlatform(t, &PlatformArgs{Ingress: manifests.MustIngress(manifests.IngressGloo), GlooChartVersion: "1.14.10", FlaggerChartVersion: "1.33.0",
		FlaggerRoleARN: pulumi.String(roleARN), GatewayMetricsToDatadog: true})
	flagger := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-flagger")
	assert.Equal(t, map[string]any{"eks.amazonaws.com/role-arn": roleARN},
		graph.MustLookup(t, flagger.Inputs, "values", "serviceAccount", "annotations"), "IRSA: Flagger's service account assumes the role")
	assert.Equal(t, "gloo", graph.MustLookup(t, flagger.Inputs, "values", "meshProvider"), "mesh values kept")

	gloo := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-gloo")
	check := graph.MustLookup(t, gloo.Inputs, "values", "gatewayProxies", "gatewayProxy", "podTemplate", "extraAnnotations",
		"ad.datadoghq.com/gateway-proxy.checks").(string)
	var parsed struct {
		Envoy struct {
			Instances []map[string]any `json:"instances"`
		} `json:"envoy"`
	}
	require.NoError(t, json.Unmarshal([]byte(check), &parsed), "the autodiscovery annotation is JSON")
	require.Len(t, parsed.Envoy.Instances, 1)
	assert.Equal(t, "http://%%host%%:8081/metrics", parsed.Envoy.Instances[0]["openmetrics_endpoint"], "Gloo's Envoy stats listener")
	assert.Equal(t, true, parsed.Envoy.Instances[0]["histogram_buckets_as_distributions"], "P99 needs distributions")
	assert.Equal(t, "LoadBalancer", graph.MustLookup(t, gloo.Inputs, "values", "gatewayProxies", "gatewayProxy", "service", "type"))

	plain, _ := runPlatform(t, &PlatformArgs{Ingress: manifests.MustIngress(manifests.IngressGloo), GlooChartVersion: "1.14.10", FlaggerChartVersion: "1.33.0"})
	_, err := graph.Lookup(plain.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-flagger").Inputs, "values", "serviceAccount")
	assert.Error(t, err, "no role unless the checks read CloudWatch")
	_, err = graph.Lookup(plain.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-gloo").Inputs, "values", "gatewayProxies", "gatewayProxy", "podTemplate")
	assert.Error(t, err, "no Datadog check unless the checks read Datadog")
}

func TestPlatform_Datadog(t *testing.T) {
	t.Parallel()
	g, _ := runPlatform(t, &PlatformArgs{Ingress: manifests.MustIngress(manifests.IngressGloo), GlooChartVersion: "1.14.10", FlaggerChartVersion: "1.33.0",
		Datadog: &DatadogArgs{ChartVersion: "3.69.3", Site: "datadoghq.com", APIKey: pulumi.ToSecret(pulumi.String("dd-key")).(pulumi.StringOutput)}})
	dd := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-datadog")
	for path, want := range map[string]any{"name": "datadog", "chart": "datadog", "version": "3.69.3", "namespace": "datadog"} {
		assert.Equal(t, want, graph.MustLookup(t, dd.Inputs, path), path)
	}
	assert.Equal(t, DatadogRepo, graph.MustLookup(t, dd.Inputs, "repositoryOpts", "repo"))
	assert.Equal(t, "dd-key", graph.MustLookup(t, dd.Inputs, "values", "datadog", "apiKey"))
	assert.True(t, graph.IsSecret(dd.Inputs, "values", "datadog", "apiKey"))
	assert.Equal(t, "datadog", graph.MustLookup(t, g.MustOne(t, "kubernetes:core/v1:Namespace", "platform-datadog-ns").Inputs, "metadata", "name"))
}

func TestPlatform_PreviewOfNewStackReadsNothing(t *testing.T) {
	t.Parallel()
	mon, err := mocks.Run(func(ctx *pulumi.Context) error {
		_, err := NewPlatform(ctx, "platform", &PlatformArgs{Ingress: manifests.MustIngress(manifests.IngressGloo), GlooChartVersion: "1.14.10", FlaggerChartVersion: "1.33.0"})
		return err
	}, mocks.RunConfig{DryRun: true})
	require.NoError(t, err)
	// In a preview the Gloo release's status is unknown until it exists, so the Service read waits too.
	for _, r := range mon.Registrations() {
		assert.Empty(t, r.ReadID, "no read from a cluster during preview of a new stack: %s", r.Name)
	}
}

func TestPlatform_RequiresChartVersions(t *testing.T) {
	t.Parallel()
	_, err := mocks.Run(func(ctx *pulumi.Context) error {
		_, err := NewPlatform(ctx, "platform", &PlatformArgs{Ingress: manifests.MustIngress(manifests.IngressGloo), GlooChartVersion: "1.14.10"})
		return err
	}, mocks.RunConfig{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "platform platform: [FlaggerChartVersion] required")
}

func TestPlatform_GatewayAPI(t *testing.T) {
	t.Parallel()
	g, hostname := runPlatform(t, &PlatformArgs{Ingress: manifests.MustIngress(manifests.IngressGatewayAPI), FlaggerChartVersion: "1.44.0",
		KgatewayChartVersion: "v2.2.4", GatewayAPIVersion: "v1.4.1", Hosts: []string{"podinfo.example.com"}, RouteNamespaces: []string{"apps"}})
	ns := g.MustOne(t, "kubernetes:core/v1:Namespace", "platform-ns")
	assert.Equal(t, "kgateway-system", graph.MustLookup(t, ns.Inputs, "metadata", "name"))
	_, err := g.One("kubernetes:helm.sh/v3:Release", "platform-gloo")
	assert.Error(t, err, "no Gloo")

	crds := g.MustOne(t, "kubernetes:yaml/v2:ConfigFile", "platform-gateway-api-crds")
	assert.Equal(t, "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.4.1/standard-install.yaml",
		graph.MustLookup(t, crds.Inputs, "file"), "the standard channel, pinned")
	kgCRDs := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-kgateway-crds")
	kg := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-kgateway")
	for chart, r := range map[string]graph.Registration{"kgateway-crds": kgCRDs, "kgateway": kg} {
		assert.Equal(t, "oci://cr.kgateway.dev/kgateway-dev/charts/"+chart, graph.MustLookup(t, r.Inputs, "chart"))
		assert.Equal(t, "v2.2.4", graph.MustLookup(t, r.Inputs, "version"))
		assert.Equal(t, "kgateway-system", graph.MustLookup(t, r.Inputs, "namespace"))
	}
	assert.True(t, g.DependsOn(kgCRDs.URN, crds.URN), "kgateway's CRDs after the Gateway API's")
	assert.True(t, g.DependsOn(kg.URN, kgCRDs.URN), "the controller after its CRDs")

	gw := g.MustOne(t, "kubernetes:gateway.networking.k8s.io/v1:Gateway", "platform-gateway")
	assert.Equal(t, "gateway-proxy", graph.MustLookup(t, gw.Inputs, "metadata", "name"))
	assert.Equal(t, "condition=Programmed", graph.MustLookup(t, gw.Inputs, "metadata", "annotations", "pulumi.com/waitFor"))
	assert.Equal(t, "podinfo.example.com", graph.MustLookup(t, gw.Inputs, "spec", "listeners", 0, "hostname"))
	assert.True(t, g.DependsOn(gw.URN, kg.URN), "the Gateway after kgateway")

	flagger := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-flagger")
	assert.Equal(t, "gatewayapi:v1", graph.MustLookup(t, flagger.Inputs, "values", "meshProvider"))
	assert.Equal(t, "kgateway-system", graph.MustLookup(t, flagger.Inputs, "namespace"))

	proxy := g.MustOne(t, "kubernetes:core/v1:Service", "platform-gateway-proxy")
	assert.Equal(t, "kgateway-system/gateway-proxy", proxy.ReadID, "kgateway's Service, named after the Gateway, is read")
	assert.True(t, g.DependsOn(proxy.URN, gw.URN))
	assert.Equal(t, "a1b2c3-gateway-proxy.us-west-1.elb.amazonaws.com", hostname)
}

func TestPlatform_GatewayAPINeedsItsVersions(t *testing.T) {
	t.Parallel()
	_, err := mocks.Run(func(ctx *pulumi.Context) error {
		_, err := NewPlatform(ctx, "platform", &PlatformArgs{Ingress: manifests.MustIngress(manifests.IngressGatewayAPI), FlaggerChartVersion: "1.44.0"})
		return err
	}, mocks.RunConfig{})
	assert.ErrorContains(t, err, "platform platform: [KgatewayChartVersion GatewayAPIVersion Hosts/RouteNamespaces] required")
}
