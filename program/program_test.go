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

func runDev(t *testing.T, overrides map[string]string) (*graph.Graph, map[string]mocks.Awaited) {
	t.Helper()
	return runWith(t, mocks.DevConfig(overrides), nil)
}

// runWith runs the program with cfg (secrets named) and awaits every stack output.
func runWith(t *testing.T, cfg map[string]string, secrets []string) (*graph.Graph, map[string]mocks.Awaited) {
	t.Helper()
	return mocks.MustRun(t, mocks.RunConfig{Config: cfg, Secrets: secrets}, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		var outputs Outputs
		err := RunWithOutputs(func(_ *pulumi.Context, out Outputs) error {
			outputs = out
			return nil
		})(ctx)
		return outputs, err
	})
}

func TestProgram_Outputs(t *testing.T) {
	t.Parallel()
	_, out := runDev(t, nil)
	repo := mocks.AccountID + ".dkr.ecr.us-west-1.amazonaws.com/ps-flagger-repository"
	host := "a1b2c3-gateway-proxy.us-west-1.elb.amazonaws.com"
	want := map[string]any{
		"repositoryUrl":   repo,
		"clusterName":     "ps-eks-66",
		"gatewayHostname": host,
		"appUrl":          "http://" + host + "/",
		"curlCommand":     "curl -H 'Host: podinfo.example.com' http://" + host + "/",
		"podinfoImage":    repo + ":6.0.0",
		"ingress":         "gloo",
		"podinfoSourceDigests": map[string]string{
			"6.0.0": mocks.SourceDigest("6.0.0"), "6.0.1": mocks.SourceDigest("6.0.1"), "6.0.2": mocks.SourceDigest("6.0.2"),
			"6.1.0": mocks.SourceDigest("6.1.0"), "6.1.5": mocks.SourceDigest("6.1.5"), "6.1.6": mocks.SourceDigest("6.1.6"),
		},
	}
	for name, v := range want {
		assert.Equal(t, v, out[name].Value, name)
		assert.False(t, out[name].Secret, "%s is not secret", name)
	}
	require.Contains(t, out, "kubeconfig")
	assert.True(t, out["kubeconfig"].Secret, "kubeconfig is a secret output")
	require.Contains(t, out, "services")
	podinfo := out["services"].Value.(map[string]any)["podinfo"].(map[string]any)
	assert.Equal(t, map[string]any{"image": repo + ":6.0.0", "host": "podinfo.example.com", "namespace": "apps", "canary": "podinfo",
		"curlCommand": want["curlCommand"], "repositoryUrl": repo, "sourceDigests": podinfo["sourceDigests"]}, podinfo, "the outputs keyed by service")
	assert.Len(t, out, len(want)+2, "exactly the walkthrough's outputs, the mirrored digests, the ingress and the services")
}

func TestProgram_ComponentsAndTypeTokens(t *testing.T) {
	t.Parallel()
	g, _ := runDev(t, nil)
	stack := "urn:pulumi:test::progressive-delivery::pulumi:pulumi:Stack::progressive-delivery-test"
	for token, name := range map[string]string{
		"progressive-delivery:infra:Network":              "network",
		"progressive-delivery:infra:Cluster":              "cluster",
		"progressive-delivery:workloads:Platform":         "platform",
		"progressive-delivery:workloads:Service":          "podinfo",
		"progressive-delivery:workloads:ServiceNamespace": "apps",
	} {
		c := g.MustOne(t, token, name)
		assert.Equal(t, stack, c.Parent, "%s is a top-level component", token)
	}
	for _, r := range g.Order {
		if !strings.HasPrefix(r.Type, "progressive-delivery:") {
			assert.NotEqual(t, stack, r.Parent, "%s %s must be parented to a component", r.Type, r.Name)
		}
	}
}

