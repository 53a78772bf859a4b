package infra

import (
	"testing"
	"time"

	"github.com/progressive-delivery/platform/internal/pulumitest"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func devClusterArgs() *ClusterArgs {
	return &ClusterArgs{
		Name:             "ps-eks-66",
		Version:          "1.24",
		VpcID:            pulumi.String("vpc-1"),
		PublicSubnetIDs:  pulumi.ToStringArray([]string{"pub-a", "pub-b"}),
		PrivateSubnetIDs: pulumi.ToStringArray([]string{"priv-a", "priv-b"}),
		NodeGroup: NodeGroupSpec{Name: "nodegroup", InstanceType: "m5.2xlarge", DiskSizeGiB: 100,
			MinSize: 2, DesiredSize: 2, MaxSize: 4},
		MetricsServerChartVersion: "3.8.2",
		PublicAccessCIDRs:         []string{"0.0.0.0/0"},
	}
}

func runCluster(t *testing.T, args *ClusterArgs) (*pulumitest.Graph, map[string]any) {
	t.Helper()
	outputs := map[string]any{}
	mon, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		c, err := NewCluster(ctx, "cluster", args)
		if err != nil {
			return err
		}
		for name, o := range map[string]pulumi.Output{"clusterName": c.ClusterName, "kubeconfig": c.Kubeconfig} {
			res, err := pulumitest.Await(ctx, o)
			if err != nil {
				return err
			}
			outputs[name] = res.Value
			outputs[name+".secret"] = res.Secret
		}
		return nil
	}, pulumitest.RunConfig{})
	require.NoError(t, err)
	return pulumitest.NewGraph(mon.Registrations()), outputs
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
		assert.Equal(t, want, pulumitest.MustLookup(t, eks.Inputs, path), path)
	}
	assert.Equal(t, []any{"pub-a", "pub-b"}, pulumitest.MustLookup(t, eks.Inputs, "publicSubnetIds"))
	assert.Equal(t, []any{"priv-a", "priv-b"}, pulumitest.MustLookup(t, eks.Inputs, "privateSubnetIds"))
	assert.Equal(t, []any{"0.0.0.0/0"}, pulumitest.MustLookup(t, eks.Inputs, "publicAccessCidrs"))

	role := g.MustOne(t, "aws:iam/role:Role", "cluster-node-role")
	assert.Contains(t, pulumitest.MustLookup(t, role.Inputs, "assumeRolePolicy"), `"Service":"ec2.amazonaws.com"`)
	var policies []string
	for _, a := range g.Find("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		policies = append(policies, pulumitest.MustLookup(t, a.Inputs, "policyArn").(string))
	}
	assert.ElementsMatch(t, []string{
		"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
		"arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
		"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
	}, policies, "exactly the three node policies")
	assert.Contains(t, eks.References, role.URN, "the node role is mapped in the cluster (instanceRoles)")

	ng := g.MustOne(t, "eks:index:ManagedNodeGroup", "cluster-nodes")
	assert.True(t, ng.Remote)
	assert.Equal(t, "nodegroup", pulumitest.MustLookup(t, ng.Inputs, "nodeGroupName"))
	lt := g.MustOne(t, "aws:ec2/launchTemplate:LaunchTemplate", "cluster-node-template")
	assert.Equal(t, lt.Name+"-id", pulumitest.MustLookup(t, ng.Inputs, "launchTemplate", "id"), "nodes use the launch template")
	assert.Equal(t, map[string]any{"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": float64(1)},
		pulumitest.MustLookup(t, lt.Inputs, "metadataOptions"), "IMDSv2 required, hop limit 1")
	ebs := pulumitest.MustLookup(t, lt.Inputs, "blockDeviceMappings", 0, "ebs").(map[string]any)
	assert.Equal(t, float64(100), ebs["volumeSize"], "100 GiB node disk")
	assert.Equal(t, "true", ebs["encrypted"])
	_, err := pulumitest.Lookup(lt.Inputs, "keyName")
	assert.Error(t, err, "no SSH key unless configured")
	_, err = pulumitest.Lookup(ng.Inputs, "diskSize")
	assert.Error(t, err, "disk size comes from the launch template (EKS refuses both)")

	key := g.MustOne(t, "aws:kms/key:Key", "cluster-secrets-key")
	assert.Equal(t, true, pulumitest.MustLookup(t, key.Inputs, "enableKeyRotation"))
	assert.True(t, g.DependsOn(eks.URN, key.URN), "secrets are envelope-encrypted with the key")
	assert.Equal(t, []any{"api", "audit", "authenticator", "controllerManager", "scheduler"},
		pulumitest.MustLookup(t, eks.Inputs, "enabledClusterLogTypes"), "all five control-plane logs")
	assert.Equal(t, true, pulumitest.MustLookup(t, eks.Inputs, "createOidcProvider"), "IRSA")
	assert.Equal(t, []any{"m5.2xlarge"}, pulumitest.MustLookup(t, ng.Inputs, "instanceTypes"))
	assert.Equal(t, map[string]any{"minSize": float64(2), "desiredSize": float64(2), "maxSize": float64(4)},
		pulumitest.MustLookup(t, ng.Inputs, "scalingConfig"))
	assert.Equal(t, []any{"priv-a", "priv-b"}, pulumitest.MustLookup(t, ng.Inputs, "subnetIds"), "nodes in private subnets")
	tags := pulumitest.MustLookup(t, ng.Inputs, "tags").(map[string]any)
	assert.Equal(t, "true", tags["k8s.io/cluster-autoscaler/enabled"])
	_, err = pulumitest.Lookup(ng.Inputs, "remoteAccess")
	assert.Error(t, err, "no remoteAccess block: it conflicts with the launch template")
	assert.Contains(t, ng.References, eks.URN, "the node group joins this cluster")
	for _, a := range g.Find("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		assert.True(t, g.DependsOn(ng.URN, a.URN), "nodes wait for %s", a.Name)
	}

	provider := g.MustOne(t, "pulumi:providers:kubernetes", "cluster-k8s")
	assert.Contains(t, provider.Dependencies, ng.URN, "the provider waits for the node group")
	assert.True(t, g.DependsOn(provider.URN, eks.URN), "the provider reads the cluster's kubeconfig")
	assert.Contains(t, pulumitest.MustLookup(t, provider.Inputs, "kubeconfig"), "mock.eks.amazonaws.com")

	ms := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "cluster-metrics-server")
	assert.Equal(t, provider.URN, ms.Provider)
	for path, want := range map[string]any{"chart": "metrics-server", "version": "3.8.2", "namespace": "kube-system"} {
		assert.Equal(t, want, pulumitest.MustLookup(t, ms.Inputs, path), path)
	}
	assert.Equal(t, MetricsServerRepo, pulumitest.MustLookup(t, ms.Inputs, "repositoryOpts", "repo"))

	component := g.MustOne(t, TypeCluster, "cluster")
	for _, r := range g.Order {
		if r.URN != component.URN {
			assert.Equal(t, component.URN, r.Parent, "%s must be parented to the Cluster", r.Name)
		}
	}
	assert.Equal(t, "ps-eks-66", outputs["clusterName"])
	assert.Equal(t, true, outputs["kubeconfig.secret"], "kubeconfig output is secret")
	assert.Contains(t, outputs["kubeconfig"], "mock.eks.amazonaws.com")
}

