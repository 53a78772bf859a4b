package infra

import (
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

func devClusterArgs() *ClusterArgs {
	return &ClusterArgs{
		Name:             "ps-eks-66",
		Version:          "1.24",
		NodeGroupVersion: "1.24",
		VpcID:            pulumi.String("vpc-1"),
		PublicSubnetIDs:  pulumi.ToStringArray([]string{"pub-a", "pub-b"}),
		PrivateSubnetIDs: pulumi.ToStringArray([]string{"priv-a", "priv-b"}),
		NodeGroup: NodeGroupSpec{Name: "nodegroup", InstanceType: "m5.2xlarge", DiskSizeGiB: 100,
			MinSize: 2, DesiredSize: 2, MaxSize: 4},
		MetricsServerChartVersion: "3.8.2",
		PublicAccessCIDRs:         []string{"0.0.0.0/0"},
		Partition:                 "aws",
		LogTypes:                  eksfacts.AllLogTypes,
		LogRetentionDays:          30,
	}
}

func runCluster(t *testing.T, args *ClusterArgs) (*graph.Graph, map[string]mocks.Awaited) {
	t.Helper()
	return mocks.MustRun(t, mocks.RunConfig{}, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		c, err := NewCluster(ctx, "cluster", args)
		if err != nil {
			return nil, err
		}
		return map[string]pulumi.Output{"clusterName": c.ClusterName, "kubeconfig": c.Kubeconfig}, nil
	})
}

