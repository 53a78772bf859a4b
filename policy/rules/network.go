package rules

import (
	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

const subnet = "aws:ec2/subnet:Subnet"

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
