package workloads

import (
	"fmt"
	"slices"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/manifests"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeTeam is the type token of Team.
const TypeTeam = "progressive-delivery:workloads:Team"

// TeamLabel marks a namespace with the team that owns it; the policy pack finds team namespaces by it.
const TeamLabel = eksfacts.TeamLabel

// Team is one service team, as EKS Blueprints' ApplicationTeam: its namespaces under the restricted Pod Security
// Standard, a ResourceQuota, a LimitRange and ingress NetworkPolicies in each, and its IAM principals' EKS access
// entries, scoped to those namespaces.
type Team struct {
	pulumi.ResourceState

	// Namespaces are the team's namespaces by name, each output resolving once the namespace exists.
	Namespaces map[string]pulumi.StringOutput
	// Guards are, per namespace, what a pod there must wait for: the quota and the LimitRange, without which the
	// API server would admit it unbounded.
	Guards map[string][]pulumi.Resource
}

// TeamArgs configures a Team.
type TeamArgs struct {
	// Required. The team's namespaces.
	Namespaces []string
	// Required. The ingress, whose namespace holds the gateway, Flagger and Prometheus.
	Ingress manifests.Ingress
	// Required. The ResourceQuota's hard limits and the LimitRange's container defaults.
	Quota  TeamQuota
	Limits TeamLimits
	// Optional. IAM role or user ARNs given Access on the namespaces through EKS access entries; they need
	// ClusterName and Partition.
	Principals []string
	// Optional; default edit. eksfacts.EditPolicy or eksfacts.ViewPolicy.
	AccessPolicy string
	ClusterName  pulumi.StringInput
	Partition    string
	// Optional. The namespace of a metrics agent outside the ingress namespace (Datadog's), allowed to scrape.
	ScraperNamespace string
	// Optional. Namespaces a ServiceNamespace of earlier releases created, and the one the App of still earlier
	// releases created: each keeps its URN.
	FormerServiceNamespaces []string
	FormerAppNamespace      string
}

// TeamQuota are a ResourceQuota's hard limits, as Kubernetes quantities.
type TeamQuota struct {
	RequestsCPU, RequestsMemory, LimitsCPU, LimitsMemory string
	Pods                                                 int
}

// TeamLimits are a LimitRange's container defaults.
type TeamLimits struct {
	DefaultRequestCPU, DefaultRequestMemory, DefaultCPU, DefaultMemory string
}

// NewTeam creates a team's namespaces and what guards and opens them.
func NewTeam(ctx *pulumi.Context, name string, args *TeamArgs, opts ...pulumi.ResourceOption) (*Team, error) {
	if args == nil || len(args.Namespaces) == 0 || args.Ingress == nil || args.Quota.Pods < 1 {
		return nil, fmt.Errorf("team %s: Namespaces, Ingress and Quota are required", name)
	}
	if len(args.Principals) > 0 && (args.ClusterName == nil || args.Partition == "") {
		return nil, fmt.Errorf("team %s: Principals need ClusterName and Partition", name)
	}
	t := &Team{Namespaces: map[string]pulumi.StringOutput{}, Guards: map[string][]pulumi.Resource{}}
	if err := ctx.RegisterComponentResource(TypeTeam, name, t, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(t)
	for _, nsName := range args.Namespaces {
		adopt := pulumi.Aliases(namespaceAliases(ctx, nsName, slices.Contains(args.FormerServiceNamespaces, nsName), nsName == args.FormerAppNamespace))
		ns, err := corev1.NewNamespace(ctx, nsName+"-ns", &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(nsName), Labels: pulumi.StringMap{
				TeamLabel: pulumi.String(name),
				// Every service runs as non-root with no privileges (the service model allows nothing else), so
				// the API server may enforce the strictest profile.
				"pod-security.kubernetes.io/enforce": pulumi.String("restricted"),
				"pod-security.kubernetes.io/warn":    pulumi.String("restricted"),
				"pod-security.kubernetes.io/audit":   pulumi.String("restricted"),
			}},
		}, parent, adopt)
		if err != nil {
			return nil, fmt.Errorf("creating namespace %s: %w", nsName, err)
		}
		nsOut := ns.Metadata.Name().Elem()
		t.Namespaces[nsName] = nsOut
		guards, err := t.guard(ctx, nsName, nsOut, args, parent)
		if err != nil {
			return nil, err
		}
		t.Guards[nsName] = guards
	}
	if err := t.grantAccess(ctx, name, args, parent); err != nil {
		return nil, err
	}
	outputs := pulumi.Map{}
	for nsName, out := range t.Namespaces {
		outputs[nsName] = out
	}
	if err := ctx.RegisterResourceOutputs(t, pulumi.Map{"namespaces": outputs}); err != nil {
		return nil, err
	}
	return t, nil
}

