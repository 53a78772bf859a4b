package workloads

import (
	"fmt"

	"github.com/progressive-delivery/platform/manifests"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeService is the type token of Service.
const TypeService = "progressive-delivery:workloads:Service"

// Service is one service under Flagger's control: its image mirror (when mirrored), Deployment, HPA and
// disruption budget, its route (a Gloo VirtualService, or the HTTPRoute Flagger generates on the Gateway API),
// its own checks' MetricTemplates and its Canary.
type Service struct {
	pulumi.ResourceState

	// Image is the image the Deployment runs.
	Image pulumi.StringOutput `pulumi:"image"`
	// CanaryName is the name of the Flagger Canary.
	CanaryName pulumi.StringOutput `pulumi:"canaryName"`
	// SourceDigests are the mirrored upstream digests by tag; empty when the image is not mirrored.
	SourceDigests pulumi.StringMapOutput `pulumi:"sourceDigests"`
	// RepositoryURL is the mirror's; empty when the image is not mirrored.
	RepositoryURL pulumi.StringOutput `pulumi:"repositoryUrl"`
}

// Mirror is a service's image mirror.
type Mirror struct {
	// Image is the mirrored tag the Deployment runs; known once that tag is pushed, so the Deployment waits for it.
	Image pulumi.StringInput
	// RepositoryURL is the mirror's repository; SourceDigests the upstream digests mirrored, by tag.
	RepositoryURL pulumi.StringOutput
	SourceDigests pulumi.StringMapOutput
}

// ServiceArgs configures a Service.
type ServiceArgs struct {
	// Required. The service as Flagger releases it; its Name, Namespace, Host and Port name and place everything.
	Release manifests.Service
	// Required. What its Deployment runs.
	Workload Workload
	// Required unless Mirror is set. The image reference the nodes pull.
	Image pulumi.StringInput
	// Optional. Creates the image's mirror as a child of the service (the program passes an infra.Registry, so
	// this package stays free of the AWS SDKs); the Deployment then runs the image it returns.
	Mirror func(name string, opts ...pulumi.ResourceOption) (*Mirror, error)
	// Required. The ingress: it decides the route and the Canary's provider.
	Ingress manifests.Ingress
	// Required. The namespace, with its load tester and analysis objects.
	Namespace *ServiceNamespace
	// Optional. What installs the kinds Flagger routes with (Platform.Router) and the Canary's CRD (the Flagger
	// release); nil when someone else installed them.
	Router, Flagger pulumi.Resource
	// Optional. URL Flagger posts every canary event to (Flagger's event webhook); pass a secret.
	EventWebhookURL pulumi.StringInput
	// Optional. Adopts the objects of the App component and the Registry of earlier releases, which held the
	// walkthrough's podinfo, so they keep their URNs: no replacement and no new canary revision.
	AdoptApp bool
}

func (a *ServiceArgs) check() error {
	switch {
	case a.Release.Name == "" || a.Release.Namespace == "" || a.Release.Host == "" || a.Release.Port == 0:
		return fmt.Errorf("the release needs Name, Namespace, Host and Port")
	case a.Image == nil && a.Mirror == nil:
		return fmt.Errorf("an Image or a Mirror is required")
	case a.Ingress == nil || a.Namespace == nil:
		return fmt.Errorf("the Ingress and the Namespace are required")
	case a.Release.NeedsLoadTester() && a.Namespace.LoadTesterURL == "":
		return fmt.Errorf("the release calls a load tester, and namespace %s has none", a.Namespace.name)
	}
	return nil
}

// NewService deploys a service and its canary onto the cluster of the inherited Kubernetes provider.
func NewService(ctx *pulumi.Context, name string, args *ServiceArgs, opts ...pulumi.ResourceOption) (*Service, error) {
	if args == nil {
		return nil, fmt.Errorf("service %s: args are required", name)
	}
	if err := args.check(); err != nil {
		return nil, fmt.Errorf("service %s: %w", name, err)
	}
	s := &Service{}
	if args.AdoptApp {
		opts = append(opts, pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String("app"), Type: pulumi.String(TypeApp), NoParent: pulumi.Bool(true)}}))
	}
	if err := ctx.RegisterComponentResource(TypeService, name, s, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(s)
	was := formerly(ctx, args.AdoptApp)
	release := &args.Release
	ns := args.Namespace.Name

	image := args.Image
	s.SourceDigests = pulumi.StringMap{}.ToStringMapOutput()
	s.RepositoryURL = pulumi.String("").ToStringOutput()
	if args.Mirror != nil {
		mirrorOpts := []pulumi.ResourceOption{parent}
		if args.AdoptApp {
			mirrorOpts = append(mirrorOpts, pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String("registry"), NoParent: pulumi.Bool(true)}}))
		}
		mirror, err := args.Mirror(name+"-mirror", mirrorOpts...)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		image = mirror.Image
		s.SourceDigests = mirror.SourceDigests
		s.RepositoryURL = mirror.RepositoryURL
	}

	deployment, err := appsv1.NewDeployment(ctx, name+"-deployment", ServiceDeployment(release, &args.Workload, ns, image), parent, was("app-podinfo"),
		pulumi.DependsOn(args.Namespace.guards))
	if err != nil {
		return nil, fmt.Errorf("service %s: creating deployment: %w", name, err)
	}
	hpa, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, name+"-hpa", ServiceHPA(release, &args.Workload, ns, deployment), parent, was("app-podinfo-hpa"))
	if err != nil {
		return nil, fmt.Errorf("service %s: creating autoscaler: %w", name, err)
	}
	if _, err := policyv1.NewPodDisruptionBudget(ctx, name+"-pdb", ServicePDB(release, ns), parent, was("app-podinfo-pdb")); err != nil {
		return nil, fmt.Errorf("service %s: creating disruption budget: %w", name, err)
	}

	if route := args.Ingress.Route(release); route != nil {
		obj, err := manifests.ToObject(route)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		// The route's kind exists once the ingress has installed its CRD.
		if _, err := newCustomResource(ctx, name+"-route", obj, ns, nil, parent, was("app-virtualservice"),
			pulumi.DependsOn(present(args.Router))); err != nil {
			return nil, fmt.Errorf("service %s: creating route: %w", name, err)
		}
	}

	ready := append([]pulumi.Resource{deployment, hpa}, args.Namespace.ready...)
	templates, err := manifests.CheckTemplates(release, args.Ingress)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", name, err)
	}
	for _, obj := range templates {
		mt, err := newCustomResource(ctx, name+"-check-"+objectName(obj), obj, ns, nil, parent, pulumi.DependsOn(present(args.Flagger)))
		if err != nil {
			return nil, fmt.Errorf("service %s: creating check template: %w", name, err)
		}
		ready = append(ready, mt)
	}

	params := manifests.CanaryParams{
		Service:       *release,
		Ingress:       args.Ingress,
		LoadTesterURL: args.Namespace.LoadTesterURL,
		Metrics:       args.Namespace.metrics(),
		Alerts:        args.Namespace.analysis.Alerts,
	}
	canaryObject, err := manifests.ToObject(manifests.Canary(params))
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", name, err)
	}
	if args.EventWebhookURL != nil {
		// The webhook URL is a credential: the spec is built from the secret value, so the whole spec stays
		// secret in Pulumi's state and previews.
		canaryObject["spec"] = pulumi.ToSecret(args.EventWebhookURL).ApplyT(func(url string) (map[string]any, error) {
			withHook := params
			withHook.EventWebhookURL = url
			obj, err := manifests.ToObject(manifests.Canary(withHook))
			if err != nil {
				return nil, err
			}
			return obj["spec"].(map[string]any), nil
		})
	}
	// The Canary needs Flagger (its CRD and controller) and the router: Flagger answers a Canary by creating
	// Gloo upstreams and a RouteTable, or an HTTPRoute. Its target, autoscaler, load tester and analysis objects
	// exist first so the first analysis runs.
	// A new provider (a move between ingresses) replaces the Canary, deleting it first: Flagger does not clean up
	// the old router's objects on a provider change, but they are the Canary's, so the garbage collector removes
	// them with it, and Flagger initializes the new Canary on the new router.
	canary, err := newCustomResource(ctx, name+"-canary", canaryObject, ns, nil, parent, was("app-canary"),
		pulumi.DependsOn(present(append([]pulumi.Resource{args.Flagger, args.Router}, ready...)...)),
		pulumi.ReplaceOnChanges([]string{"spec.provider"}), pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, fmt.Errorf("service %s: creating canary: %w", name, err)
	}

	s.Image = deployment.Spec.Template().Spec().Containers().Index(pulumi.Int(0)).Image().Elem()
	s.CanaryName = canary.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(s, pulumi.Map{
		"image":         s.Image,
		"canaryName":    s.CanaryName,
		"sourceDigests": s.SourceDigests,
		"repositoryUrl": s.RepositoryURL,
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// present drops nil resources (CRD owners this stack does not install).
func present(resources ...pulumi.Resource) []pulumi.Resource {
	var out []pulumi.Resource
	for _, r := range resources {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// newCustomResource declares a typed object's fields, placing it in the given namespace output so it waits for
// it; annotations are Pulumi's own (e.g. pulumi.com/waitFor).
func newCustomResource(ctx *pulumi.Context, name string, obj manifests.Object, namespace pulumi.StringInput,
	annotations map[string]string, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	objName := objectName(obj)
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if objName == "" || apiVersion == "" || kind == "" {
		return nil, fmt.Errorf("%s: object lacks apiVersion, kind or metadata.name", name)
	}
	fields := kubernetes.UntypedArgs{}
	for k, v := range obj {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			fields[k] = v
		}
	}
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(objName), Namespace: namespace}
	if len(annotations) > 0 {
		meta.Annotations = pulumi.ToStringMap(annotations)
	}
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(apiVersion),
		Kind:        pulumi.String(kind),
		Metadata:    meta,
		OtherFields: fields,
	}, opts...)
}
