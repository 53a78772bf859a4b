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

// DefaultLoadTesterImage is the Flagger load tester the walkthrough runs.
const DefaultLoadTesterImage = "ghcr.io/fluxcd/flagger-loadtester:0.22.0"

// Podinfo's ports.
const (
	podinfoHTTPPort    = 9898
	podinfoMetricsPort = 9797
	podinfoGRPCPort    = 9999
)

// App is the podinfo application under Flagger's control, with its load tester, VirtualService and Canary.
type App struct {
	pulumi.ResourceState

	Namespace pulumi.StringOutput `pulumi:"namespace"`
	// Image is the podinfo image the Deployment runs.
	Image pulumi.StringOutput `pulumi:"image"`
	// CanaryName is the name of the Flagger Canary.
	CanaryName pulumi.StringOutput `pulumi:"canaryName"`
}

// AppArgs configures an App.
type AppArgs struct {
	// Optional; default "apps".
	Namespace string
	// Required. Podinfo image, <repository>:<tag>.
	Image pulumi.StringInput
	// Required. Host name the VirtualService serves and the load test sends.
	Domain string
	// Optional; default manifests.DefaultAnalysis.
	Analysis *manifests.Analysis
	// Optional; default DefaultLoadTesterImage.
	LoadTesterImage string
	// Optional. The releases that install the VirtualService CRD (Gloo) and the Canary CRD (Flagger); nil when
	// someone else installed them.
	Gloo, Flagger pulumi.Resource
	// Optional; default Flagger's built-in Prometheus checks.
	Metrics *MetricsArgs
	// Optional. Slack and Microsoft Teams AlertProviders.
	Slack, Teams *AlertArgs
	// Optional. URL Flagger posts every canary event to (Flagger's event webhook); pass a secret.
	EventWebhookURL pulumi.StringInput
}

// NewApp deploys podinfo and its canary onto the cluster of the inherited Kubernetes provider.
func NewApp(ctx *pulumi.Context, name string, args *AppArgs, opts ...pulumi.ResourceOption) (*App, error) {
	if args == nil || args.Image == nil || args.Domain == "" {
		return nil, fmt.Errorf("app %s: Image and Domain are required", name)
	}
	namespace := args.Namespace
	if namespace == "" {
		namespace = "apps"
	}
	analysis := manifests.DefaultAnalysis
	if args.Analysis != nil {
		analysis = *args.Analysis
	}
	loadTesterImage := args.LoadTesterImage
	if loadTesterImage == "" {
		loadTesterImage = DefaultLoadTesterImage
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
	tester, err := appsv1.NewDeployment(ctx, name+"-loadtester", LoadTesterDeployment(nsName, loadTesterImage), parent)
	if err != nil {
		return nil, fmt.Errorf("creating load tester deployment: %w", err)
	}
	testerService, err := corev1.NewService(ctx, name+"-loadtester-svc", LoadTesterService(nsName), parent,
		pulumi.DependsOn([]pulumi.Resource{tester}))
	if err != nil {
		return nil, fmt.Errorf("creating load tester service: %w", err)
	}

	vsObject, err := manifests.VirtualService(manifests.VirtualServiceParams{Namespace: namespace, Domain: args.Domain})
	if err != nil {
		return nil, err
	}
	// The VirtualService's kind exists once the Gloo release has installed its CRD.
	if _, err := newCustomResource(ctx, name+"-virtualservice", vsObject, nsName, parent,
		pulumi.DependsOn(present(args.Gloo))); err != nil {
		return nil, fmt.Errorf("creating virtual service: %w", err)
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
	canaryObject, err := manifests.Canary(manifests.CanaryParams{
		Namespace:     namespace,
		Analysis:      analysis,
		Domain:        args.Domain,
		GatewayURL:    GatewayURL,
		LoadTesterURL: fmt.Sprintf("http://%s.%s/", LoadTesterName, namespace),
		Metrics:       checks.Metrics,
		Alerts:        checks.Alerts,
	})
	if err != nil {
		return nil, err
	}
	if args.EventWebhookURL != nil {
		addEventWebhook(canaryObject, args.EventWebhookURL)
	}
	// The Canary needs Flagger (its CRD and controller) and Gloo too: Flagger answers a Canary by creating Gloo
	// upstreams and a RouteTable. Its target, autoscaler, load tester and analysis objects exist first so the
	// first analysis runs.
	canary, err := newCustomResource(ctx, name+"-canary", canaryObject, nsName, parent,
		pulumi.DependsOn(present(append([]pulumi.Resource{args.Flagger, args.Gloo, deployment, hpa, testerService}, checks.Objects...)...)))
	if err != nil {
		return nil, fmt.Errorf("creating canary: %w", err)
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

// newCustomResource declares a decoded manifest, placing it in the given namespace output so it waits for it.
func newCustomResource(ctx *pulumi.Context, name string, obj manifests.Object, namespace pulumi.StringInput,
	opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	objName := objectName(obj)
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if objName == "" || apiVersion == "" || kind == "" {
		return nil, fmt.Errorf("%s: manifest lacks apiVersion, kind or metadata.name", name)
	}
	fields := kubernetes.UntypedArgs{}
	for k, v := range obj {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			fields[k] = v
		}
	}
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(apiVersion),
		Kind:        pulumi.String(kind),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(objName), Namespace: namespace},
		OtherFields: fields,
	}, opts...)
}

// addEventWebhook adds Flagger's event webhook to the Canary: Flagger posts every event of the canary to url. The
// URL is a credential, so it goes in as a secret output and stays secret in Pulumi's state and previews.
func addEventWebhook(canary manifests.Object, url pulumi.StringInput) {
	spec, _ := canary["spec"].(map[string]any)
	analysis, _ := spec["analysis"].(map[string]any)
	hooks, _ := analysis["webhooks"].([]any)
	analysis["webhooks"] = append(hooks, map[string]any{
		"name": "events", "type": "event", "url": pulumi.ToSecret(url),
	})
}