// guard creates a namespace's quota, LimitRange and NetworkPolicies.
func (t *Team) guard(ctx *pulumi.Context, nsName string, ns pulumi.StringOutput, args *TeamArgs, parent pulumi.ResourceOption) ([]pulumi.Resource, error) {
	meta := func(name string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: ns}
	}
	q := args.Quota
	quota, err := corev1.NewResourceQuota(ctx, nsName+"-quota", &corev1.ResourceQuotaArgs{
		Metadata: meta("team-quota"),
		Spec: &corev1.ResourceQuotaSpecArgs{Hard: pulumi.StringMap{
			"requests.cpu": pulumi.String(q.RequestsCPU), "requests.memory": pulumi.String(q.RequestsMemory),
			"limits.cpu": pulumi.String(q.LimitsCPU), "limits.memory": pulumi.String(q.LimitsMemory),
			"pods": pulumi.String(fmt.Sprint(q.Pods)),
		}},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating quota of %s: %w", nsName, err)
	}
	l := args.Limits
	limits, err := corev1.NewLimitRange(ctx, nsName+"-limits", &corev1.LimitRangeArgs{
		Metadata: meta("team-defaults"),
		Spec: &corev1.LimitRangeSpecArgs{Limits: corev1.LimitRangeItemArray{corev1.LimitRangeItemArgs{
			Type:           pulumi.String("Container"),
			DefaultRequest: pulumi.StringMap{"cpu": pulumi.String(l.DefaultRequestCPU), "memory": pulumi.String(l.DefaultRequestMemory)},
			Default:        pulumi.StringMap{"cpu": pulumi.String(l.DefaultCPU), "memory": pulumi.String(l.DefaultMemory)},
		}}},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating LimitRange of %s: %w", nsName, err)
	}
	for _, p := range TeamNetworkPolicies(args.Ingress, args.Namespaces, args.ScraperNamespace) {
		if _, err := networkingv1.NewNetworkPolicy(ctx, nsName+"-"+p.Name, &networkingv1.NetworkPolicyArgs{
			Metadata: meta(p.Name), Spec: p.Spec,
		}, parent); err != nil {
			return nil, fmt.Errorf("creating NetworkPolicy %s of %s: %w", p.Name, nsName, err)
		}
	}
	return []pulumi.Resource{quota, limits}, nil
}

// TeamNetworkPolicy is one NetworkPolicy of each team namespace.
type TeamNetworkPolicy struct {
	Name string
	Spec *networkingv1.NetworkPolicySpecArgs
}

// TeamNetworkPolicies deny all traffic into a team's pods, then let in what the platform needs: the gateway, the
// metrics scrapes, the team's load testers, and Flagger's webhook calls to the load tester. Egress stays open: the
// services call each other through the gateway, and their own dependencies outside the cluster.
func TeamNetworkPolicies(in manifests.Ingress, teamNamespaces []string, scraperNamespace string) []TeamNetworkPolicy {
	platform := namespaceSelector(in.Namespace())
	from := func(peers ...networkingv1.NetworkPolicyPeerArgs) networkingv1.NetworkPolicyIngressRuleArray {
		return networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
			From: networkingv1.NetworkPolicyPeerArray(toPeerInputs(peers)),
		}}
	}
	ingressOnly := pulumi.ToStringArray([]string{"Ingress"})
	allPods := &metav1.LabelSelectorArgs{}
	scrapers := []networkingv1.NetworkPolicyPeerArgs{{
		NamespaceSelector: platform,
		PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(PrometheusPodName)}},
	}}
	if scraperNamespace != "" {
		scrapers = append(scrapers, networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: namespaceSelector(scraperNamespace)})
	}
	gateway := networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: platform}
	if labels := in.GatewayPodLabels(); labels != nil {
		gateway.PodSelector = &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(labels)}
	}
	loadTester := pulumi.StringMap{"app": pulumi.String(LoadTesterName)}
	return []TeamNetworkPolicy{
		{"default-deny-ingress", &networkingv1.NetworkPolicySpecArgs{PodSelector: allPods, PolicyTypes: ingressOnly}},
		{"allow-from-gateway", &networkingv1.NetworkPolicySpecArgs{PodSelector: allPods, PolicyTypes: ingressOnly, Ingress: from(gateway)}},
		{"allow-metrics-scrapes", &networkingv1.NetworkPolicySpecArgs{PodSelector: allPods, PolicyTypes: ingressOnly, Ingress: from(scrapers...)}},
		{"allow-from-load-testers", &networkingv1.NetworkPolicySpecArgs{PodSelector: allPods, PolicyTypes: ingressOnly, Ingress: from(
			networkingv1.NetworkPolicyPeerArgs{
				NamespaceSelector: &metav1.LabelSelectorArgs{MatchExpressions: metav1.LabelSelectorRequirementArray{metav1.LabelSelectorRequirementArgs{
					Key: pulumi.String(namespaceNameLabel), Operator: pulumi.String("In"), Values: pulumi.ToStringArray(teamNamespaces),
				}}},
				PodSelector: &metav1.LabelSelectorArgs{MatchLabels: loadTester},
			})}},
		{"allow-flagger-webhooks", &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: loadTester}, PolicyTypes: ingressOnly,
			Ingress: from(networkingv1.NetworkPolicyPeerArgs{
				NamespaceSelector: platform,
				PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(FlaggerPodName)}},
			})}},
	}
}

