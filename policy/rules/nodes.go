package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

const (
	launchTemplate    = "aws:ec2/launchTemplate:LaunchTemplate"
	iamRole           = "aws:iam/role:Role"
	policyAttachment  = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	managedPolicyPath = "policy/"
)

var nodeRules = []Rule{
	{
		Name: "launch-template-imdsv2", Source: "CKV_AWS_79", Level: policyx.EnforcementLevelMandatory,
		Description: "Launch templates require IMDSv2 session tokens.",
		Check: forTypes(only(launchTemplate), func(r Resource) []string {
			tokens := get(r.Props, "metadataOptions", "httpTokens")
			return when(!unknown(tokens) && str(tokens) != "required", "httpTokens is not required")
		}),
	},
	{
		Name: "launch-template-hop-limit", Source: "EKS Best Practices Guide, restrict the instance metadata service", Level: policyx.EnforcementLevelMandatory,
		Description: "The IMDS hop limit is 1, so pods cannot reach the node role's credentials.",
		Check: forTypes(only(launchTemplate), func(r Resource) []string {
			limit := get(r.Props, "metadataOptions", "httpPutResponseHopLimit")
			return when(!unknown(limit) && limit != 1.0, "httpPutResponseHopLimit is %v", limit)
		}),
	},
	{
		Name: "launch-template-encrypted-volumes", Source: "CKV_AWS_8", Level: policyx.EnforcementLevelMandatory,
		Description: "Node root volumes are encrypted.",
		Check: forTypes(only(launchTemplate), func(r Resource) []string {
			var bad []string
			for i, m := range asList(r.Props["blockDeviceMappings"]) {
				encrypted := get(m, "ebs", "encrypted")
				if !unknown(encrypted) && !truthy(encrypted) {
					bad = append(bad, fmt.Sprint(i))
				}
			}
			return when(len(bad) > 0, "unencrypted block device mappings %v", bad)
		}),
	},
	{
		Name: "managed-nodes-use-launch-template", Source: "EKS Best Practices Guide, restrict the instance metadata service", Level: policyx.EnforcementLevelMandatory,
		Description: "Managed node groups take their metadata and volume settings from a launch template.",
		Check: forTypes(only(eksfacts.NodeGroupType), func(r Resource) []string {
			lt := r.Props["launchTemplate"]
			// An ID or name that is not known yet still names a launch template.
			return when(!unknown(lt) && get(lt, "id") == nil && get(lt, "name") == nil, "no launch template")
		}),
	},
	{
		Name: "node-role-minimal-policies", Source: "EKS Best Practices Guide, IAM (least privilege node role)", Level: policyx.EnforcementLevelMandatory,
		Description: "The node role has exactly AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy and AmazonEC2ContainerRegistryReadOnly.",
		CheckStack:  checkNodeRoles,
	},
}

// checkNodeRoles finds each node group's role by its ARN and compares the managed policies attached to it, by
// attachment or inline in the role, with eksfacts.NodePolicies. A role outside the stack is not checked.
func checkNodeRoles(rs []Resource) []Violation {
	want := slices.Sorted(slices.Values(eksfacts.NodePolicies))
	var out []Violation
	for _, ng := range ofType(rs, eksfacts.NodeGroupType) {
		arn := ng.Props["nodeRoleArn"]
		if unknown(arn) {
			continue
		}
		i := slices.IndexFunc(rs, func(r Resource) bool { return r.Type == iamRole && r.Props["arn"] == arn })
		if i < 0 {
			continue
		}
		role := rs[i]
		policies, undecided := attachedPolicies(rs, role)
		if undecided {
			continue
		}
		if !slices.Equal(policies, want) {
			out = append(out, Violation{URN: role.URN, Message: fmt.Sprintf("node role policies %v, want exactly %v", policies, want)})
		}
	}
	return out
}

// attachedPolicies is the sorted names of the managed policies of role, each once; undecided when an
// attachment's role or policy is not known yet. After a refresh the AWS provider lists the policies that
// RolePolicyAttachments attached in the role's managedPolicyArns too, so the two sources overlap.
func attachedPolicies(rs []Resource, role Resource) (names []string, undecided bool) {
	arns := strs(role.Props["managedPolicyArns"])
	for _, a := range ofType(rs, policyAttachment) {
		if unknown(a.Props["role"], a.Props["policyArn"]) {
			return nil, true
		}
		if a.Props["role"] == role.Props["name"] {
			arns = append(arns, str(a.Props["policyArn"]))
		}
	}
	for _, arn := range arns {
		names = append(names, arn[strings.LastIndex(arn, managedPolicyPath)+len(managedPolicyPath):])
	}
	slices.Sort(names)
	return slices.Compact(names), false
}
