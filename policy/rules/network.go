package rules

import (
	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

const (
	subnet            = "aws:ec2/subnet:Subnet"
	securityGroupRule = "aws:ec2/securityGroupRule:SecurityGroupRule"
)

var networkRules = []Rule{
	{
		Name: "nodes-in-private-subnets", Source: "CIS EKS 5.4.3", Level: policyx.EnforcementLevelMandatory,
		Description: "Worker nodes run in private subnets only.",
		CheckStack:  checkNodeSubnets,
	},
	{
		Name: "private-subnets-no-public-ips", Source: "CKV_AWS_130", Level: policyx.EnforcementLevelMandatory,
		Description: "Private (internal-elb) subnets do not give instances public IPs.",
		Check: forTypes(only(subnet), func(r Resource) []string {
			role, public := get(r.Props, "tags", "kubernetes.io/role/internal-elb"), r.Props["mapPublicIpOnLaunch"]
			return when(!unknown(role, public) && role != nil && truthy(public), "private subnet maps public IPs")
		}),
	},
	// pulumi-eks adds security-group rules of its own (securitygroup.js, cluster.js); these two rules read them
	// like any other. EKS's guidance on what nodes and the control plane need is in "Amazon EKS security group
	// requirements" of the EKS User Guide.
	{
		Name: "security-group-no-open-ingress", Source: "CKV_AWS_260; EKS User Guide, security group requirements", Level: policyx.EnforcementLevelMandatory,
		Description: "No security-group rule lets the whole internet (0.0.0.0/0, ::/0) in; the gateway's load balancer is Kubernetes's, not a rule of ours.",
		Check: forTypes(only(securityGroupRule), func(r Resource) []string {
			kind := r.Props["type"]
			if unknown(kind) || str(kind) != "ingress" {
				return nil
			}
			open := internetCIDRs(r.Props)
			return when(len(open) > 0, "ingress from %s", open)
		}),
	},
	{
		Name: "security-group-no-open-egress", Source: "CKV_AWS_382; EKS User Guide, security group requirements", Level: policyx.EnforcementLevelMandatory,
		Description: "No security-group rule lets every protocol and port out to the whole internet, unless waived with the reason.",
		Check: forTypes(only(securityGroupRule), func(r Resource) []string {
			kind, protocol := r.Props["type"], r.Props["protocol"]
			if unknown(kind, protocol) || str(kind) != "egress" || (str(protocol) != "-1" && str(protocol) != "all") {
				return nil
			}
			open := internetCIDRs(r.Props)
			return when(len(open) > 0, "all protocols and ports out to %s", open)
		}),
	},
}

// internetCIDRs are the rule's CIDRs that are the whole internet.
func internetCIDRs(p map[string]any) []string {
	var out []string
	for _, c := range append(strs(p["cidrBlocks"]), strs(p["ipv6CidrBlocks"])...) {
		if c == "0.0.0.0/0" || c == "::/0" {
			out = append(out, c)
		}
	}
	return out
}

// checkNodeSubnets matches node groups' subnet IDs with the subnets that map public IPs. IDs exist only once the
// subnets do, so a preview of a new stack skips this.
func checkNodeSubnets(rs []Resource) []Violation {
	public := map[string]string{}
	for _, r := range ofType(rs, subnet) {
		if truthy(r.Props["mapPublicIpOnLaunch"]) && r.ID != "" {
			public[r.ID] = r.Name
		}
	}
	var out []Violation
	for _, ng := range ofType(rs, eksfacts.NodeGroupType) {
		for _, id := range strs(ng.Props["subnetIds"]) {
			if name, ok := public[id]; ok {
				out = append(out, Violation{URN: ng.URN, Message: "nodes in public subnet " + name})
			}
		}
	}
	return out
}