func TestCluster_SpecValues(t *testing.T) {
	t.Parallel()
	g, outputs := runCluster(t, devClusterArgs())

	eks := g.MustOne(t, "eks:index:Cluster", "cluster-eks")
	assert.True(t, eks.Remote, "pulumi-eks Cluster is a remote component")
	for path, want := range map[string]any{
		"name":                  "ps-eks-66",
		"version":               "1.24",
		"vpcId":                 "vpc-1",
		"skipDefaultNodeGroup":  true,
		"endpointPrivateAccess": true,
		"endpointPublicAccess":  true,
	} {
		assert.Equal(t, want, graph.MustLookup(t, eks.Inputs, path), path)
	}
	assert.Equal(t, []any{"pub-a", "pub-b"}, graph.MustLookup(t, eks.Inputs, "publicSubnetIds"))
	assert.Equal(t, []any{"priv-a", "priv-b"}, graph.MustLookup(t, eks.Inputs, "privateSubnetIds"))
	assert.Equal(t, []any{"0.0.0.0/0"}, graph.MustLookup(t, eks.Inputs, "publicAccessCidrs"))

	own := g.Declared()
	role := g.MustOne(t, "aws:iam/role:Role", "cluster-node-role")
	assert.Contains(t, graph.MustLookup(t, role.Inputs, "assumeRolePolicy"), `"Service":"ec2.amazonaws.com"`)
	var policies []string
	for _, a := range own.Find("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		policies = append(policies, graph.MustLookup(t, a.Inputs, "policyArn").(string))
	}
	assert.ElementsMatch(t, []string{
		"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
		"arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
		"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
	}, policies, "exactly the three node policies")
	assert.Equal(t, "API", graph.MustLookup(t, eks.Inputs, "authenticationMode"), "access entries, no aws-auth ConfigMap")
	assert.Equal(t, []any{}, graph.MustLookup(t, eks.Inputs, "instanceRoles"),
		"an empty list, so pulumi-eks makes no node role of its own; API mode refuses a non-empty one")
	assert.Equal(t, true, graph.MustLookup(t, eks.Inputs, "useDefaultVpcCni"), "EKS's own VPC CNI, no kubectl apply")

	// What pulumi-eks creates from those inputs (cluster.js, nodegroup.js).
	awsCluster := g.MustOne(t, "aws:eks/cluster:Cluster", "cluster-eks-eksCluster")
	assert.Equal(t, eks.URN, awsCluster.Parent)
	assert.Equal(t, map[string]any{"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": true},
		graph.MustLookup(t, awsCluster.State, "accessConfig"), "the creator stays admin")
	assert.Empty(t, g.Find("eks:index:VpcCni"), "no bundled CNI")
	assert.Empty(t, g.Find("kubernetes:core/v1:ConfigMap"), "no aws-auth ConfigMap")
	assert.Empty(t, g.Find("aws:eks/accessEntry:AccessEntry"), "no clusterAdmins, no entries")
	assert.Equal(t, "1.24", graph.MustLookup(t, awsCluster.State, "version"))
	assert.Equal(t, []any{"0.0.0.0/0"}, graph.MustLookup(t, awsCluster.State, "vpcConfig", "publicAccessCidrs"))
	assert.Equal(t, []any{"secrets"}, graph.MustLookup(t, awsCluster.State, "encryptionConfig", "resources"))
	awsNodes := g.MustOne(t, "aws:eks/nodeGroup:NodeGroup", "cluster-nodes")
	assert.Equal(t, graph.MustLookup(t, role.State, "arn"), graph.MustLookup(t, awsNodes.State, "nodeRoleArn"), "nodes run as the node role")
	assert.Equal(t, "ps-eks-66", graph.MustLookup(t, awsNodes.State, "clusterName"))

	logs := g.MustOne(t, "aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane-logs")
	assert.Equal(t, "/aws/eks/ps-eks-66/cluster", graph.MustLookup(t, logs.Inputs, "name"), "the name EKS writes to")
	assert.Equal(t, float64(30), graph.MustLookup(t, logs.Inputs, "retentionInDays"))
	assert.True(t, g.DependsOn(eks.URN, logs.URN), "the program's log group exists before EKS would create its own")

	ng := g.MustOne(t, "eks:index:ManagedNodeGroup", "cluster-nodes")
	assert.True(t, ng.Remote)
	assert.Equal(t, "nodegroup", graph.MustLookup(t, ng.Inputs, "nodeGroupName"))
	lt := g.MustOne(t, "aws:ec2/launchTemplate:LaunchTemplate", "cluster-node-template")
	assert.Equal(t, lt.Name+"-id", graph.MustLookup(t, ng.Inputs, "launchTemplate", "id"), "nodes use the launch template")
	assert.Equal(t, map[string]any{"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": float64(1)},
		graph.MustLookup(t, lt.Inputs, "metadataOptions"), "IMDSv2 required, hop limit 1")
	ebs := graph.MustLookup(t, lt.Inputs, "blockDeviceMappings", 0, "ebs").(map[string]any)
	assert.Equal(t, float64(100), ebs["volumeSize"], "100 GiB node disk")
	assert.Equal(t, "true", ebs["encrypted"])
	_, err := graph.Lookup(lt.Inputs, "keyName")
	assert.Error(t, err, "no SSH key: node access is kubectl debug")
	_, err = graph.Lookup(ng.Inputs, "diskSize")
	assert.Error(t, err, "disk size comes from the launch template (EKS refuses both)")

	key := g.MustOne(t, "aws:kms/key:Key", "cluster-secrets-key")
	assert.Equal(t, true, graph.MustLookup(t, key.Inputs, "enableKeyRotation"))
	assert.True(t, g.DependsOn(eks.URN, key.URN), "secrets are envelope-encrypted with the key")
	assert.Equal(t, []any{"api", "audit", "authenticator", "controllerManager", "scheduler"},
		graph.MustLookup(t, eks.Inputs, "enabledClusterLogTypes"), "all five control-plane logs")
	assert.Equal(t, true, graph.MustLookup(t, eks.Inputs, "createOidcProvider"), "IRSA")
	assert.Equal(t, []any{"m5.2xlarge"}, graph.MustLookup(t, ng.Inputs, "instanceTypes"))
	assert.Equal(t, map[string]any{"minSize": float64(2), "desiredSize": float64(2), "maxSize": float64(4)},
		graph.MustLookup(t, ng.Inputs, "scalingConfig"))
	assert.Equal(t, []any{"priv-a", "priv-b"}, graph.MustLookup(t, ng.Inputs, "subnetIds"), "nodes in private subnets")
	tags := graph.MustLookup(t, ng.Inputs, "tags").(map[string]any)
	assert.Equal(t, "true", tags["k8s.io/cluster-autoscaler/enabled"])
	_, err = graph.Lookup(ng.Inputs, "remoteAccess")
	assert.Error(t, err, "no remoteAccess block: it conflicts with the launch template")
	assert.Contains(t, ng.References, eks.URN, "the node group joins this cluster")
	for _, a := range own.Find("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		assert.True(t, g.DependsOn(ng.URN, a.URN), "nodes wait for %s", a.Name)
	}

	provider := g.MustOne(t, "pulumi:providers:kubernetes", "cluster-k8s")
	assert.Contains(t, provider.Dependencies, ng.URN, "the provider waits for the node group")
	assert.True(t, g.DependsOn(provider.URN, eks.URN), "the provider reads the cluster's kubeconfig")
	assert.Contains(t, graph.MustLookup(t, provider.Inputs, "kubeconfig"), "mock.eks.amazonaws.com")

	ms := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "cluster-metrics-server")
	assert.Equal(t, provider.URN, ms.Provider)
	for path, want := range map[string]any{"chart": "metrics-server", "version": "3.8.2", "namespace": "kube-system"} {
		assert.Equal(t, want, graph.MustLookup(t, ms.Inputs, path), path)
	}
	assert.Equal(t, MetricsServerRepo, graph.MustLookup(t, ms.Inputs, "repositoryOpts", "repo"))

	component := g.MustOne(t, TypeCluster, "cluster")
	for _, r := range own.Order {
		if r.URN != component.URN {
			assert.Equal(t, component.URN, r.Parent, "%s must be parented to the Cluster", r.Name)
		}
	}
	assert.Equal(t, "ps-eks-66", outputs["clusterName"].Value)
	assert.True(t, outputs["kubeconfig"].Secret, "kubeconfig output is secret")
	assert.Contains(t, outputs["kubeconfig"].Value, "mock.eks.amazonaws.com")
}

