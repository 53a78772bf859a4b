package tests

import (
	"fmt"
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/progressive-delivery/platform/program"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func devGraph(t *testing.T) *graph.Graph {
	t.Helper()
	mon, err := mocks.Run(program.Run, mocks.RunConfig{Config: mocks.DevConfig(nil)})
	require.NoError(t, err)
	return graph.NewGraph(mon.Registrations())
}

// TestDestroyOrder_KubernetesBeforeNodesClusterAndVPC: pulumi destroy deletes a resource only after everything
// that depends on it. Every Helm release and Kubernetes object depends, directly or through the provider, on the
// node group and the cluster, which depend on the VPC's subnets; so the releases (Gloo's gateway-proxy load
// balancer above all, which would block the VPC's deletion) go first.
func TestDestroyOrder_KubernetesBeforeNodesClusterAndVPC(t *testing.T) {
	t.Parallel()
	g := devGraph(t)
	nodes := g.MustOne(t, "eks:index:ManagedNodeGroup", "cluster-nodes")
	cluster := g.MustOne(t, "eks:index:Cluster", "cluster-eks")
	kubernetesObjects := 0
	for _, r := range g.Order {
		if !strings.HasPrefix(r.Type, "kubernetes:") {
			continue
		}
		kubernetesObjects++
		assert.True(t, g.DependsOn(r.URN, nodes.URN), "%s %s is destroyed before the node group", r.Type, r.Name)
		assert.True(t, g.DependsOn(r.URN, cluster.URN), "%s %s is destroyed before the cluster", r.Type, r.Name)
	}
	assert.GreaterOrEqual(t, kubernetesObjects, 12)
	for _, s := range g.Find("aws:ec2/subnet:Subnet") {
		assert.True(t, g.DependsOn(cluster.URN, s.URN), "the cluster is destroyed before subnet %s", s.Name)
	}
	for _, r := range g.Find("aws:ec2/route:Route") {
		if strings.Contains(r.Name, "private") {
			assert.True(t, g.DependsOn(nodes.URN, r.URN), "nodes go before NAT route %s", r.Name)
		}
	}
	// The gateway-proxy load balancer lives in the gloo-system namespace that Pulumi deletes and waits for.
	gloo := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-gloo")
	ns := g.MustOne(t, "kubernetes:core/v1:Namespace", "platform-ns")
	assert.True(t, g.DependsOn(gloo.URN, ns.URN), "the Gloo release is uninstalled before its namespace is deleted")
	assert.True(t, g.DependsOn(ns.URN, nodes.URN), "the namespace (and the load balancer) is gone before the nodes")

	repo := g.MustOne(t, "aws:ecr/repository:Repository", "podinfo-mirror-repo")
	assert.Equal(t, true, graph.MustLookup(t, repo.Inputs, "forceDelete"), "the repository is deleted with its images")
}

// nominalMinutes are the durations of the slow steps; everything else is close to zero.
var nominalMinutes = map[string]float64{
	"eks:index:Cluster":             10,
	"eks:index:ManagedNodeGroup":    4,
	"aws:ec2/natGateway:NatGateway": 2,
	"docker:index/image:Image":      1,
	"kubernetes:helm.sh/v3:Release": 2,
}

// criticalPath returns the longest chain of nominal durations through the dependency graph, and that chain.
func criticalPath(g *graph.Graph) (float64, []string) {
	finish := map[string]float64{}
	via := map[string]string{}
	var visit func(string) float64
	visit = func(urn string) float64 {
		if f, ok := finish[urn]; ok {
			return f
		}
		finish[urn] = 0 // cycle guard; the graph is acyclic
		longest := 0.0
		for _, d := range g.DirectDeps(urn) {
			if f := visit(d); f > longest {
				longest, via[urn] = f, d
			}
		}
		finish[urn] = longest + nominalMinutes[g.ByURN[urn].Type]
		return finish[urn]
	}
	end, total := "", 0.0
	for _, r := range g.Order {
		if f := visit(r.URN); f > total {
			end, total = r.URN, f
		}
	}
	var chain []string
	for u := end; u != ""; u = via[u] {
		if m := nominalMinutes[g.ByURN[u].Type]; m > 0 {
			chain = append([]string{fmt.Sprintf("%s (%g min)", g.ByURN[u].Name, m)}, chain...)
		}
	}
	return total, chain
}

// TestDeployCriticalPath compares the longest chain of the declared graph with the serial sum that the
// walkthrough's step-by-step order costs (every slow step after the previous one).
func TestDeployCriticalPath(t *testing.T) {
	t.Parallel()
	g := devGraph(t)
	serial := 0.0
	for _, r := range g.Order {
		serial += nominalMinutes[r.Type]
	}
	critical, chain := criticalPath(g)
	ratio := critical / serial
	t.Logf("critical path %.0f min: %s", critical, strings.Join(chain, " -> "))
	t.Logf("serial (walkthrough order) %.0f min; ratio %.2f", serial, ratio)
	fmt.Printf("deploy critical path: %.0f min of %.0f min serial, ratio %.2f\n", critical, serial, ratio)
	assert.Equal(t, 16.0, critical, "control plane 10 + node group 4 + one Helm release 2")
	assert.Less(t, ratio, 0.6)
}
