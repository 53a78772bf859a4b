package program

import (
	"strings"
	"testing"
	"time"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/progressive-delivery/platform/program/upgrade"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runningAt is a cluster EKS runs at version, its node group at nodes, its add-ons at that version's defaults.
func runningAt(version, nodes string) *mocks.RunningCluster {
	addons := map[string]string{}
	for _, name := range []string{"vpc-cni", "coredns", "kube-proxy"} {
		addons[name] = mocks.AddonVersion(name, version)
	}
	return &mocks.RunningCluster{Version: version, NodeGroupVersion: nodes, Addons: addons}
}

// planUnderMocks runs PlanCluster for a dev stack set to version, the cluster's versions coming from the mocked
// eks.LookupCluster and LookupNodeGroup.
func planUnderMocks(t *testing.T, running *mocks.RunningCluster, version string) (upgrade.Plan, []string, error) {
	t.Helper()
	var plan upgrade.Plan
	var warnings []string
	_, err := mocks.Run(func(ctx *pulumi.Context) error {
		cfg, err := LoadConfig(ctx)
		require.NoError(t, err)
		plan, warnings, err = PlanCluster(ctx, cfg, time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC))
		return err
	}, mocks.RunConfig{Config: mocks.DevConfig(map[string]string{"kubernetesVersion": version}), DryRun: true, Running: running})
	return plan, warnings, err
}

func TestUpgrade_OneMinorUpPasses(t *testing.T) {
	t.Parallel()
	plan, warnings, err := planUnderMocks(t, runningAt("1.34", "1.34"), "1.35")
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.Equal(t, "1.35", plan.ControlPlane)
	assert.Equal(t, "1.35", plan.NodeGroup)
	for _, c := range plan.Checks {
		assert.True(t, c.Pass, "%s: %s", c.Name, c.Detail)
	}
	assert.Equal(t, mocks.AddonVersion("coredns", "1.35"), plan.Addons["coredns"], "add-ons move to 1.35's versions")
	// The steps in the order AWS requires.
	require.Len(t, plan.Steps, 4, "%q", plan.Steps)
	for i, prefix := range []string{"control plane: 1.34 → 1.35", "node group nodegroup: 1.34 → 1.35", "EKS add-ons", "charts"} {
		assert.True(t, strings.HasPrefix(plan.Steps[i], prefix), "step %d %q, want %q first", i+1, plan.Steps[i], prefix)
	}
}

func TestUpgrade_TwoMinorsAreRefusedNamingTheOneBetween(t *testing.T) {
	t.Parallel()
	_, _, err := planUnderMocks(t, runningAt("1.34", "1.34"), "1.36")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kubernetesVersion: 1.36 is 2 minor versions above the cluster's 1.34 (as EKS reports it)")
	assert.Contains(t, err.Error(), "1.34 → 1.35, then 1.35 → 1.36")
	assert.Contains(t, err.Error(), "nothing was changed")
}

func TestUpgrade_ADowngradeIsRefused(t *testing.T) {
	t.Parallel()
	_, _, err := planUnderMocks(t, runningAt("1.35", "1.35"), "1.33")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kubernetesVersion: 1.33 is below the cluster's 1.35 (as EKS reports it): EKS never downgrades a cluster")
	assert.Contains(t, err.Error(), "the lowest this cluster can go is 1.34")
}

func TestUpgrade_TheRollbackWarnsAndTakesTheNodeGroupBackFirst(t *testing.T) {
	t.Parallel()
	plan, warnings, err := planUnderMocks(t, runningAt("1.35", "1.35"), "1.34")
	require.NoError(t, err)
	joined := strings.Join(warnings, "\n")
	assert.Contains(t, joined, "kubernetesVersion 1.35 → 1.34 is EKS's rollback")
	assert.Contains(t, joined, "within 7 days of the in-place upgrade to 1.35")
	assert.Contains(t, joined, "EKS add-ons are not rolled back")
	// This up: the node group only; a node may not be newer than the API server.
	assert.Equal(t, "1.35", plan.ControlPlane, "the control plane waits for the next up")
	assert.Equal(t, "1.34", plan.NodeGroup)
	assert.Equal(t, mocks.AddonVersion("vpc-cni", "1.35"), plan.Addons["vpc-cni"], "an add-on is not taken back")
	assert.Contains(t, joined, "EKS add-on vpc-cni stays at "+mocks.AddonVersion("vpc-cni", "1.35"))

	// The next up, the node group back at 1.34: the control plane follows.
	plan, _, err = planUnderMocks(t, runningAt("1.35", "1.34"), "1.34")
	require.NoError(t, err)
	assert.Equal(t, "1.34", plan.ControlPlane)
	assert.Contains(t, plan.Steps[0], "control plane: 1.35 → 1.34 (EKS rollback)")
}

