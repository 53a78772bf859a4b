package workloads

import (
	"testing"

	"github.com/progressive-delivery/platform/internal/pulumitest"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runPlatform(t *testing.T, args *PlatformArgs) (*pulumitest.Graph, string) {
	t.Helper()
	var hostname string
	mon, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		p, err := NewPlatform(ctx, "platform", args)
		if err != nil {
			return err
		}
		res, err := pulumitest.Await(ctx, p.GatewayHostname)
		if err != nil {
			return err
		}
		hostname, _ = res.Value.(string)
		return nil
	}, pulumitest.RunConfig{})
	require.NoError(t, err)
	return pulumitest.NewGraph(mon.Registrations()), hostname
}

func TestPlatform_GlooAndFlaggerReleases(t *testing.T) {
	t.Parallel()
	g, hostname := runPlatform(t, &PlatformArgs{GlooChartVersion: "1.14.10", FlaggerChartVersion: "1.33.0",
		ClusterName: pulumi.String("ps-eks-66")})

	ns := g.MustOne(t, "kubernetes:core/v1:Namespace", "platform-ns")
	assert.Equal(t, "gloo-system", pulumitest.MustLookup(t, ns.Inputs, "metadata", "name"))

	gloo := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-gloo")
	for path, want := range map[string]any{
		"name": "gloo", "chart": "gloo", "version": "1.14.10", "namespace": "gloo-system",
	} {
		assert.Equal(t, want, pulumitest.MustLookup(t, gloo.Inputs, path), "gloo %s", path)
	}
	assert.Equal(t, GlooRepo, pulumitest.MustLookup(t, gloo.Inputs, "repositoryOpts", "repo"))
	assert.Equal(t, false, pulumitest.MustLookup(t, gloo.Inputs, "values", "discovery", "enabled"))
	assert.Equal(t, "LoadBalancer", pulumitest.MustLookup(t, gloo.Inputs, "values", "gatewayProxies", "gatewayProxy", "service", "type"))
	assert.Contains(t, gloo.Dependencies, ns.URN, "releases wait for their namespace")

	flagger := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-flagger")
	for path, want := range map[string]any{
		"name": "flagger", "chart": "flagger", "version": "1.33.0", "namespace": "gloo-system",
	} {
		assert.Equal(t, want, pulumitest.MustLookup(t, flagger.Inputs, path), "flagger %s", path)
	}
	assert.Equal(t, FlaggerRepo, pulumitest.MustLookup(t, flagger.Inputs, "repositoryOpts", "repo"))
	values := pulumitest.MustLookup(t, flagger.Inputs, "values").(map[string]any)
	assert.Equal(t, "gloo", values["meshProvider"])
	assert.Equal(t, map[string]any{"install": true}, values["prometheus"])
	assert.Equal(t, "ps-eks-66", values["clusterName"])
	assert.NotContains(t, values, "slack", "no Slack values unless configured")

	assert.Len(t, g.Find("kubernetes:helm.sh/v3:Release"), 2, "one Gloo and one Flagger release, no Datadog by default")

	proxy := g.MustOne(t, "kubernetes:core/v1:Service", "platform-gateway-proxy")
	assert.Equal(t, "gloo-system/gateway-proxy", proxy.ReadID, "the gateway-proxy Service is read, not created")
	assert.True(t, g.DependsOn(proxy.URN, gloo.URN), "the Service is read after the Gloo release")
	assert.Equal(t, "a1b2c3-gateway-proxy.us-west-1.elb.amazonaws.com", hostname)
}

func TestPlatform_SlackInTheSameFlaggerRelease(t *testing.T) {
	t.Parallel()
	g, _ := runPlatform(t, &PlatformArgs{GlooChartVersion: "1.14.10", FlaggerChartVersion: "1.33.0",
		Slack: &SlackArgs{URL: pulumi.ToSecret(pulumi.String("https://hooks.slack.com/services/T/B/X")).(pulumi.StringOutput),
			Channel: "general", User: "flagger"}})
	flaggers := 0
	for _, r := range g.Find("kubernetes:helm.sh/v3:Release") {
		if pulumitest.MustLookup(t, r.Inputs, "chart") == "flagger" {
			flaggers++
		}
	}
	assert.Equal(t, 1, flaggers, "Slack does not add a second Flagger release")
	flagger := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-flagger")
	assert.Equal(t, map[string]any{"url": "https://hooks.slack.com/services/T/B/X", "channel": "general", "user": "flagger"},
		pulumitest.MustLookup(t, flagger.Inputs, "values", "slack"))
	assert.Equal(t, "gloo", pulumitest.MustLookup(t, flagger.Inputs, "values", "meshProvider"), "mesh values kept")
	assert.True(t, pulumitest.IsSecret(flagger.Inputs, "values", "slack", "url"), "the webhook stays secret")
}

func TestPlatform_Datadog(t *testing.T) {
	t.Parallel()
	g, _ := runPlatform(t, &PlatformArgs{GlooChartVersion: "1.14.10", FlaggerChartVersion: "1.33.0",
		Datadog: &DatadogArgs{ChartVersion: "3.69.3", APIKey: pulumi.ToSecret(pulumi.String("dd-key")).(pulumi.StringOutput)}})
	dd := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-datadog")
	for path, want := range map[string]any{"name": "datadog", "chart": "datadog", "version": "3.69.3", "namespace": "datadog"} {
		assert.Equal(t, want, pulumitest.MustLookup(t, dd.Inputs, path), path)
	}
	assert.Equal(t, DatadogRepo, pulumitest.MustLookup(t, dd.Inputs, "repositoryOpts", "repo"))
	assert.Equal(t, "dd-key", pulumitest.MustLookup(t, dd.Inputs, "values", "datadog", "apiKey"))
	assert.True(t, pulumitest.IsSecret(dd.Inputs, "values", "datadog", "apiKey"))
	assert.Equal(t, "datadog", pulumitest.MustLookup(t, g.MustOne(t, "kubernetes:core/v1:Namespace", "platform-datadog-ns").Inputs, "metadata", "name"))
}

func TestPlatform_PreviewOfNewStackReadsNothing(t *testing.T) {
	t.Parallel()
	mon, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		_, err := NewPlatform(ctx, "platform", &PlatformArgs{GlooChartVersion: "1.14.10", FlaggerChartVersion: "1.33.0"})
		return err
	}, pulumitest.RunConfig{DryRun: true})
	require.NoError(t, err)
	// In a preview the Gloo release's status is unknown until it exists, so the Service read waits too.
	for _, r := range mon.Registrations() {
		assert.Empty(t, r.ReadID, "no read from a cluster during preview of a new stack: %s", r.Name)
	}
}

func TestPlatform_RequiresChartVersions(t *testing.T) {
	t.Parallel()
	_, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		_, err := NewPlatform(ctx, "platform", &PlatformArgs{GlooChartVersion: "1.14.10"})
		return err
	}, pulumitest.RunConfig{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "FlaggerChartVersion are required")
}