func TestProgram_ImagePushesRunBesideTheCluster(t *testing.T) {
	t.Parallel()
	g, _ := runDev(t, nil)
	repo := g.MustOne(t, "aws:ecr/repository:Repository", "podinfo-mirror-repo")
	cluster := g.MustOne(t, "eks:index:Cluster", "cluster-eks")
	nodes := g.MustOne(t, "eks:index:ManagedNodeGroup", "cluster-nodes")
	pushes := g.Find("docker:index/image:Image")
	require.Len(t, pushes, 6)
	for _, p := range pushes {
		assert.True(t, g.DependsOn(p.URN, repo.URN), "%s waits for the repository", p.Name)
		assert.False(t, g.DependsOn(p.URN, cluster.URN), "%s must not wait for the cluster", p.Name)
		assert.False(t, g.DependsOn(p.URN, nodes.URN), "%s must not wait for the nodes", p.Name)
	}
	// The Deployment waits for the push of the tag it runs, and for no other.
	deployment := g.MustOne(t, "kubernetes:apps/v1:Deployment", "podinfo-deployment")
	assert.True(t, g.DependsOn(deployment.URN, g.MustOne(t, "docker:index/image:Image", "podinfo-mirror-podinfo-6-0-0").URN))
	assert.False(t, g.DependsOn(deployment.URN, g.MustOne(t, "docker:index/image:Image", "podinfo-mirror-podinfo-6-1-6").URN))
}

func TestProgram_NodesWaitForNATButTheControlPlaneDoesNot(t *testing.T) {
	t.Parallel()
	g, _ := runDev(t, nil)
	cluster := g.MustOne(t, "eks:index:Cluster", "cluster-eks")
	nodes := g.MustOne(t, "eks:index:ManagedNodeGroup", "cluster-nodes")
	nat := g.Find("aws:ec2/natGateway:NatGateway")
	require.Len(t, nat, 1)
	for _, zone := range []string{"us-west-1a", "us-west-1b"} {
		route := g.MustOne(t, "aws:ec2/route:Route", "network-private-default-"+zone)
		assert.True(t, g.DependsOn(nodes.URN, route.URN), "nodes wait for the NAT route of %s", zone)
		assert.False(t, g.DependsOn(cluster.URN, route.URN), "the control plane does not wait for the NAT route of %s", zone)
	}
	assert.True(t, g.DependsOn(nodes.URN, nat[0].URN))
	assert.False(t, g.DependsOn(cluster.URN, nat[0].URN), "the cluster itself does not wait for NAT")
	assert.True(t, g.DependsOn(cluster.URN, g.MustOne(t, "aws:ec2/subnet:Subnet", "network-private-us-west-1a").URN))
	assert.Equal(t, "network-vpc-id", graph.MustLookup(t, cluster.Inputs, "vpcId"), "the cluster uses the dedicated VPC")
	assert.Equal(t, []any{"network-private-us-west-1a-id", "network-private-us-west-1b-id"},
		graph.MustLookup(t, nodes.Inputs, "subnetIds"), "nodes in the private subnets")
}

func TestProgram_KubernetesObjectsUseTheClusterProvider(t *testing.T) {
	t.Parallel()
	g, _ := runDev(t, nil)
	provider := g.MustOne(t, "pulumi:providers:kubernetes", "cluster-k8s")
	nodes := g.MustOne(t, "eks:index:ManagedNodeGroup", "cluster-nodes")
	assert.Contains(t, provider.Dependencies, nodes.URN, "the provider depends on the node group")
	count := 0
	for _, r := range g.Order {
		if strings.HasPrefix(r.Type, "kubernetes:") {
			count++
			assert.Equal(t, provider.URN, r.Provider, "%s %s uses the cluster provider", r.Type, r.Name)
		}
	}
	assert.GreaterOrEqual(t, count, 12)
	canary := g.MustOne(t, "kubernetes:flagger.app/v1beta1:Canary", "podinfo-canary")
	vs := g.MustOne(t, "kubernetes:gateway.solo.io/v1:VirtualService", "podinfo-route")
	gloo := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-gloo")
	flagger := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-flagger")
	assert.True(t, g.DependsOn(canary.URN, flagger.URN), "Canary after flagger")
	assert.True(t, g.DependsOn(canary.URN, gloo.URN), "Canary after gloo")
	assert.True(t, g.DependsOn(vs.URN, gloo.URN), "VirtualService after gloo")
	assert.False(t, g.DependsOn(flagger.URN, gloo.URN), "Gloo and Flagger install in parallel")
}

