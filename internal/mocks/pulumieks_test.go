package mocks

import (
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-eks/sdk/v2/go/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cluster declares a pulumi-eks cluster and managed node group the way a program does.
func cluster(mode *eks.AuthenticationMode, withInstanceRoles bool) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		role, err := iam.NewRole(ctx, "node-role", &iam.RoleArgs{AssumeRolePolicy: pulumi.String("{}")})
		if err != nil {
			return err
		}
		key, err := kms.NewKey(ctx, "key", &kms.KeyArgs{})
		if err != nil {
			return err
		}
		args := &eks.ClusterArgs{Name: pulumi.String("c"), Version: pulumi.String("1.32"), EncryptionConfigKeyArn: key.Arn,
			CreateOidcProvider: pulumi.Bool(true), AuthenticationMode: mode}
		if withInstanceRoles {
			args.InstanceRoles = iam.RoleArray{role}
		}
		c, err := eks.NewCluster(ctx, "c", args)
		if err != nil {
			return err
		}
		_, err = eks.NewManagedNodeGroup(ctx, "nodes", &eks.ManagedNodeGroupArgs{Cluster: c, NodeRole: role})
		return err
	}
}

func TestPulumiEKS_ChildrenAsPreviewAndAfterUp(t *testing.T) {
	t.Parallel()
	api := eks.AuthenticationModeApi
	for _, preview := range []bool{true, false} {
		mon, err := Run(cluster(&api, false), RunConfig{DryRun: preview})
		require.NoError(t, err)
		g := graph.NewGraph(mon.Registrations())
		component := g.MustOne(t, "eks:index:Cluster", "c")
		assert.Empty(t, component.State, "the analyzer sees no inputs on the component")
		assert.NotEmpty(t, component.Inputs, "the program passed them")
		child := g.MustOne(t, "aws:eks/cluster:Cluster", "c-eksCluster")
		assert.Equal(t, component.URN, child.Parent)
		assert.True(t, child.Constructed)
		assert.Equal(t, "1.32", graph.MustLookup(t, child.State, "version"), "known at preview: an input")
		nodes := g.MustOne(t, "aws:eks/nodeGroup:NodeGroup", "nodes")
		oidc := g.MustOne(t, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "c-oidcProvider")
		if preview {
			assert.True(t, child.State["encryptionConfig"].IsComputed(), "derived from the key's ARN, unknown in a new stack's preview")
			assert.True(t, nodes.State["nodeRoleArn"].IsComputed())
			assert.True(t, oidc.State["url"].IsComputed())
			assert.Empty(t, nodes.ID)
			continue
		}
		assert.Equal(t, []any{"secrets"}, graph.MustLookup(t, child.State, "encryptionConfig", "resources"))
		role := g.MustOne(t, "aws:iam/role:Role", "node-role")
		assert.Equal(t, graph.MustLookup(t, role.State, "arn"), graph.MustLookup(t, nodes.State, "nodeRoleArn"))
		assert.Equal(t, "c", graph.MustLookup(t, nodes.State, "clusterName"))
		issuer := graph.MustLookup(t, child.State, "identities", 0, "oidcs", 0, "issuer").(string)
		assert.True(t, strings.HasPrefix(issuer, "https://"))
		assert.Equal(t, strings.TrimPrefix(issuer, "https://"), graph.MustLookup(t, oidc.State, "url"), "IAM stores the provider URL without the scheme")
	}
}

func TestPulumiEKS_ConfigMapModeAndItsValidation(t *testing.T) {
	t.Parallel()
	mon, err := Run(cluster(nil, true), RunConfig{})
	require.NoError(t, err)
	g := graph.NewGraph(mon.Registrations())
	assert.Len(t, g.Find("kubernetes:core/v1:ConfigMap"), 1, "no mode: the aws-auth ConfigMap")
	assert.Len(t, g.Find("eks:index:VpcCni"), 1, "without useDefaultVpcCni pulumi-eks applies its own CNI")

	api := eks.AuthenticationModeApi
	_, err = Run(cluster(&api, true), RunConfig{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the 'instanceRoles' property does not support non-empty values when 'authenticationMode' is set to 'API'")
}
