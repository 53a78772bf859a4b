package teams

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/program/services"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// isDNSLabel: team and namespace names are RFC 1123 labels, as the API server checks namespace names.
func isDNSLabel(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }

// Stack is what checking the teams needs to know of the rest of the stack.
type Stack struct {
	// Services are the stack's services, whose namespaces the teams must own.
	Services map[string]services.Spec
	// Reserved are the namespaces of Kubernetes and the platform; Reserved prefixes (kube-) too.
	Reserved         []string
	ReservedPrefixes []string
	// ClusterAdmins are the principals with a cluster-admin access entry of their own.
	ClusterAdmins []string
	// Partition is the AWS partition of the stack's region.
	Partition string
	// ManagesCluster says whether this stack creates the cluster, and so its access entries.
	ManagesCluster bool
	// Derived says the stack sets no teams key: the teams were derived from the services' namespaces, which the
	// services' own checks report on.
	Derived bool
}

// Validate reports every problem of the teams, and of the services' place in them, one message per problem, each
// naming the key path, the value and what is allowed.
func Validate(specs map[string]Spec, st Stack) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	owner := map[string]string{}
	principal := map[string]string{}
	for _, name := range Names(specs) {
		s := specs[name]
		if !isDNSLabel(name) {
			add("%s: team name %q is not a DNS label (lowercase letters, digits, '-')", Key, name)
		}
		for _, ns := range s.NamespacesOf(name) {
			switch {
			case st.Derived:
				owner[ns] = name
			case !isDNSLabel(ns):
				add("%s.%s.namespaces: %q is not a DNS label (lowercase letters, digits, '-', at most 63)", Key, name, ns)
			case slices.Contains(st.Reserved, ns) || slices.ContainsFunc(st.ReservedPrefixes, func(p string) bool { return strings.HasPrefix(ns, p) }):
				add("%s.%s.namespaces: %q is a namespace of Kubernetes or the platform; want one of the team's own", Key, name, ns)
			case owner[ns] != "":
				add("%s.%s.namespaces: %q is already team %s's; a namespace belongs to one team", Key, name, ns, owner[ns])
			default:
				owner[ns] = name
			}
		}
		if s.Access != AccessEdit && s.Access != AccessView {
			add("%s.%s.access: want %s or %s (EKS's AmazonEKSEditPolicy or AmazonEKSViewPolicy, scoped to the team's namespaces), got %q",
				Key, name, AccessEdit, AccessView, s.Access)
		}
		if len(s.Principals) > 0 && !st.ManagesCluster {
			add("%s.%s.principals: set, but this stack does not create the cluster, so it makes no access entries; "+
				"set them on the stack that does", Key, name)
		}
		for _, arn := range s.Principals {
			switch {
			case !eksfacts.PrincipalPattern.MatchString(arn):
				add("%s.%s.principals: want IAM role or user ARNs such as arn:aws:iam::123456789012:role/checkout-team, got %q", Key, name, arn)
			case slices.Contains(st.ClusterAdmins, arn):
				add("%s.%s.principals: %q is also in clusterAdmins; an IAM principal can have one EKS access entry only, "+
					"so it is either a cluster admin or a team member: remove it from one", Key, name, arn)
			case principal[arn] != "":
				add("%s.%s.principals: %q is also team %s's; an IAM principal can have one EKS access entry only", Key, name, arn, principal[arn])
			case st.Partition != "" && strings.Split(arn, ":")[1] != st.Partition:
				add("%s.%s.principals: %q is not in partition %s of the stack's region", Key, name, arn, st.Partition)
			default:
				principal[arn] = name
			}
		}
		errs = append(errs, s.validateGuards(name)...)
	}
	errs = append(errs, validateServices(specs, owner, st)...)
	return errs
}