// namespaceNameLabel is the label the API server sets on every namespace to its name.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// The pod names the Flagger chart gives Flagger and its Prometheus for release "flagger" (app.kubernetes.io/name).
const (
	FlaggerPodName    = "flagger"
	PrometheusPodName = "flagger-prometheus"
)

func namespaceSelector(name string) *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{namespaceNameLabel: pulumi.String(name)}}
}

func toPeerInputs(peers []networkingv1.NetworkPolicyPeerArgs) []networkingv1.NetworkPolicyPeerInput {
	out := make([]networkingv1.NetworkPolicyPeerInput, len(peers))
	for i, p := range peers {
		out[i] = p
	}
	return out
}

// grantAccess gives each principal an EKS access entry and the team's access policy on the team's namespaces,
// never cluster-wide.
func (t *Team) grantAccess(ctx *pulumi.Context, team string, args *TeamArgs, parent pulumi.ResourceOption) error {
	policy := args.AccessPolicy
	if policy == "" {
		policy = eksfacts.EditPolicy
	}
	namespaces := slices.Clone(args.Namespaces)
	slices.Sort(namespaces)
	for _, arn := range args.Principals {
		key := team + "-" + eksfacts.PrincipalKey(arn)
		entry, err := awseks.NewAccessEntry(ctx, key, &awseks.AccessEntryArgs{
			ClusterName: args.ClusterName, PrincipalArn: pulumi.String(arn), Type: pulumi.String("STANDARD"),
		}, parent)
		if err != nil {
			return fmt.Errorf("creating access entry of %s: %w", arn, err)
		}
		if _, err := awseks.NewAccessPolicyAssociation(ctx, key+"-"+policy, &awseks.AccessPolicyAssociationArgs{
			ClusterName:  args.ClusterName,
			PrincipalArn: entry.PrincipalArn,
			PolicyArn:    pulumi.String(eksfacts.AccessPolicyARN(args.Partition, policy)),
			AccessScope: awseks.AccessPolicyAssociationAccessScopeArgs{
				Type: pulumi.String("namespace"), Namespaces: pulumi.ToStringArray(namespaces),
			},
		}, parent); err != nil {
			return fmt.Errorf("associating %s with %s: %w", policy, arn, err)
		}
	}
	return nil
}

// namespaceAliases are the URNs a service namespace had before teams owned it: a child of the ServiceNamespace of
// its name, or, for the walkthrough's, of the App of earlier releases.
func namespaceAliases(ctx *pulumi.Context, nsName string, serviceNamespace, app bool) []pulumi.Alias {
	project, stack := pulumi.String(ctx.Project()), pulumi.String(ctx.Stack())
	var out []pulumi.Alias
	if serviceNamespace {
		out = append(out, pulumi.Alias{Name: pulumi.String(nsName + "-ns"),
			ParentURN: pulumi.CreateURN(pulumi.String(nsName), pulumi.String(TypeServiceNamespace), nil, project, stack)})
	}
	if app {
		out = append(out, pulumi.Alias{Name: pulumi.String("app-ns"),
			ParentURN: pulumi.CreateURN(pulumi.String("app"), pulumi.String(TypeApp), nil, project, stack)})
	}
	return out
}
