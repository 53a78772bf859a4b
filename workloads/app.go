package workloads

import (
	"fmt"

	"github.com/progressive-delivery/platform/manifests"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeApp is the type token of App.
const TypeApp = "progressive-delivery:workloads:App"

// Podinfo's ports.
const (
	podinfoHTTPPort    = 9898
	podinfoMetricsPort = 9797
	podinfoGRPCPort    = 9999
)

// App is the podinfo application under Flagger's control, with its load tester, its route (a Gloo
// VirtualService, or the Gateway API HTTPRoute Flagger generates) and Canary.
type App struct {
	pulumi.ResourceState

	Namespace pulumi.StringOutput `pulumi:"namespace"`
	// Image is the podinfo image the Deployment runs.
	Image pulumi.StringOutput `pulumi:"image"`
	// CanaryName is the name of the Flagger Canary.
	CanaryName pulumi.StringOutput `pulumi:"canaryName"`
}

// AppNamespace is the walkthrough's namespace of podinfo, its load tester and its Canary.
const AppNamespace = manifests.AppNamespace

// AppArgs configures an App.
type AppArgs struct {
	// Optional; default AppNamespace.
	Namespace string
	// Required. Podinfo image, <repository>:<tag>.
	Image pulumi.StringInput
	// Required. Host name the gateway serves podinfo on and the load test sends.
	Domain string
	// Required. One of manifests.Ingresses: Gloo gets a VirtualService, the Gateway API a Canary with gatewayRefs.
	Ingress string
	// Required. The canary analysis.
	Analysis *manifests.Analysis
	// Required. Flagger load tester image.
	LoadTesterImage string
	// Optional. What installs the kinds Flagger routes with (Platform.Router) and the Canary's CRD (the Flagger
	// release); nil when someone else installed them.
	Router, Flagger pulumi.Resource
	// Optional; default Flagger's built-in Prometheus checks.
	Metrics *MetricsArgs
	// Optional. Slack and Microsoft Teams AlertProviders.
	Slack, Teams *AlertArgs
	// Optional. URL Flagger posts every canary event to (Flagger's event webhook); pass a secret.
	EventWebhookURL pulumi.StringInput
}

// NewApp deploys podinfo and its canary onto the cluster of the inherited Kubernetes provider.
func NewApp(ctx *pulumi.Context, name string, args *AppArgs, opts ...pulumi.ResourceOption) (*App, error) {
	if args == nil || args.Image == nil || args.Domain == "" || args.Analysis == nil || args.LoadTesterImage == "" ||
		(args.Ingress != manifests.IngressGloo && args.Ingress != manifests.IngressGatewayAPI) {
		return nil, fmt.Errorf("app %s: Image, Domain, Ingress (one of %v), Analysis and LoadTesterImage are required", name, manifests.Ingresses)
	}
	namespace := args.Namespace
	if namespace == "" {
		namespace = AppNamespace
	}
	a := &App{}
	if err := ctx.RegisterComponentResource(TypeApp, name, a, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(a)

	ns, err := corev1.NewNamespace(ctx, name+"-ns", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(namespace)},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating namespace %s: %w", namespace, err)
	}
	nsName := ns.Metadata.Name().Elem()

	deployment, err := appsv1.NewDeployment(ctx, name+"-podinfo", PodinfoDeployment(nsName, args.Image), parent)
	if err != nil {
		return nil, fmt.Errorf("creating podinfo deployment: %w", err)
	}
	hpa, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, name+"-podinfo-hpa", PodinfoHPA(nsName, deployment), parent)
	if err != nil {
		return nil, fmt.Errorf("creating podinfo autoscaler: %w", err)
	}
	if _, err := policyv1.NewPodDisruptionBudget(ctx, name+"-podinfo-pdb", PodinfoPDB(nsName), parent); err != nil {
		return nil, fmt.Errorf("creating podinfo disruption budget: %w", err)
	}
	tester, err := appsv1.NewDeployment(ctx, name+"-loadtester", LoadTesterDeployment(nsName, args.LoadTesterImage), parent)
	if err != nil {
		return nil, fmt.Errorf("creating load tester deployment: %w", err)
	}
	testerService, err := corev1.NewService(ctx, name+"-loadtester-svc", LoadTesterService(nsName), parent,
		pulumi.DependsOn([]pulumi.Resource{tester}))
	if err != nil {
		return nil, fmt.Errorf("creating load tester service: %w", err)
	}

	if args.Ingress == manifests.IngressGloo {
		vs, err := manifests.ToObject(manifests.VirtualService(manifests.VirtualServiceParams{Namespace: namespace, Domain: args.Domain}))
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", name, err)
		}
		// The VirtualService's kind exists once the Gloo release has installed its CRD.
		if _, err := newCustomResource(ctx, name+"-virtualservice", vs, nsName, nil, parent,
			pulumi.DependsOn(present(args.Router))); err != nil {
			return nil, fmt.Errorf("app %s: creating virtual service: %w", name, err)
		}
	}

	// Flagger's built-in checks without alert providers need no analysis object: no component then, so such a
	// stack's resources stay what they were.
	checks := &CanaryAnalysis{}
	if args.Slack != nil || args.Teams != nil || (args.Metrics != nil && args.Metrics.Source.Templated()) {
		checks, err = NewCanaryAnalysis(ctx, name+"-analysis", &CanaryAnalysisArgs{
			NamespaceName: namespace, Namespace: nsName, Metrics: args.Metrics, Slack: args.Slack, Teams: args.Teams,
			Flagger: args.Flagger,
		}, parent)
		if err != nil {
			return nil, err
		}
	}
	params := manifests.CanaryParams{
		Namespace:     namespace,
		Analysis:      *args.Analysis,
		Domain:        args.Domain,
		Ingress:       args.Ingress,
		Gateway:       PublicGateway(args.Ingress),
		GatewayURL:    GatewayURL(args.Ingress),
		LoadTesterURL: fmt.Sprintf("http://%s.%s/", LoadTesterName, namespace),
		Metrics:       checks.Metrics,
		Alerts:        checks.Alerts,
	}
	canaryObject, err := manifests.ToObject(manifests.Canary(params))
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", name, err)
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
	canary, err := newCustomResource(ctx, name+"-canary", canaryObject, nsName, nil, parent,
		pulumi.DependsOn(present(append([]pulumi.Resource{args.Flagger, args.Router, deployment, hpa, testerService}, checks.Objects...)...)),
		pulumi.ReplaceOnChanges([]string{"spec.provider"}), pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, fmt.Errorf("app %s: creating canary: %w", name, err)
	}

	a.Namespace = nsName
	a.Image = deployment.Spec.Template().Spec().Containers().Index(pulumi.Int(0)).Image().Elem()
	a.CanaryName = canary.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{
		"namespace":  a.Namespace,
		"image":      a.Image,
		"canaryName": a.CanaryName,
	}); err != nil {
		return nil, err
	}
	return a, nil
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
