package rules

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Waiver exempts one stack's resource from one rule, for a stated reason. Waivers are the only deviations; a test
// fails when one no longer matches a violation.
type Waiver struct {
	// Stack is the stack the waiver holds in; EveryStack for what pulumi-eks creates whatever the stack sets.
	Stack, Policy string
	// Resource is the logical name of the waived resource: the one that carries the value, e.g. the
	// aws:eks/cluster:Cluster pulumi-eks creates, not its component.
	Resource string
	Reason   string
}

// EveryStack is the Stack of a waiver that holds in every stack.
const EveryStack = "*"

// Waivers are the dev stack's deviations, kept for fidelity with the reference walkthrough, and the rules
// pulumi-eks 2.8.1 adds with no option to leave them out (internal/eksfixture lists them, with their source lines).
var Waivers = []Waiver{
	{Stack: EveryStack, Policy: "security-group-no-open-egress", Resource: "cluster-eks-eksClusterInternetEgressRule",
		Reason: "pulumi-eks adds it to the security group it gives the control plane's network interfaces (cluster.js:302). " +
			"EKS's own cluster security group allows the same by default, and the EKS User Guide (security group requirements) " +
			"lists outbound internet access, to the EKS APIs, ECR and S3, among what a cluster needs unless it is private with VPC endpoints"},
	{Stack: EveryStack, Policy: "security-group-no-open-egress", Resource: "cluster-eks-eksNodeInternetEgressRule",
		Reason: "pulumi-eks adds it to its node security group whether or not a node uses it (securitygroup.js:79). No node does: " +
			"managed nodes get EKS's cluster security group (EKS User Guide, security group requirements) and our launch template names none"},
	{Stack: "dev", Policy: "eks-supported-version", Resource: "cluster-eks-eksCluster",
		Reason: "dev reproduces the walkthrough on Kubernetes 1.24, past EKS extended support since 2025-01-31; other stacks run a supported version"},
	{Stack: "dev", Policy: "eks-public-access-restricted", Resource: "cluster-eks-eksCluster",
		Reason: "the walkthrough's endpoint is public so pulumi and kubectl work from any laptop or CI runner; prod limits it to known CIDRs"},
}

// Waived reports the waiver covering policy on the resource of urn, if any.
func Waived(policy, urn string) (Waiver, bool) {
	u := resource.URN(urn)
	if !u.IsValid() {
		return Waiver{}, false
	}
	for _, w := range Waivers {
		if w.Policy == policy && (w.Stack == EveryStack || w.Stack == u.Stack().String()) && w.Resource == u.Name() {
			return w, true
		}
	}
	return Waiver{}, false
}

// Evaluate runs every rule over resources and returns the violations that no waiver covers, and the waivers that
// covered something.
func Evaluate(resources []Resource) (violations []Violation, used []Waiver) {
	seen := map[Waiver]bool{}
	report := func(v Violation) {
		if w, ok := Waived(v.Policy, v.URN); ok {
			if !seen[w] {
				seen[w] = true
				used = append(used, w)
			}
			return
		}
		violations = append(violations, v)
	}
	for _, rule := range All {
		if rule.Check != nil {
			for _, r := range resources {
				for _, msg := range rule.Check(r) {
					report(Violation{Policy: rule.Name, URN: r.URN, Message: msg})
				}
			}
		}
		if rule.CheckStack != nil {
			for _, v := range rule.CheckStack(resources) {
				v.Policy = rule.Name
				report(v)
			}
		}
	}
	return violations, used
}

// shortURN is the type and name of a URN, for messages.
func shortURN(urn string) string {
	if i := strings.LastIndex(urn, "::"); i >= 0 {
		return urn[i+2:]
	}
	return urn
}
