package rules

import (
	"slices"
	"strings"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

const (
	namespaceType     = "kubernetes:core/v1:Namespace"
	resourceQuota     = "kubernetes:core/v1:ResourceQuota"
	limitRange        = "kubernetes:core/v1:LimitRange"
	networkPolicy     = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	teamComponentType = "progressive-delivery:workloads:Team"
)

var teamRules = []Rule{
	{
		Name: "eks-team-access-namespaced", Source: "EKS User Guide, access policies (accessScope type namespace); EKS Blueprints teams", Level: policyx.EnforcementLevelMandatory,
		Description: "A team's access policy associations, and any edit or view association, are scoped to namespaces, never the whole cluster.",
		CheckStack:  checkTeamAccessScopes,
	},
	{
		Name: "k8s-team-namespace-guarded", Source: "EKS Best Practices Guide, multi-tenancy (quotas, limit ranges, network policies)", Level: policyx.EnforcementLevelMandatory,
		Description: "Every team namespace has a ResourceQuota, a LimitRange and a default-deny ingress NetworkPolicy.",
		CheckStack:  checkTeamNamespaceGuards,
	},
	{
		Name: "k8s-services-in-team-namespaces", Source: "EKS Best Practices Guide, multi-tenancy (namespace per tenant)", Level: policyx.EnforcementLevelMandatory,
		Description: "Every service's Canary runs in a namespace owned by a team.",
		CheckStack:  checkServicesInTeamNamespaces,
	},
}

func checkTeamAccessScopes(rs []Resource) []Violation {
	var out []Violation
	for _, r := range ofType(rs, eksfacts.AccessPolicyType) {
		policy, scope := get(r.Props, "policyArn"), get(r.Props, "accessScope")
		team := strings.Contains(r.Parent, "::"+teamComponentType+"::") || strings.Contains(r.Parent, "$"+teamComponentType+"::")
		if unknown(policy, scope) {
			continue
		}
		teamPolicy := strings.HasSuffix(str(policy), "/"+eksfacts.EditPolicy) || strings.HasSuffix(str(policy), "/"+eksfacts.ViewPolicy)
		if !team && !teamPolicy {
			continue
		}
		if get(scope, "type") != "namespace" || len(strs(get(scope, "namespaces"))) == 0 {
			out = append(out, Violation{URN: r.URN, Message: str(policy) + " is associated cluster-wide; scope it to the team's namespaces"})
		}
	}
	return out
}

// teamNamespaces are the names of the namespaces labelled as a team's; unknown when a name is not known yet.
func teamNamespaces(rs []Resource) (names []string, undecided bool) {
	for _, ns := range ofType(rs, namespaceType) {
		labels := get(ns.Props, "metadata", "labels")
		name := get(ns.Props, "metadata", "name")
		if unknown(labels, name) {
			return nil, true
		}
		if get(labels, eksfacts.TeamLabel) != nil {
			names = append(names, str(name))
		}
	}
	return names, false
}

func checkTeamNamespaceGuards(rs []Resource) []Violation {
	names, undecided := teamNamespaces(rs)
	if undecided {
		return nil
	}
	has := map[string]map[string]bool{}
	for _, typ := range []string{resourceQuota, limitRange, networkPolicy} {
		for _, r := range ofType(rs, typ) {
			ns := get(r.Props, "metadata", "namespace")
			if unknown(ns) || (typ == networkPolicy && unknown(get(r.Props, "spec"))) {
				return nil
			}
			if typ == networkPolicy && !denyAllIngress(get(r.Props, "spec")) {
				continue
			}
			if has[str(ns)] == nil {
				has[str(ns)] = map[string]bool{}
			}
			has[str(ns)][typ] = true
		}
	}
	var out []Violation
	for _, ns := range ofType(rs, namespaceType) {
		name := str(get(ns.Props, "metadata", "name"))
		if !slices.Contains(names, name) {
			continue
		}
		var missing []string
		for typ, what := range map[string]string{resourceQuota: "a ResourceQuota", limitRange: "a LimitRange", networkPolicy: "a default-deny ingress NetworkPolicy"} {
			if !has[name][typ] {
				missing = append(missing, what)
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			out = append(out, Violation{URN: ns.URN, Message: "team namespace " + name + " has no " + strings.Join(missing, ", no ")})
		}
	}
	return out
}

// denyAllIngress reports a NetworkPolicy spec that selects every pod and admits no ingress.
func denyAllIngress(spec any) bool {
	selector := get(spec, "podSelector")
	labels, _ := get(selector, "matchLabels").(map[string]any)
	empty := len(labels) == 0 && len(asList(get(selector, "matchExpressions"))) == 0
	return empty && slices.Contains(strs(get(spec, "policyTypes")), "Ingress") && len(asList(get(spec, "ingress"))) == 0
}

func checkServicesInTeamNamespaces(rs []Resource) []Violation {
	names, undecided := teamNamespaces(rs)
	if undecided {
		return nil
	}
	var out []Violation
	for _, c := range ofType(rs, canary) {
		ns := get(c.Props, "metadata", "namespace")
		if unknown(ns) {
			continue
		}
		if !slices.Contains(names, str(ns)) {
			out = append(out, Violation{URN: c.URN, Message: "Canary in namespace " + str(ns) + ", which no team owns"})
		}
	}
	return out
}
