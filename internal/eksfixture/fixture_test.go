package eksfixture

import (
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/policy/rules"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionIn_ReadsRequireAndReplace(t *testing.T) {
	t.Parallel()
	gomod := "module x\n\nrequire (\n\tgithub.com/pulumi/pulumi-eks/sdk/v2 v2.8.1\n\tgithub.com/other v1.0.0 // indirect\n)\n"
	v, err := versionIn(gomod, Module)
	require.NoError(t, err)
	assert.Equal(t, "v2.8.1", v)

	v, err = versionIn(gomod+"replace github.com/pulumi/pulumi-eks/sdk/v2 => github.com/pulumi/pulumi-eks/sdk/v2 v2.9.0\n", Module)
	require.NoError(t, err)
	assert.Equal(t, "v2.9.0", v, "a replace decides what is built")

	_, err = versionIn("module x\n", Module)
	assert.ErrorContains(t, err, "does not require")
}

// A bump of pulumi-eks in go.mod without regenerating the fixture fails, and says what to run.
func TestCheckVersion_FailsOnAMismatchAndSaysWhatToRun(t *testing.T) {
	t.Parallel()
	f, err := Load()
	require.NoError(t, err)
	require.NoError(t, f.CheckVersion(), "the fixture matches this repository's go.mod")

	stale := *f
	stale.PulumiEks = "2.7.0"
	err = stale.CheckVersion()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "generated from @pulumi/eks 2.7.0")
	assert.Contains(t, err.Error(), "go generate ./internal/eksfixture")
}

// The names the policy pack and its waivers use for what pulumi-eks creates are names pulumi-eks gives: a
// renamed child would otherwise unhook a rule or a waiver without a test noticing.
func TestFixture_HoldsTheNamesThePolicyPackUses(t *testing.T) {
	t.Parallel()
	f, err := Load()
	require.NoError(t, err)
	children := map[string]bool{}
	names := map[string]bool{}
	for _, c := range f.Children {
		children[c.Key()] = true
		names[c.Name] = true
	}
	for _, key := range []string{
		eksfacts.ClusterType + "::" + eksfacts.ClusterResourceName("cluster-eks"),
		eksfacts.OIDCProviderType + "::" + eksfacts.OIDCProviderName("cluster-eks"),
		eksfacts.NodeGroupType + "::cluster-nodes",
	} {
		assert.True(t, children[key], "pulumi-eks creates %s", key)
	}
	for _, w := range rules.Waivers {
		if strings.HasPrefix(w.Resource, "cluster-eks-") {
			assert.True(t, names[w.Resource], "waiver %s/%s names %s, which pulumi-eks %s does not create", w.Stack, w.Policy, w.Resource, f.PulumiEks)
		}
	}
}