func TestProgram_PodinfoVersionSelectsTheImage(t *testing.T) {
	t.Parallel()
	_, out := runDev(t, map[string]string{"services": `{"podinfo":{"version":"6.0.1"}}`})
	assert.Equal(t, mocks.AccountID+".dkr.ecr.us-west-1.amazonaws.com/ps-flagger-repository:6.0.1", out["podinfoImage"].Value)
}

func TestProgram_PreviewOfANewStack(t *testing.T) {
	t.Parallel()
	mon, err := mocks.Run(Run, mocks.RunConfig{Config: mocks.DevConfig(nil), DryRun: true})
	require.NoError(t, err)
	g := graph.NewGraph(mon.Registrations())
	assert.Len(t, g.Find("docker:index/image:Image"), 6, "a preview shows every push")
	assert.Len(t, g.Find("kubernetes:flagger.app/v1beta1:Canary"), 1)
}

// TestProgram_NewStackPreviewDoesNotKnowTheClusterSubnets: the subnets' IDs are computed when the VPC is
// created, so in a new stack's preview pulumi-eks's cluster has no known subnet list, and a rule must wait.
func TestProgram_NewStackPreviewDoesNotKnowTheClusterSubnets(t *testing.T) {
	t.Parallel()
	for _, preview := range []bool{true, false} {
		mon, err := mocks.Run(Run, mocks.RunConfig{Config: mocks.DevConfig(nil), DryRun: preview})
		require.NoError(t, err)
		eks, err := graph.NewGraph(mon.Registrations()).One("aws:eks/cluster:Cluster", "cluster-eks-eksCluster")
		require.NoError(t, err)
		vpc := eks.State["vpcConfig"]
		if preview {
			assert.True(t, vpc.ContainsUnknowns() && vpc.ObjectValue()["subnetIds"].IsComputed(), "unknown in a new stack's preview")
			continue
		}
		assert.Len(t, graph.MustLookup(t, eks.State, "vpcConfig", "subnetIds"), 4, "two public and two private subnets after up")
	}
}

// TestProgram_AppNamespaceHoldsTheAppLayer: a service's namespace holds every object of its app layer, and the
// Gateway admits routes from it alone.
func TestProgram_AppNamespaceHoldsTheAppLayer(t *testing.T) {
	t.Parallel()
	g, _ := runDev(t, map[string]string{"services": `{"podinfo":{"namespace":"team-a"}}`, "ingress": "gatewayapi", "kgatewayChartVersion": "v2.2.4", "gatewayApiVersion": "v1.4.1"})
	ns := g.MustOne(t, "kubernetes:core/v1:Namespace", "team-a-ns")
	assert.Equal(t, "team-a", graph.MustLookup(t, ns.Inputs, "metadata", "name"))
	namespaced := 0
	for _, r := range g.Order {
		if !strings.HasPrefix(r.Type, "kubernetes:") || !(strings.HasPrefix(r.Name, "podinfo-") || strings.HasPrefix(r.Name, "team-a-")) || r.Name == "team-a-ns" {
			continue
		}
		namespaced++
		assert.Equal(t, "team-a", graph.MustLookup(t, r.Inputs, "metadata", "namespace"), "%s %s", r.Type, r.Name)
	}
	assert.GreaterOrEqual(t, namespaced, 5, "the app's Deployment, HPA, load tester and Canary at least")
	gw := g.MustOne(t, "kubernetes:gateway.networking.k8s.io/v1:Gateway", "platform-gateway")
	assert.Equal(t, "team-a", graph.MustLookup(t, gw.Inputs, "spec", "listeners", 0, "allowedRoutes", "namespaces", "selector",
		"matchLabels", "kubernetes.io/metadata.name"))
}
