package program

import (
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/workloads"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	shopDevs = "arn:aws:iam::123456789012:role/shop-devs"
	shopCI   = "arn:aws:iam::123456789012:user/ci/shop-ci"
)

// TestTeams_AccessScopedToTheTeamsNamespaces: a team of two namespaces and two principals gets one access entry per
// principal, each with the edit policy scoped to exactly those namespaces; the cluster admins keep theirs.
func TestTeams_AccessScopedToTheTeamsNamespaces(t *testing.T) {
	t.Parallel()
	g, _ := runDev(t, map[string]string{
		"clusterAdmins": `["arn:aws:iam::123456789012:role/platform-admins"]`,
		"teams":         `{"apps":{},"shop":{"namespaces":["shop","shop-pay"],"principals":["` + shopDevs + `","` + shopCI + `"]}}`,
	})
	team := g.MustOne(t, workloads.TypeTeam, "shop")
	var entries, associations []graph.Registration
	for _, r := range g.Find(eksfacts.AccessEntryType) {
		if r.Parent == team.URN {
			entries = append(entries, r)
		}
	}
	for _, r := range g.Find(eksfacts.AccessPolicyType) {
		if r.Parent == team.URN {
			associations = append(associations, r)
		}
	}
	require.Len(t, entries, 2, "one access entry per principal")
	require.Len(t, associations, 2)
	var principals []any
	for _, e := range entries {
		principals = append(principals, graph.MustLookup(t, e.Inputs, "principalArn"))
		assert.Equal(t, "STANDARD", graph.MustLookup(t, e.Inputs, "type"))
	}
	assert.ElementsMatch(t, []any{shopDevs, shopCI}, principals)
	for _, a := range associations {
		assert.Equal(t, "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy", graph.MustLookup(t, a.Inputs, "policyArn"))
		assert.Equal(t, "namespace", graph.MustLookup(t, a.Inputs, "accessScope", "type"))
		assert.Equal(t, []any{"shop", "shop-pay"}, graph.MustLookup(t, a.Inputs, "accessScope", "namespaces"))
		assert.Equal(t, "ps-eks-66", graph.MustLookup(t, a.Inputs, "clusterName"))
	}
	// The admins' entries stay pulumi-eks's, cluster-wide; no team association is.
	for _, a := range g.Find(eksfacts.AccessPolicyType) {
		if graph.MustLookup(t, a.Inputs, "accessScope", "type") == "cluster" {
			assert.Contains(t, graph.MustLookup(t, a.Inputs, "policyArn"), "AmazonEKSClusterAdminPolicy", a.Name)
		}
	}
}

