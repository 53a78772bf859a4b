package program

import (
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testKubeconfig = `{"apiVersion":"v1","kind":"Config","clusters":[{"name":"local","cluster":{"server":"https://127.0.0.1:6443"}}]}`

// runMode runs the program with cfg and returns the graph and the stack outputs' values.
func runMode(t *testing.T, cfg map[string]string, secrets []string) (*graph.Graph, map[string]any) {
	t.Helper()
	g, out := runWith(t, cfg, secrets)
	values := map[string]any{}
	for name, o := range out {
		values[name] = o.Value
	}
	return g, values
}

func assertNoAWS(t *testing.T, g *graph.Graph) {
	t.Helper()
	for _, r := range g.Order {
		for _, prefix := range []string{"aws:", "eks:", "docker:", "pulumi:providers:docker"} {
			assert.False(t, strings.HasPrefix(r.Type, prefix), "no AWS side in this mode: %s %s", r.Type, r.Name)
		}
	}
}

func TestMode_KubeconfigAppLayerOnly(t *testing.T) {
	t.Parallel()
	// No aws:region: a stack that only deploys onto a given cluster needs no AWS configuration.
	g, out := runMode(t, map[string]string{"kubeconfig": testKubeconfig, "platformInstall": "false"}, []string{"kubeconfig"})
	assertNoAWS(t, g)
	assert.Empty(t, g.Find("kubernetes:helm.sh/v3:Release"), "platformInstall=false installs no Gloo or Flagger")
	conn := g.MustOne(t, "progressive-delivery:infra:ClusterConnection", "cluster")
	provider := g.MustOne(t, "pulumi:providers:kubernetes", "cluster-k8s")
	assert.Equal(t, conn.URN, provider.Parent)
	assert.Equal(t, testKubeconfig, graph.MustLookup(t, provider.Inputs, "kubeconfig"))
	for _, r := range g.Order {
		if strings.HasPrefix(r.Type, "kubernetes:") {
			assert.Equal(t, provider.URN, r.Provider, "%s uses the given cluster", r.Name)
		}
	}
	d := g.MustOne(t, "kubernetes:apps/v1:Deployment", "podinfo-deployment")
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.0", graph.MustLookup(t, d.Inputs, "spec", "template", "spec", "containers", 0, "image"),
		"without a registry of ours the cluster pulls upstream podinfo")
	canary := g.MustOne(t, "kubernetes:flagger.app/v1beta1:Canary", "podinfo-canary")
	assert.True(t, g.DependsOn(canary.URN, d.URN))
	assert.Equal(t, map[string]any{"podinfoImage": "ghcr.io/stefanprodan/podinfo:6.0.0", "services": map[string]any{"podinfo": map[string]any{
		"canary": "podinfo", "host": "podinfo.example.com", "image": "ghcr.io/stefanprodan/podinfo:6.0.0", "namespace": "apps"}}}, out,
		"no gateway outputs when the platform belongs to someone else")
}

func TestMode_InfraStackReference(t *testing.T) {
	t.Parallel()
	g, out := runMode(t, map[string]string{"infraStack": "organization/progressive-delivery/dev", "services": `{"podinfo":{"version":"6.0.1"}}`}, nil)
	assertNoAWS(t, g)
	ref := g.MustOne(t, "pulumi:pulumi:StackReference", "cluster-infra")
	assert.Equal(t, "organization/progressive-delivery/dev", graph.MustLookup(t, ref.Inputs, "name"))
	provider := g.MustOne(t, "pulumi:providers:kubernetes", "cluster-k8s")
	assert.Contains(t, graph.MustLookup(t, provider.Inputs, "kubeconfig"), "https://infra.example", "kubeconfig from the infra stack")
	assert.True(t, g.DependsOn(provider.URN, ref.URN))
	assert.Len(t, g.Find("kubernetes:helm.sh/v3:Release"), 2, "the platform is installed by default")
	repo := mocks.AccountID + ".dkr.ecr.us-west-1.amazonaws.com/ps-flagger-repository"
	assert.Equal(t, repo+":6.0.1", out["podinfoImage"], "images from the infra stack's repository")
	assert.Equal(t, repo, out["repositoryUrl"])
	assert.Equal(t, "ps-eks-66", out["clusterName"])
	assert.NotContains(t, out, "kubeconfig", "another stack's kubeconfig is not re-exported")
	flagger := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-flagger")
	assert.Equal(t, "ps-eks-66", graph.MustLookup(t, flagger.Inputs, "values", "clusterName"))
}

func TestMode_PlatformInstallAndItsOldSpelling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		config     map[string]string
		releases   int
		deprecated bool
	}{
		{"Pulumi.yaml default", map[string]string{"platformInstall": "true"}, 2, false},
		{"platformInstall false", map[string]string{"platformInstall": "false"}, 0, false},
		{"old literal key", map[string]string{"platform.install": "false"}, 0, true},
		{"old key as config set --path writes it", map[string]string{"platform": `{"install":false}`}, 0, true},
		{"the old key wins over the default the CLI passes", map[string]string{"platformInstall": "true", "platform.install": "false"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := map[string]string{"kubeconfig": testKubeconfig}
			for k, v := range tt.config {
				cfg[k] = v
			}
			g, _ := runMode(t, cfg, []string{"kubeconfig"})
			assert.Len(t, g.Find("kubernetes:helm.sh/v3:Release"), tt.releases)
			var loaded Config
			_, err := mocks.Run(func(ctx *pulumi.Context) error {
				var err error
				loaded, err = LoadConfig(ctx)
				return err
			}, mocks.RunConfig{Config: cfg, Secrets: []string{"kubeconfig"}})
			require.NoError(t, err)
			if !tt.deprecated {
				assert.Empty(t, loaded.Deprecations)
				return
			}
			require.Len(t, loaded.Deprecations, 1)
			assert.Contains(t, loaded.Deprecations[0], "platform.install is deprecated")
			assert.Contains(t, loaded.Deprecations[0], "pulumi config set platformInstall false")
		})
	}
	for _, bad := range []map[string]string{{"platform": `{"install":"sometimes"}`}, {"platform.install": "sometimes"}} {
		bad["kubeconfig"] = testKubeconfig
		_, err := mocks.Run(Run, mocks.RunConfig{Config: bad, Secrets: []string{"kubeconfig"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `platform.install: want true or false, got "sometimes"`)
	}
}

// TestMode_AppLayerMustMatchTheInfraStacksIngress: an app-only stack on another stack's platform refuses a
// Canary provider that platform's Flagger cannot route.
func TestMode_AppLayerMustMatchTheInfraStacksIngress(t *testing.T) {
	t.Parallel()
	cfg := map[string]string{"infraStack": "organization/progressive-delivery/dev", "platformInstall": "false", "ingress": "gatewayapi"}
	mon, err := mocks.Run(Run, mocks.RunConfig{Config: cfg})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `ingress: "gatewayapi", but the platform of infraStack organization/progressive-delivery/dev runs "gloo", `+
		"so Flagger there cannot route a Canary of provider gatewayapi:v1; set `pulumi config set ingress gloo`")
	for _, r := range mon.Registrations() {
		assert.False(t, strings.HasPrefix(r.Type, "kubernetes:") && r.Type != "pulumi:providers:kubernetes", "nothing on the cluster: %s", r.Name)
	}
	cfg["ingress"] = "gloo"
	_, err = mocks.Run(Run, mocks.RunConfig{Config: cfg})
	assert.NoError(t, err, "the matching ingress deploys")
}