func TestCluster_OptionalSSHAndPartition(t *testing.T) {
	t.Parallel()
	args := devClusterArgs()
	args.NodeGroup.SSHKeyName = "ops-key"
	args.Partition = "aws-cn"
	args.PublicAccessCIDRs = []string{"203.0.113.0/24"}
	args.NodeGroupDependsOn = []pulumi.Resource{}
	g, _ := runCluster(t, args)
	lt := g.MustOne(t, "aws:ec2/launchTemplate:LaunchTemplate", "cluster-node-template")
	assert.Equal(t, "ops-key", pulumitest.MustLookup(t, lt.Inputs, "keyName"), "the SSH key goes in the launch template")
	for _, a := range g.Find("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		assert.Contains(t, pulumitest.MustLookup(t, a.Inputs, "policyArn"), "arn:aws-cn:iam::aws:policy/")
	}
	eks := g.MustOne(t, "eks:index:Cluster", "cluster-eks")
	assert.Equal(t, []any{"203.0.113.0/24"}, pulumitest.MustLookup(t, eks.Inputs, "publicAccessCidrs"))
}

func TestCluster_PlaintextSecretsAndLogChoice(t *testing.T) {
	t.Parallel()
	args := devClusterArgs()
	args.PlaintextSecrets = true
	args.LogTypes = []string{"audit"}
	g, _ := runCluster(t, args)
	assert.Empty(t, g.Find("aws:kms/key:Key"), "no key when envelope encryption is off")
	eks := g.MustOne(t, "eks:index:Cluster", "cluster-eks")
	_, err := pulumitest.Lookup(eks.Inputs, "encryptionConfigKeyArn")
	assert.Error(t, err)
	assert.Equal(t, []any{"audit"}, pulumitest.MustLookup(t, eks.Inputs, "enabledClusterLogTypes"))
}

func TestCluster_RequiresPublicAccessCIDRs(t *testing.T) {
	t.Parallel()
	args := devClusterArgs()
	args.PublicAccessCIDRs = nil
	_, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		_, err := NewCluster(ctx, "cluster", args)
		return err
	}, pulumitest.RunConfig{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "PublicAccessCIDRs is required (there is no open default)")
}

func TestCheckKubernetesVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version string
		wantErr string
	}{
		{"1.24", ""}, {"1.32", ""}, {"1.40", ""},
		{"1.2", "of the form 1.NN"}, {"1.24.3", "of the form 1.NN"}, {"v1.24", "of the form 1.NN"},
		{"2.24", "of the form 1.NN"}, {"", "of the form 1.NN"}, {"1.22", "1.23 or later"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			err := CheckKubernetesVersion(tt.version)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestSupportWarning(t *testing.T) {
	t.Parallel()
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	tests := []struct {
		name, version string
		now           time.Time
		want          string
	}{
		{"1.24 past extended support", "1.24", day("2026-11-25"), "past EKS extended support (ended 2025-01-31)"},
		{"1.24 on its last day still warns extended", "1.24", day("2025-01-30"), "in EKS extended support until 2025-01-31"},
		{"1.24 in standard support", "1.24", day("2023-06-01"), ""},
		{"1.32 in extended support", "1.32", day("2026-11-25"), "extended support until 2027-03-23"},
		{"1.33 in standard support", "1.33", day("2026-05-01"), ""},
		{"unknown future version", "1.40", day("2026-11-25"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := SupportWarning(tt.version, tt.now)
			if tt.want == "" {
				assert.Empty(t, got)
				return
			}
			assert.Contains(t, got, tt.want)
		})
	}
}