// TestTeams_EachNamespaceGuardedAndOpenedToThePlatform: every team namespace runs under the restricted Pod Security
// Standard, with a quota, default limits and ingress policies, and the services' pods wait for the quota and limits.
func TestTeams_EachNamespaceGuardedAndOpenedToThePlatform(t *testing.T) {
	t.Parallel()
	g, _ := runDev(t, map[string]string{
		"teams":    `{"apps":{},"shop":{"namespaces":["shop","shop-pay"],"quota":{"requests":{"cpu":"3"},"pods":30},"limits":{"default":{"memory":"128Mi"}}}}`,
		"services": `{"podinfo":{},"cart":{"image":{"source":"ghcr.io/acme/cart"},"version":"1.0.0","namespace":"shop-pay","host":"cart.example.com"}}`,
	})
	for ns, team := range map[string]string{"apps": "apps", "shop": "shop", "shop-pay": "shop"} {
		namespace := g.MustOne(t, "kubernetes:core/v1:Namespace", ns+"-ns")
		assert.Equal(t, team, graph.MustLookup(t, namespace.Inputs, "metadata", "labels", workloads.TeamLabel))
		assert.Equal(t, "restricted", graph.MustLookup(t, namespace.Inputs, "metadata", "labels", "pod-security.kubernetes.io/enforce"))
		quota := g.MustOne(t, "kubernetes:core/v1:ResourceQuota", ns+"-quota")
		assert.Equal(t, ns, graph.MustLookup(t, quota.Inputs, "metadata", "namespace"))
		limits := g.MustOne(t, "kubernetes:core/v1:LimitRange", ns+"-limits")
		var policies []string
		for _, p := range g.Find("kubernetes:networking.k8s.io/v1:NetworkPolicy") {
			if graph.MustLookup(t, p.Inputs, "metadata", "namespace") == ns {
				policies = append(policies, graph.MustLookup(t, p.Inputs, "metadata", "name").(string))
			}
		}
		assert.ElementsMatch(t, []string{"default-deny-ingress", "allow-from-gateway", "allow-metrics-scrapes", "allow-from-load-testers",
			"allow-flagger-webhooks"}, policies, ns)
		if team == "shop" {
			assert.Equal(t, "3", graph.MustLookup(t, quota.Inputs, "spec", "hard", "requests.cpu"))
			assert.Equal(t, "30", graph.MustLookup(t, quota.Inputs, "spec", "hard", "pods"))
			assert.Equal(t, "128Mi", graph.MustLookup(t, limits.Inputs, "spec", "limits", 0, "default", "memory"))
			assert.Equal(t, "100m", graph.MustLookup(t, limits.Inputs, "spec", "limits", 0, "defaultRequest", "cpu"))
		}
	}
	deny := g.MustOne(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "shop-default-deny-ingress")
	assert.Equal(t, []any{"Ingress"}, graph.MustLookup(t, deny.Inputs, "spec", "policyTypes"))
	_, err := graph.Lookup(deny.Inputs, "spec", "ingress")
	assert.Error(t, err, "default deny: no ingress rule")
	gateway := g.MustOne(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "shop-allow-from-gateway")
	assert.Equal(t, "gloo-system", graph.MustLookup(t, gateway.Inputs, "spec", "ingress", 0, "from", 0, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"))
	assert.Equal(t, "gateway-proxy", graph.MustLookup(t, gateway.Inputs, "spec", "ingress", 0, "from", 0, "podSelector", "matchLabels", "gloo"))
	testers := g.MustOne(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "shop-allow-from-load-testers")
	assert.Equal(t, []any{"shop", "shop-pay"}, graph.MustLookup(t, testers.Inputs, "spec", "ingress", 0, "from", 0, "namespaceSelector", "matchExpressions", 0, "values"),
		"the team's load testers, in any of its namespaces")

	cart := g.MustOne(t, "kubernetes:apps/v1:Deployment", "cart-deployment")
	assert.True(t, g.DependsOn(cart.URN, g.MustOne(t, "kubernetes:core/v1:ResourceQuota", "shop-pay-quota").URN), "pods wait for their quota")
	assert.True(t, g.DependsOn(cart.URN, g.MustOne(t, "kubernetes:core/v1:LimitRange", "shop-pay-limits").URN), "and their default limits")
	tester := g.MustOne(t, "kubernetes:apps/v1:Deployment", "shop-pay-loadtester")
	assert.True(t, g.DependsOn(tester.URN, g.MustOne(t, "kubernetes:core/v1:ResourceQuota", "shop-pay-quota").URN))
	for _, r := range g.Find("kubernetes:core/v1:Namespace") {
		assert.False(t, strings.HasSuffix(r.Parent, "::shop-pay") && !strings.Contains(r.Parent, workloads.TypeTeam),
			"a team's namespace is the team's, not its services' (%s)", r.URN)
	}
}

// TestTeams_NoPodOutsideTheTeamsAndThePlatform: every workload the program declares runs in a team's namespace or
// in the platform's own (the ingress's, kube-system for metrics-server).
func TestTeams_NoPodOutsideTheTeamsAndThePlatform(t *testing.T) {
	t.Parallel()
	for _, ingress := range []map[string]string{{}, {"ingress": "gatewayapi", "kgatewayChartVersion": "v2.2.4", "gatewayApiVersion": "v1.4.1"}} {
		overrides := map[string]string{
			"teams":    `{"apps":{},"shop":{"namespaces":["shop","shop-pay"]}}`,
			"services": `{"podinfo":{},"cart":{"image":{"source":"ghcr.io/acme/cart"},"version":"1.0.0","namespace":"shop-pay","host":"cart.example.com"}}`,
		}
		for k, v := range ingress {
			overrides[k] = v
		}
		g, _ := runDev(t, overrides)
		allowed := []any{"apps", "shop", "shop-pay", "gloo-system", "kgateway-system", "kube-system"}
		workloads := 0
		for _, typ := range []string{"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet", "kubernetes:core/v1:Pod"} {
			for _, r := range g.Find(typ) {
				workloads++
				assert.Contains(t, allowed, graph.MustLookup(t, r.Inputs, "metadata", "namespace"), "%s %s", r.Type, r.Name)
			}
		}
		for _, r := range g.Find("kubernetes:helm.sh/v3:Release") {
			assert.Contains(t, allowed, graph.MustLookup(t, r.Inputs, "namespace"), r.Name)
		}
		assert.GreaterOrEqual(t, workloads, 4, "two services and two load testers at least")
	}
}
