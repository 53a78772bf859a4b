package workloads

import (
	"fmt"

	"github.com/progressive-delivery/platform/manifests"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeServiceNamespace is the type token of ServiceNamespace.
const TypeServiceNamespace = "progressive-delivery:workloads:ServiceNamespace"

// TypeApp is the type token of the single-service App component of earlier releases, whose objects the
// walkthrough's service and namespace adopt (ServiceArgs.AdoptApp).
const TypeApp = "progressive-delivery:workloads:App"

// ServiceNamespace is a namespace the services run in, with what they share there: the load tester that runs
// their webhooks, and the metrics provider's and alerts' objects of their analyses.
type ServiceNamespace struct {
	pulumi.ResourceState

	Name pulumi.StringOutput `pulumi:"name"`
	// LoadTesterURL is the load tester's in-cluster URL, empty when the namespace has none.
	LoadTesterURL string
	// name is the namespace's name, known before it exists.
	name string
	// analysis holds the Canary's side of the metrics provider and the alerts.
	analysis *CanaryAnalysis
	// ready are what a Canary here waits for: the load tester's Service and the analysis objects.
	ready []pulumi.Resource
	// guards are what a pod here waits for: its team's quota and LimitRange.
	guards []pulumi.Resource
}

// ServiceNamespaceArgs configures a ServiceNamespace.
type ServiceNamespaceArgs struct {
	// Required. The namespace's name.
	Name string
	// Optional. Deploys Flagger's load tester of this image (tag pinned); empty deploys none.
	LoadTesterImage string
	// Optional; default Flagger's built-in Prometheus checks.
	Metrics *MetricsArgs
	// Optional. Slack and Microsoft Teams AlertProviders.
	Slack, Teams *AlertArgs
	// Optional. The Flagger release that installs the CRDs of the analysis objects.
	Flagger pulumi.Resource
	// Optional. The team that owns the namespace; without one the namespace is created here.
	Team *Team
	// Optional. Adopts the namespace, load tester and analysis objects of the App component of earlier releases
	// (the walkthrough's namespace), so they keep their URNs and nothing is replaced.
	AdoptApp bool
}

// NewServiceNamespace creates the namespace and what its services share.
func NewServiceNamespace(ctx *pulumi.Context, name string, args *ServiceNamespaceArgs, opts ...pulumi.ResourceOption) (*ServiceNamespace, error) {
	if args == nil || args.Name == "" {
		return nil, fmt.Errorf("service namespace %s: Name is required", name)
	}
	n := &ServiceNamespace{name: args.Name}
	if err := ctx.RegisterComponentResource(TypeServiceNamespace, name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)
	was := formerly(ctx, args.AdoptApp)

	if owned, ok := teamNamespace(args.Team, args.Name); ok {
		n.Name, n.guards = owned, args.Team.Guards[args.Name]
	} else {
		ns, err := newNamespace(ctx, name+"-ns", args.Name, parent, was("app-ns"))
		if err != nil {
			return nil, err
		}
		n.Name = ns.Metadata.Name().Elem()
	}

	if args.LoadTesterImage != "" {
		tester, err := appsv1.NewDeployment(ctx, name+"-loadtester", LoadTesterDeployment(n.Name, args.LoadTesterImage), parent, was("app-loadtester"),
			pulumi.DependsOn(n.guards))
		if err != nil {
			return nil, fmt.Errorf("creating load tester deployment: %w", err)
		}
		svc, err := corev1.NewService(ctx, name+"-loadtester-svc", LoadTesterService(n.Name), parent, was("app-loadtester-svc"),
			pulumi.DependsOn([]pulumi.Resource{tester}))
		if err != nil {
			return nil, fmt.Errorf("creating load tester service: %w", err)
		}
		n.LoadTesterURL = fmt.Sprintf("http://%s.%s/", LoadTesterName, args.Name)
		// A Canary waits for the tester's Deployment too: its first webhook call comes at the first analysis.
		n.ready = append(n.ready, tester, svc)
	}

	// Flagger's built-in checks without alert providers need no analysis object: no component then, so such a
	// stack's resources stay what they were.
	var err error
	n.analysis = &CanaryAnalysis{}
	if args.Slack != nil || args.Teams != nil || (args.Metrics != nil && args.Metrics.Source.Templated()) {
		n.analysis, err = NewCanaryAnalysis(ctx, name+"-analysis", &CanaryAnalysisArgs{
			NamespaceName: args.Name, Namespace: n.Name, Metrics: args.Metrics, Slack: args.Slack, Teams: args.Teams,
			Flagger: args.Flagger,
		}, parent, was("app-analysis"))
		if err != nil {
			return nil, err
		}
		n.ready = append(n.ready, n.analysis.Objects...)
	}

	if err := ctx.RegisterResourceOutputs(n, pulumi.Map{"name": n.Name}); err != nil {
		return nil, err
	}
	return n, nil
}

// formerly returns, for a component that adopts the App of earlier releases, the alias of a child by its name
// under that App; otherwise no option.
func formerly(ctx *pulumi.Context, adopt bool) func(oldName string) pulumi.ResourceOption {
	return func(oldName string) pulumi.ResourceOption {
		if !adopt {
			return pulumi.Aliases(nil)
		}
		app := pulumi.CreateURN(pulumi.String("app"), pulumi.String(TypeApp), nil, pulumi.String(ctx.Project()), pulumi.String(ctx.Stack()))
		return pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(oldName), ParentURN: app}})
	}
}

// metrics is the Canary's side of the namespace's metrics provider.
func (n *ServiceNamespace) metrics() manifests.MetricsSource { return n.analysis.Metrics }

// teamNamespace is the namespace of a team, when the team owns it.
func teamNamespace(t *Team, name string) (pulumi.StringOutput, bool) {
	if t == nil {
		return pulumi.StringOutput{}, false
	}
	ns, ok := t.Namespaces[name]
	return ns, ok
}
