package infra

import (
	"encoding/json"
	"testing"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsReader_RoleOnlyTheServiceAccountAssumes(t *testing.T) {
	t.Parallel()
	g, out := mocks.MustRun(t, mocks.RunConfig{}, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		r, err := NewMetricsReader(ctx, "reader", &MetricsReaderArgs{
			OIDCIssuer:              pulumi.String("https://oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC"),
			ServiceAccountNamespace: "gloo-system", ServiceAccountName: "flagger", Partition: "aws-cn",
			Tags: map[string]string{"stack": "prod"},
		})
		if err != nil {
			return nil, err
		}
		return map[string]pulumi.Output{"role": r.RoleARN}, nil
	})
	role := g.MustOne(t, "aws:iam/role:Role", "reader-role")
	var trust map[string]any
	require.NoError(t, json.Unmarshal([]byte(graph.MustLookup(t, role.Inputs, "assumeRolePolicy").(string)), &trust))
	st := trust["Statement"].([]any)[0].(map[string]any)
	assert.Equal(t, "arn:aws-cn:iam::"+mocks.AccountID+":oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC",
		st["Principal"].(map[string]any)["Federated"], "the partition and the account of the caller")
	assert.Equal(t, map[string]any{"StringEquals": map[string]any{
		"oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC:sub": "system:serviceaccount:gloo-system:flagger",
		"oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC:aud": "sts.amazonaws.com",
	}}, st["Condition"])
	assert.Equal(t, map[string]any{"stack": "prod"}, graph.MustLookup(t, role.Inputs, "tags"))
	policy := g.MustOne(t, "aws:iam/rolePolicy:RolePolicy", "reader-policy")
	assert.Contains(t, graph.MustLookup(t, policy.Inputs, "policy"), `"Action":["cloudwatch:GetMetricData","cloudwatch:ListMetrics"]`)
	assert.Equal(t, "arn:aws:iam::"+mocks.AccountID+":role/reader-role", out["role"].Value)
}

func TestMetricsReader_RequiresTheIssuerAndServiceAccount(t *testing.T) {
	t.Parallel()
	_, err := mocks.Run(func(ctx *pulumi.Context) error {
		_, err := NewMetricsReader(ctx, "reader", &MetricsReaderArgs{ServiceAccountNamespace: "gloo-system"})
		return err
	}, mocks.RunConfig{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "OIDCIssuer and the service account are required")
}