func TestCluster_PartitionAndAdmins(t *testing.T) {
	t.Parallel()
	args := devClusterArgs()
	args.Partition = "aws-cn"
	args.PublicAccessCIDRs = []string{"203.0.113.0/24"}
	args.NodeGroupDependsOn = []pulumi.Resource{}
	args.LogRetentionDays = 90
	args.Admins = []string{"arn:aws-cn:iam::123456789012:role/platform-admins", "arn:aws-cn:iam::123456789012:user/ci"}
	g, _ := runCluster(t, args)
	for _, a := range g.Declared().Find("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		assert.Contains(t, graph.MustLookup(t, a.Inputs, "policyArn"), "arn:aws-cn:iam::aws:policy/")
	}
	eks := g.MustOne(t, "eks:index:Cluster", "cluster-eks")
	assert.Equal(t, []any{"203.0.113.0/24"}, graph.MustLookup(t, eks.Inputs, "publicAccessCidrs"))
	assert.Equal(t, float64(90), graph.MustLookup(t, g.MustOne(t, "aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane-logs").Inputs, "retentionInDays"))

	for name, principal := range map[string]string{
		"cluster-eks-admin-role-platform-admins": args.Admins[0],
		"cluster-eks-admin-user-ci":              args.Admins[1],
	} {
		entry := g.MustOne(t, "aws:eks/accessEntry:AccessEntry", name)
		assert.Equal(t, principal, graph.MustLookup(t, entry.State, "principalArn"))
		assert.Equal(t, "ps-eks-66", graph.MustLookup(t, entry.State, "clusterName"))
		policy := g.MustOne(t, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", name+"-cluster-admin")
		assert.Equal(t, entry.URN, policy.Parent)
		assert.Equal(t, "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", graph.MustLookup(t, policy.State, "policyArn"))
		assert.Equal(t, map[string]any{"type": "cluster"}, graph.MustLookup(t, policy.State, "accessScope"))
	}
	assert.Len(t, g.Find("aws:eks/accessEntry:AccessEntry"), 2, "one entry per admin; the creator's comes from EKS")
}

func TestAdminAccessEntries_KeyedByPrincipalName(t *testing.T) {
	t.Parallel()
	a := adminAccessEntries([]string{"arn:aws:iam::111111111111:role/ops", "arn:aws:iam::222222222222:role/ops", "arn:aws:iam::111111111111:role/team/dev.ops"}, "aws")
	assert.ElementsMatch(t, []string{"admin-role-ops", "admin-role-ops-1", "admin-role-team-dev-ops"}, slices.Collect(maps.Keys(a)),
		"the same role name in two accounts gets two entries")
	b := adminAccessEntries([]string{"arn:aws:iam::111111111111:role/team/dev.ops", "arn:aws:iam::111111111111:role/ops"}, "aws")
	assert.Contains(t, b, "admin-role-ops", "reordering the list keeps the keys, so nothing is replaced")
	assert.Contains(t, b, "admin-role-team-dev-ops")
	assert.Nil(t, adminAccessEntries(nil, "aws"))
}

func TestCluster_PlaintextSecretsAndLogChoice(t *testing.T) {
	t.Parallel()
	args := devClusterArgs()
	args.PlaintextSecrets = true
	args.LogTypes = []string{"audit"}
	g, _ := runCluster(t, args)
	assert.Empty(t, g.Find("aws:kms/key:Key"), "no key when envelope encryption is off")
	eks := g.MustOne(t, "eks:index:Cluster", "cluster-eks")
	_, err := graph.Lookup(eks.Inputs, "encryptionConfigKeyArn")
	assert.Error(t, err)
	assert.Equal(t, []any{"audit"}, graph.MustLookup(t, eks.Inputs, "enabledClusterLogTypes"))
}

func TestCluster_RequiresPublicAccessCIDRs(t *testing.T) {
	t.Parallel()
	args := devClusterArgs()
	args.PublicAccessCIDRs = nil
	_, err := mocks.Run(func(ctx *pulumi.Context) error {
		_, err := NewCluster(ctx, "cluster", args)
		return err
	}, mocks.RunConfig{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "PublicAccessCIDRs is required (there is no open default)")
}

// The managed node group's role is the only identity that can register nodes. Given no instance role, pulumi-eks
// 2.8.1 makes <name>-instanceRole and an EC2_LINUX access entry for it that nothing uses (cluster.js:460, 516).
// EKS gives the node group's role its own access entry, so the program creates none.
func TestCluster_OneNodeRoleAndNoNodeAccessEntryOfOurs(t *testing.T) {
	t.Parallel()
	args := devClusterArgs()
	args.Admins = []string{"arn:aws:iam::111111111111:role/platform-admins"}
	g, _ := runCluster(t, args)

	var ec2Roles []string
	for _, r := range g.Find("aws:iam/role:Role") {
		if strings.Contains(graph.MustLookup(t, r.Inputs, "assumeRolePolicy").(string), "ec2.amazonaws.com") {
			ec2Roles = append(ec2Roles, r.Name)
		}
	}
	assert.Equal(t, []string{"cluster-node-role"}, ec2Roles, "one role nodes can assume")
	_, err := g.One("eks:index:ServiceRole", "cluster-eks-instanceRole")
	assert.Error(t, err, "pulumi-eks's own node role is not made")
	var entries []string
	for _, e := range g.Find(eksfacts.AccessEntryType) {
		entries = append(entries, e.Name)
		_, err := graph.Lookup(e.Inputs, "type")
		assert.Error(t, err, "%s: only STANDARD admin entries; EKS makes the node group's EC2_LINUX entry", e.Name)
	}
	assert.Equal(t, []string{"cluster-eks-admin-role-platform-admins"}, entries)
}

// TestCluster_AddonsFollowTheNodeGroup: each add-on the args name becomes an EKS managed add-on at its version ("" is
// EKS's default), adopting the copy EKS installed, after the node group; the node group carries its version.
func TestCluster_AddonsFollowTheNodeGroup(t *testing.T) {
	t.Parallel()
	args := devClusterArgs()
	args.Version, args.NodeGroupVersion = "1.35", "1.34"
	args.Addons = map[string]string{"vpc-cni": "v1.20.0-eksbuild.1", "coredns": ""}
	g, _ := runCluster(t, args)
	nodes := g.MustOne(t, "eks:index:ManagedNodeGroup", "cluster-nodes")
	assert.Equal(t, "1.34", graph.MustLookup(t, nodes.Inputs, "version"))
	addons := g.Find("aws:eks/addon:Addon")
	require.Len(t, addons, 2, "only the add-ons named")
	for _, a := range addons {
		assert.Equal(t, "OVERWRITE", graph.MustLookup(t, a.Inputs, "resolveConflictsOnCreate"))
		assert.Equal(t, "PRESERVE", graph.MustLookup(t, a.Inputs, "resolveConflictsOnUpdate"))
		assert.True(t, g.DependsOn(a.URN, nodes.URN), "%s after the node group", a.Name)
	}
	cni := g.MustOne(t, "aws:eks/addon:Addon", "cluster-vpc-cni")
	assert.Equal(t, "v1.20.0-eksbuild.1", graph.MustLookup(t, cni.Inputs, "addonVersion"))
	assert.Equal(t, "ps-eks-66", graph.MustLookup(t, cni.Inputs, "clusterName"))
	_, pinned := g.MustOne(t, "aws:eks/addon:Addon", "cluster-coredns").Inputs["addonVersion"]
	assert.False(t, pinned, "an empty version is EKS's default")
}
