package infra

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeMetricsReader is the type token of MetricsReader.
const TypeMetricsReader = "progressive-delivery:infra:MetricsReader"

// MetricsReaderActions are all the role may do: read CloudWatch metric data, which has no resource-level
// permissions, hence Resource "*".
var MetricsReaderActions = []string{"cloudwatch:GetMetricData", "cloudwatch:ListMetrics"}

// MetricsReader is an IAM role that one Kubernetes service account assumes through the cluster's OIDC provider
// (IRSA) and that can only read CloudWatch metrics: Flagger's, for canary checks on CloudWatch.
type MetricsReader struct {
	pulumi.ResourceState

	RoleARN pulumi.StringOutput `pulumi:"roleArn"`
}

// MetricsReaderArgs configures a MetricsReader.
type MetricsReaderArgs struct {
	// Required. The cluster's OIDC issuer URL (Cluster.OIDCIssuer).
	OIDCIssuer pulumi.StringInput
	// Required. The service account that assumes the role.
	ServiceAccountNamespace, ServiceAccountName string
	// Optional; default "aws".
	Partition string
	// Optional. Tags of the role.
	Tags map[string]string
}

// NewMetricsReader creates the role and its inline policy.
func NewMetricsReader(ctx *pulumi.Context, name string, args *MetricsReaderArgs, opts ...pulumi.ResourceOption) (*MetricsReader, error) {
	if args == nil || args.OIDCIssuer == nil || args.ServiceAccountNamespace == "" || args.ServiceAccountName == "" {
		return nil, fmt.Errorf("metrics reader %s: OIDCIssuer and the service account are required", name)
	}
	partition := args.Partition
	if partition == "" {
		partition = "aws"
	}
	r := &MetricsReader{}
	if err := ctx.RegisterComponentResource(TypeMetricsReader, name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)

	account := aws.GetCallerIdentityOutput(ctx, aws.GetCallerIdentityOutputArgs{}, parent).AccountId()
	subject := "system:serviceaccount:" + args.ServiceAccountNamespace + ":" + args.ServiceAccountName
	trust := pulumi.All(args.OIDCIssuer, account).ApplyT(func(v []any) (string, error) {
		return irsaTrustPolicy(partition, v[1].(string), v[0].(string), subject)
	}).(pulumi.StringOutput)
	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		Description:      pulumi.String("Read CloudWatch metrics for Flagger's canary analysis (" + subject + ")"),
		AssumeRolePolicy: trust,
		Tags:             pulumi.ToStringMap(args.Tags),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating metrics reader role: %w", err)
	}
	policy, err := json.Marshal(map[string]any{
		"Version":   "2012-10-17",
		"Statement": []any{map[string]any{"Effect": "Allow", "Action": MetricsReaderActions, "Resource": "*"}},
	})
	if err != nil {
		return nil, err
	}
	if _, err := iam.NewRolePolicy(ctx, name+"-policy", &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: pulumi.String(policy),
	}, parent); err != nil {
		return nil, fmt.Errorf("creating metrics reader policy: %w", err)
	}

	r.RoleARN = role.Arn
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{"roleArn": r.RoleARN}); err != nil {
		return nil, err
	}
	return r, nil
}

// irsaTrustPolicy lets exactly one service account of the cluster assume a role with its projected token.
func irsaTrustPolicy(partition, account, issuerURL, subject string) (string, error) {
	issuer := strings.TrimPrefix(issuerURL, "https://")
	doc, err := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]any{"Federated": "arn:" + partition + ":iam::" + account + ":oidc-provider/" + issuer},
			"Action":    "sts:AssumeRoleWithWebIdentity",
			"Condition": map[string]any{"StringEquals": map[string]any{
				issuer + ":sub": subject,
				issuer + ":aud": "sts.amazonaws.com",
			}},
		}},
	})
	return string(doc), err
}