// validateGuards checks the quota and the LimitRange's defaults.
func (s Spec) validateGuards(name string) []error {
	var errs []error
	quantity := func(field, v string) {
		if q, err := resource.ParseQuantity(v); err != nil || q.Sign() <= 0 {
			errs = append(errs, fmt.Errorf("%s.%s.%s: want a positive Kubernetes quantity such as 4, 500m or 8Gi, got %q", Key, name, field, v))
		}
	}
	quantity("quota.requests.cpu", s.Quota.Requests.CPU)
	quantity("quota.requests.memory", s.Quota.Requests.Memory)
	quantity("quota.limits.cpu", s.Quota.Limits.CPU)
	quantity("quota.limits.memory", s.Quota.Limits.Memory)
	if s.Quota.Pods < 1 {
		errs = append(errs, fmt.Errorf("%s.%s.quota.pods: want at least 1, got %d", Key, name, s.Quota.Pods))
	}
	for _, q := range []struct{ resource, request, limit string }{
		{"cpu", s.Limits.DefaultRequest.CPU, s.Limits.Default.CPU},
		{"memory", s.Limits.DefaultRequest.Memory, s.Limits.Default.Memory},
	} {
		quantity("limits.defaultRequest."+q.resource, q.request)
		quantity("limits.default."+q.resource, q.limit)
		req, reqErr := resource.ParseQuantity(q.request)
		lim, limErr := resource.ParseQuantity(q.limit)
		if reqErr == nil && limErr == nil && req.Cmp(lim) > 0 {
			errs = append(errs, fmt.Errorf("%s.%s.limits.defaultRequest.%s: %s is above limits.default.%s %s; the API server refuses such a LimitRange",
				Key, name, q.resource, q.request, q.resource, q.limit))
		}
	}
	return errs
}

// validateServices checks that each service runs in a namespace of a team, of its own team when it names one, and
// that the namespace's quota can run it at all: its minimum replicas, besides the namespace's load tester.
func validateServices(specs map[string]Spec, owner map[string]string, st Stack) []error {
	var errs []error
	for _, name := range services.Names(st.Services) {
		svc := st.Services[name]
		team, owned := owner[svc.Namespace]
		switch {
		case svc.Team != "" && !slices.Contains(Names(specs), svc.Team):
			errs = append(errs, fmt.Errorf("services.%s.team: %q is not a team; want one of %v", name, svc.Team, Names(specs)))
			continue
		case svc.Team != "" && team != svc.Team:
			whose := "no team's"
			if owned {
				whose = "team " + team + "'s"
			}
			errs = append(errs, fmt.Errorf("services.%s.namespace: %q is %s, not team %s's; want one of %v",
				name, svc.Namespace, whose, svc.Team, specs[svc.Team].NamespacesOf(svc.Team)))
			continue
		case !owned:
			errs = append(errs, fmt.Errorf("services.%s.namespace: %q belongs to no team; add it to one, e.g. "+
				"`pulumi config set --path '%s.%s.namespaces[0]' %s` (docs/teams.md)", name, svc.Namespace, Key, svc.Namespace, svc.Namespace))
			continue
		}
		for _, r := range []struct{ resource, request, limit, dflt string }{
			{"cpu", svc.Resources.Requests.CPU, svc.Resources.Limits.CPU, specs[team].Limits.Default.CPU},
			{"memory", svc.Resources.Requests.Memory, svc.Resources.Limits.Memory, specs[team].Limits.Default.Memory},
		} {
			req, reqErr := resource.ParseQuantity(r.request)
			lim, limErr := resource.ParseQuantity(r.dflt)
			if r.limit == "" && reqErr == nil && limErr == nil && req.Cmp(lim) > 0 {
				errs = append(errs, fmt.Errorf("services.%s.resources.requests.%s: %s is above team %s's default limit %s, which the "+
					"API server sets as the empty limit, and it would refuse the pods; set resources.limits.%s too", name, r.resource,
					r.request, team, r.dflt, r.resource))
			}
		}
		q := specs[team].Quota
		if msg := shortfall(specs[team].Need(svc, svc.MinReplicas), q); msg != "" {
			errs = append(errs, fmt.Errorf("services.%s: its %d minimum replicas need %s, above team %s's quota in %s (%s.%s.quota); "+
				"raise the quota or lower the service's minReplicas or resources", name, svc.MinReplicas, msg, team, svc.Namespace, Key, team))
		}
	}
	return errs
}

