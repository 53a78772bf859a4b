package infra

import (
	"encoding/json"
	"fmt"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-eks/sdk/v2/go/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// nodeAssumeRolePolicy lets EC2 instances assume the node role.
func nodeAssumeRolePolicy() string {
	doc, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "ec2.amazonaws.com"},
			"Action":    "sts:AssumeRole",
		}},
	})
	return string(doc)
}

// newNodeLaunchTemplate carries what a managed node group can only get from a launch template: IMDSv2 required
// with a hop limit of 1, so pods cannot reach the node role's credentials through the instance metadata service
// (EKS Best Practices), and an encrypted gp3 root volume of the configured size. There is no SSH key: node
// access goes through `kubectl debug node/...`.
func newNodeLaunchTemplate(ctx *pulumi.Context, name string, args *ClusterArgs, parent pulumi.ResourceOption) (*ec2.LaunchTemplate, error) {
	ltArgs := &ec2.LaunchTemplateArgs{
		Description: pulumi.String("managed node group " + args.NodeGroup.Name + " of " + args.Name),
		MetadataOptions: ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint:            pulumi.String("enabled"),
			HttpTokens:              pulumi.String("required"),
			HttpPutResponseHopLimit: pulumi.Int(1),
		},
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{ec2.LaunchTemplateBlockDeviceMappingArgs{
			DeviceName: pulumi.String("/dev/xvda"),
			Ebs: ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
				VolumeSize:          pulumi.Int(args.NodeGroup.DiskSizeGiB),
				VolumeType:          pulumi.String("gp3"),
				Encrypted:           pulumi.String("true"),
				DeleteOnTermination: pulumi.String("true"),
			},
		}},
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{ec2.LaunchTemplateTagSpecificationArgs{
			ResourceType: pulumi.String("instance"),
			Tags:         pulumi.StringMap{"Name": pulumi.String(args.Name + "-" + args.NodeGroup.Name)},
		}},
		Tags: pulumi.ToStringMap(args.Tags),
	}
	lt, err := ec2.NewLaunchTemplate(ctx, name+"-node-template", ltArgs, parent)
	if err != nil {
		return nil, fmt.Errorf("creating node launch template: %w", err)
	}
	return lt, nil
}

// adminAccessEntries makes each principal a cluster admin (AmazonEKSClusterAdminPolicy, cluster scope). Entries
// are keyed by the principal's name, so reordering the list leaves them alone, except for principals of the
// same name in different accounts: the second gets a position suffix, and reordering those two replaces their
// entries.
func adminAccessEntries(principals []string, partition string) map[string]eks.AccessEntryArgs {
	if len(principals) == 0 {
		return nil
	}
	entries := map[string]eks.AccessEntryArgs{}
	for _, arn := range principals {
		key := "admin-" + eksfacts.PrincipalKey(arn)
		if _, taken := entries[key]; taken {
			// The same name in another account.
			key = fmt.Sprintf("%s-%d", key, len(entries))
		}
		entries[key] = eks.AccessEntryArgs{
			PrincipalArn: pulumi.String(arn),
			AccessPolicies: map[string]eks.AccessPolicyAssociationInput{
				"cluster-admin": eks.AccessPolicyAssociationArgs{
					PolicyArn:   pulumi.String(eksfacts.AccessPolicyARN(partition, eksfacts.ClusterAdminPolicy)),
					AccessScope: awseks.AccessPolicyAssociationAccessScopeArgs{Type: pulumi.String("cluster")},
				},
			},
		}
	}
	return entries
}

var accessEntriesOnly = eks.AuthenticationModeApi

// newAddons makes EKS manage the add-ons it installed on the new cluster itself (vpc-cni, coredns, kube-proxy),
// each at the version args names, once the node group is at its version. Until a program owns them, EKS leaves
// them at the version the cluster was created with, whatever the cluster is updated to.
func newAddons(ctx *pulumi.Context, name string, args *ClusterArgs, clusterName pulumi.StringInput, nodeGroup *eks.ManagedNodeGroup,
	parent pulumi.ResourceOption) (map[string]*awseks.Addon, error) {
	out := map[string]*awseks.Addon{}
	for _, addon := range eksfacts.ManagedAddons {
		version, owned := args.Addons[addon]
		if !owned {
			continue
		}
		addonArgs := &awseks.AddonArgs{
			ClusterName: clusterName,
			AddonName:   pulumi.String(addon),
			// The cluster's own copy becomes the managed add-on; later updates keep settings made on the cluster.
			ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
			ResolveConflictsOnUpdate: pulumi.String("PRESERVE"),
			Tags:                     pulumi.ToStringMap(args.Tags),
		}
		if version != "" {
			addonArgs.AddonVersion = pulumi.String(version)
		}
		a, err := awseks.NewAddon(ctx, name+"-"+addon, addonArgs, parent, pulumi.DependsOn([]pulumi.Resource{nodeGroup}))
		if err != nil {
			return nil, fmt.Errorf("creating EKS add-on %s: %w", addon, err)
		}
		out[addon] = a
	}
	return out, nil
}