func TestUpgrade_ANodeGroupBehindMustCatchUpFirst(t *testing.T) {
	t.Parallel()
	_, _, err := planUnderMocks(t, runningAt("1.33", "1.32"), "1.34")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "node group nodegroup runs 1.32 and the control plane 1.33: EKS updates a control plane only when its node groups match it")
	assert.Contains(t, err.Error(), "apply 1.33 first")

	// At the control plane's version, the node group catches up alone.
	plan, _, err := planUnderMocks(t, runningAt("1.33", "1.32"), "1.33")
	require.NoError(t, err)
	assert.Equal(t, "1.33", plan.NodeGroup)
	assert.Contains(t, plan.Steps[0], "node group nodegroup: 1.32 → 1.33")
}

func TestUpgrade_ANewStackHasNothingToCheck(t *testing.T) {
	t.Parallel()
	plan, warnings, err := planUnderMocks(t, nil, "1.35")
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.False(t, plan.From.Exists())
	assert.Equal(t, "1.35", plan.ControlPlane)
	assert.Equal(t, mocks.AddonVersion("kube-proxy", "1.35"), plan.Addons["kube-proxy"], "add-ons pinned from eks.getAddonVersion")
}

func TestUpgrade_AnAddonWithoutAVersionForTheTargetIsRefused(t *testing.T) {
	t.Parallel()
	// The mocked EKS offers no 1.36 yet, nor its add-ons.
	_, _, err := planUnderMocks(t, runningAt("1.35", "1.35"), "1.36")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "EKS names no vpc-cni add-on version for Kubernetes 1.36")
}

func TestUpgrade_AChartThatDoesNotSupportTheTargetIsRefusedNamingOneThatDoes(t *testing.T) {
	t.Parallel()
	_, err := mocks.Run(Run, mocks.RunConfig{Config: mocks.DevConfig(map[string]string{
		"kubernetesVersion": "1.34", "glooChartVersion": "1.19.0"}), DryRun: true, Running: runningAt("1.33", "1.33")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kubernetesVersion: 1.34 is outside what gloo 1.19.x supports (Kubernetes 1.28 to 1.32, its support table); "+
		"gloo 1.22.x supports 1.34: set glooChartVersion to a 1.22.x release")
}

// The order AWS requires, read from the mock graph: the control plane, then the node group, then the EKS add-ons
// and every chart; nothing of the cluster waits for what comes after it.
func TestUpgrade_TheGraphOrdersControlPlaneNodeGroupAddonsAndCharts(t *testing.T) {
	t.Parallel()
	g, _ := mocks.MustRun(t, mocks.RunConfig{Config: mocks.DevConfig(map[string]string{"kubernetesVersion": "1.35"}), Running: runningAt("1.34", "1.34")},
		func(ctx *pulumi.Context) (map[string]pulumi.Output, error) { return nil, Run(ctx) })
	cluster := g.MustOne(t, "eks:index:Cluster", "cluster-eks")
	nodes := g.MustOne(t, "eks:index:ManagedNodeGroup", "cluster-nodes")
	assert.Equal(t, "1.35", graph.MustLookup(t, cluster.Inputs, "version"))
	assert.Equal(t, "1.35", graph.MustLookup(t, nodes.Inputs, "version"), "the node group follows the control plane")
	assert.True(t, g.DependsOn(nodes.URN, cluster.URN), "node group after the control plane")
	assert.False(t, g.DependsOn(cluster.URN, nodes.URN))

	addons := g.Find("aws:eks/addon:Addon")
	require.Len(t, addons, 3)
	for _, a := range addons {
		name := graph.MustLookup(t, a.Inputs, "addonName").(string)
		assert.Equal(t, mocks.AddonVersion(name, "1.35"), graph.MustLookup(t, a.Inputs, "addonVersion"), name)
		assert.True(t, g.DependsOn(a.URN, nodes.URN), "%s after the node group", name)
		assert.False(t, g.DependsOn(nodes.URN, a.URN))
	}
	charts := g.Find("kubernetes:helm.sh/v3:Release")
	require.NotEmpty(t, charts)
	for _, c := range charts {
		assert.True(t, g.DependsOn(c.URN, nodes.URN), "chart %s after the node group", c.Name)
		assert.False(t, g.DependsOn(cluster.URN, c.URN))
	}
}