// Usage is what some pods request and limit, as a ResourceQuota counts it.
type Usage struct {
	RequestsCPU, RequestsMemory, LimitsCPU, LimitsMemory resource.Quantity
	Pods                                                 int64
}

// Need is what replicas pods of a service count against its team's quota. A quantity the service leaves empty is
// set as the API server does: a request to the service's own limit, else to the LimitRange's default request; a
// limit to the LimitRange's default.
func (s Spec) Need(svc services.Spec, replicas int) Usage {
	times := func(v, dflt string) resource.Quantity {
		q, err := resource.ParseQuantity(cmp.Or(v, dflt))
		if err != nil {
			return resource.Quantity{}
		}
		q.Mul(int64(replicas))
		return q
	}
	r, d := svc.Resources, s.Limits
	return Usage{
		RequestsCPU:    times(r.Requests.CPU, cmp.Or(r.Limits.CPU, d.DefaultRequest.CPU)),
		RequestsMemory: times(r.Requests.Memory, cmp.Or(r.Limits.Memory, d.DefaultRequest.Memory)),
		LimitsCPU:      times(r.Limits.CPU, d.Default.CPU), LimitsMemory: times(r.Limits.Memory, d.Default.Memory),
		Pods: int64(replicas),
	}
}

// shortfall names each quota the usage exceeds, "requests.cpu 800m > 500m", or is empty when it fits.
func shortfall(u Usage, q Quota) string {
	var over []string
	for _, c := range []struct {
		name  string
		need  resource.Quantity
		quota string
	}{
		{"requests.cpu", u.RequestsCPU, q.Requests.CPU}, {"requests.memory", u.RequestsMemory, q.Requests.Memory},
		{"limits.cpu", u.LimitsCPU, q.Limits.CPU}, {"limits.memory", u.LimitsMemory, q.Limits.Memory},
	} {
		hard, err := resource.ParseQuantity(c.quota)
		if err != nil || c.need.IsZero() {
			continue
		}
		if c.need.Cmp(hard) > 0 {
			over = append(over, fmt.Sprintf("%s %s > %s", c.name, c.need.String(), hard.String()))
		}
	}
	if q.Pods > 0 && u.Pods > int64(q.Pods) {
		over = append(over, fmt.Sprintf("pods %d > %d", u.Pods, q.Pods))
	}
	return strings.Join(over, ", ")
}

// CanaryWarnings warn of each service whose release would not fit its namespace's quota: a canary runs as many pods
// again as the primary, up to the HPA's maximum, so maxReplicas × 2 pods must fit, or the quota silently stops
// the canary from scaling.
func CanaryWarnings(specs map[string]Spec, svcs map[string]services.Spec) []string {
	owner := Owners(specs)
	var out []string
	for _, name := range services.Names(svcs) {
		svc := svcs[name]
		team, ok := owner[svc.Namespace]
		if !ok {
			continue
		}
		peak := 2 * svc.MaxReplicas
		if msg := shortfall(specs[team].Need(svc, peak), specs[team].Quota); msg != "" {
			out = append(out, fmt.Sprintf("services.%s: a release runs up to %d pods (maxReplicas %d × 2, primary and canary), "+
				"which need %s: above team %s's quota in %s, so the canary would not scale. Raise %s.%s.quota or lower maxReplicas",
				name, peak, svc.MaxReplicas, msg, team, svc.Namespace, Key, team))
		}
	}
	return out
}
