// Package workloads declares what runs on the cluster: the progressive-delivery platform (Gloo Edge or kgateway,
// Flagger and its Prometheus, optional Datadog) and the podinfo application that Flagger releases, with its canary analysis.
package workloads

import (
	"fmt"

	"github.com/progressive-delivery/platform/internal/kubeprovider"
	"github.com/progressive-delivery/platform/manifests"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypePlatform is the type token of Platform.
const TypePlatform = "progressive-delivery:workloads:Platform"

// Chart repositories.
const (
	GlooRepo    = "https://storage.googleapis.com/solo-public-helm"
	FlaggerRepo = "https://flagger.app"
	DatadogRepo = "https://helm.datadoghq.com"
)

// KgatewayChartRepo is the OCI registry of kgateway's two charts, kgateway-crds and kgateway.
const KgatewayChartRepo = "oci://cr.kgateway.dev/kgateway-dev/charts"

// GatewayAPICRDsURL is the Gateway API release's standard-channel CRDs at version (e.g. v1.4.1).
func GatewayAPICRDsURL(version string) string {
	return "https://github.com/kubernetes-sigs/gateway-api/releases/download/" + version + "/standard-install.yaml"
}

// DatadogNamespace is where the Datadog agent runs when the stack sets datadogApiKey.
const DatadogNamespace = "datadog"

// FlaggerServiceAccount is the service account the Flagger chart creates for release "flagger".
const FlaggerServiceAccount = "flagger"

// releaseTimeoutSeconds covers the gateway's load balancer: Helm waits until AWS assigns its hostname.
const releaseTimeoutSeconds = 900

// Platform is the progressive-delivery platform: the ingress (Gloo Edge, or kgateway with the Gateway API CRDs
// and a Gateway) and Flagger with its Prometheus, optionally the Datadog agent.
type Platform struct {
	pulumi.ResourceState

	// Router is what installs the kinds Flagger writes its routes into: the Gloo release, or the Gateway (after
	// the Gateway API CRDs and kgateway). Objects of those kinds, and the Canary, wait for it.
	Router pulumi.Resource
	// Flagger installs the Canary's CRD.
	Flagger *kubeprovider.Release
	// Datadog is nil unless enabled.
	Datadog *kubeprovider.Release
	// GatewayHostname is the DNS name of the gateway's load balancer.
	GatewayHostname pulumi.StringOutput `pulumi:"gatewayHostname"`
}

// DatadogArgs configures the Datadog agent release.
type DatadogArgs struct {
	// Required. Pinned chart version.
	ChartVersion string
	// Required. API key; pass a secret.
	APIKey pulumi.StringInput
	// Required. Datadog site, e.g. datadoghq.com.
	Site string
}

// PlatformArgs configures a Platform.
type PlatformArgs struct {
	// Required. The ingress installed.
	Ingress manifests.Ingress
	// Required. Pinned Flagger chart version.
	FlaggerChartVersion string
	// Required with Gloo. Pinned Gloo chart version.
	GlooChartVersion string
	// Required with the Gateway API. Pinned kgateway chart version (both charts) and Gateway API release.
	KgatewayChartVersion, GatewayAPIVersion string
	// Required with the Gateway API. The hosts the public listeners serve and the namespaces whose routes attach:
	// the services'.
	Hosts, RouteNamespaces []string
	// Optional. Cluster name shown in Flagger's notifications.
	ClusterName pulumi.StringInput
	// Optional. IAM role of Flagger's service account (IRSA), for reading CloudWatch metrics.
	FlaggerRoleARN pulumi.StringInput
	// Optional. Has the Datadog agent collect the gateway proxy's Envoy metrics, which the Datadog canary
	// checks query.
	GatewayMetricsToDatadog bool
	// Optional. Datadog agent release.
	Datadog *DatadogArgs
}

func (a *PlatformArgs) check() error {
	var missing []string
	need := func(field, v string) {
		if v == "" {
			missing = append(missing, field)
		}
	}
	need("FlaggerChartVersion", a.FlaggerChartVersion)
	if a.Ingress == nil {
		return fmt.Errorf("ingress: want one of %v", manifests.Ingresses)
	}
	switch a.Ingress.Name() {
	case manifests.IngressGloo:
		need("GlooChartVersion", a.GlooChartVersion)
	case manifests.IngressGatewayAPI:
		need("KgatewayChartVersion", a.KgatewayChartVersion)
		need("GatewayAPIVersion", a.GatewayAPIVersion)
		if len(a.Hosts) == 0 || len(a.RouteNamespaces) == 0 {
			missing = append(missing, "Hosts/RouteNamespaces")
		}
	}
	if d := a.Datadog; d != nil && (d.ChartVersion == "" || d.APIKey == nil || d.Site == "") {
		missing = append(missing, "Datadog.ChartVersion/APIKey/Site")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%v required", missing)
	}
	return nil
}

// gatewayEnvoyCheck is the Datadog agent's Envoy check (autodiscovery annotation) on the gateway proxy's stats
// listener; distributions make the P99 of the request time queryable.
const gatewayEnvoyCheck = `{"envoy":{"instances":[{"openmetrics_endpoint":"http://%%host%%:8081/metrics",` +
	`"histogram_buckets_as_distributions":true}]}}`

// GlooValues are the Gloo chart values: Flagger creates its own upstreams, so discovery is off, and the gateway
// proxy is the cluster's public entry point. With toDatadog the Datadog agent collects the proxy's Envoy metrics.
func GlooValues(toDatadog bool) pulumi.Map {
	proxy := pulumi.Map{"service": pulumi.Map{"type": pulumi.String("LoadBalancer")}}
	if toDatadog {
		proxy["podTemplate"] = pulumi.Map{"extraAnnotations": pulumi.Map{
			"ad.datadoghq.com/gateway-proxy.checks": pulumi.String(gatewayEnvoyCheck),
		}}
	}
	return pulumi.Map{
		"discovery":      pulumi.Map{"enabled": pulumi.Bool(false)},
		"gatewayProxies": pulumi.Map{"gatewayProxy": proxy},
	}
}

// FlaggerValues are the Flagger chart values: the ingress's router and Flagger's own Prometheus. A role ARN goes
// on Flagger's service account (IRSA). Notifications are the Canary's AlertProviders, not chart values, so they
// work with a Flagger installed by someone else too.
func FlaggerValues(ingress manifests.Ingress, clusterName, roleARN pulumi.StringInput) pulumi.Map {
	values := pulumi.Map{
		"meshProvider": pulumi.String(ingress.Provider()),
		"prometheus":   pulumi.Map{"install": pulumi.Bool(true)},
	}
	if clusterName != nil {
		values["clusterName"] = clusterName
	}
	if roleARN != nil {
		values["serviceAccount"] = pulumi.Map{"annotations": pulumi.Map{"eks.amazonaws.com/role-arn": roleARN}}
	}
	return values
}

// NewPlatform installs the platform onto the cluster of the inherited Kubernetes provider.
func NewPlatform(ctx *pulumi.Context, name string, args *PlatformArgs, opts ...pulumi.ResourceOption) (*Platform, error) {
	if args == nil {
		return nil, fmt.Errorf("platform %s: args are required", name)
	}
	if err := args.check(); err != nil {
		return nil, fmt.Errorf("platform %s: %w", name, err)
	}
	p := &Platform{}
	if err := ctx.RegisterComponentResource(TypePlatform, name, p, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(p)

	// An explicit namespace, not Helm's createNamespace: on destroy Pulumi waits for it to be gone, which only
	// happens once the gateway's Service and its AWS load balancer are deleted, so the VPC is free by the time
	// its deletion comes.
	ns, err := newNamespace(ctx, name+"-ns", args.Ingress.Namespace(), parent)
	if err != nil {
		return nil, fmt.Errorf("platform %s: %w", name, err)
	}
	var ingress *ingressParts
	if args.Ingress.Name() == manifests.IngressGatewayAPI {
		ingress, err = newGatewayAPI(ctx, name, args, ns, parent)
	} else {
		ingress, err = newGloo(ctx, name, args, ns, parent)
	}
	if err != nil {
		return nil, fmt.Errorf("platform %s: %w", name, err)
	}

	// Release name "flagger" fixes the object names the chart derives, among them flagger-prometheus, the metrics
	// server the Canary's analysis queries.
	flagger, err := newRelease(ctx, name+"-flagger", release{name: "flagger", chart: "flagger", repo: FlaggerRepo,
		version: args.FlaggerChartVersion, values: FlaggerValues(args.Ingress, args.ClusterName, args.FlaggerRoleARN)}, ns, parent)
	if err != nil {
		return nil, fmt.Errorf("platform %s: %w", name, err)
	}

	if d := args.Datadog; d != nil {
		ddNamespace, err := newNamespace(ctx, name+"-datadog-ns", DatadogNamespace, parent)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", name, err)
		}
		p.Datadog, err = newRelease(ctx, name+"-datadog", release{name: "datadog", chart: "datadog", repo: DatadogRepo,
			version: d.ChartVersion, values: pulumi.Map{"datadog": pulumi.Map{
				"apiKey": pulumi.ToSecret(d.APIKey),
				"site":   pulumi.String(d.Site),
			}}}, ddNamespace, parent)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", name, err)
		}
	}

	// Read the proxy's Service once what creates it exists: its ID is only known then, so a preview of a new
	// stack does not try to read from a cluster that is not there yet.
	proxy, err := corev1.GetService(ctx, name+"-gateway-proxy", ingress.serviceID, nil, parent, pulumi.DependsOn([]pulumi.Resource{ingress.router}))
	if err != nil {
		return nil, fmt.Errorf("platform %s: reading the gateway's service: %w", name, err)
	}

	p.Router = ingress.router
	p.Flagger = flagger
	p.GatewayHostname = proxy.Status.LoadBalancer().Ingress().Index(pulumi.Int(0)).Hostname().Elem()
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{
		"gatewayHostname": p.GatewayHostname,
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// ingressParts are what the rest of the platform needs from an ingress: the resource Flagger's routes wait
// for, and the ID of the proxy's Service, known once that resource exists.
type ingressParts struct {
	router    pulumi.Resource
	serviceID pulumi.IDOutput
}

func newGloo(ctx *pulumi.Context, name string, args *PlatformArgs, ns *corev1.Namespace, parent pulumi.ResourceOption) (*ingressParts, error) {
	// A Helm release rather than a rendered chart: Gloo installs its default Gateways through Helm hooks.
	gloo, err := newRelease(ctx, name+"-gloo", release{name: "gloo", chart: "gloo", repo: GlooRepo,
		version: args.GlooChartVersion, values: GlooValues(args.GatewayMetricsToDatadog)}, ns, parent)
	if err != nil {
		return nil, err
	}
	serviceID := gloo.StatusField("namespace").ApplyT(func(ns string) pulumi.ID {
		return pulumi.ID(ns + "/" + manifests.GatewayName)
	}).(pulumi.IDOutput)
	return &ingressParts{router: gloo, serviceID: serviceID}, nil
}

// newGatewayAPI installs the Gateway API's standard CRDs, kgateway (its CRDs chart, then its controller chart)
// and the public Gateway.
func newGatewayAPI(ctx *pulumi.Context, name string, args *PlatformArgs, ns *corev1.Namespace, parent pulumi.ResourceOption) (*ingressParts, error) {
	crds, err := kubeprovider.NewConfigFile(ctx, name+"-gateway-api-crds", pulumi.String(GatewayAPICRDsURL(args.GatewayAPIVersion)), parent)
	if err != nil {
		return nil, fmt.Errorf("installing the Gateway API CRDs: %w", err)
	}
	kgatewayCRDs, err := newRelease(ctx, name+"-kgateway-crds", release{name: "kgateway-crds",
		chart: KgatewayChartRepo + "/kgateway-crds", version: args.KgatewayChartVersion}, ns, parent, pulumi.DependsOn([]pulumi.Resource{crds}))
	if err != nil {
		return nil, err
	}
	kgateway, err := newRelease(ctx, name+"-kgateway", release{name: "kgateway",
		chart: KgatewayChartRepo + "/kgateway", version: args.KgatewayChartVersion}, ns, parent, pulumi.DependsOn([]pulumi.Resource{kgatewayCRDs}))
	if err != nil {
		return nil, err
	}
	gateway := manifests.PublicGateway(manifests.GatewayParams{Gateway: manifests.PublicGatewayRef(args.Ingress),
		Hosts: args.Hosts, RouteNamespaces: args.RouteNamespaces})
	obj, err := manifests.ToObject(gateway)
	if err != nil {
		return nil, err
	}
	// Programmed is kgateway's word that the proxy and its Service exist; waiting for it means the Service read
	// after it finds the load balancer's hostname.
	gw, err := newCustomResource(ctx, name+"-gateway", obj, ns.Metadata.Name().Elem(), map[string]string{"pulumi.com/waitFor": "condition=Programmed"},
		parent, pulumi.DependsOn([]pulumi.Resource{kgateway}))
	if err != nil {
		return nil, fmt.Errorf("creating the gateway: %w", err)
	}
	serviceID := pulumi.All(gw.Metadata.Namespace().Elem(), gw.Metadata.Name().Elem()).ApplyT(func(v []any) pulumi.ID {
		return pulumi.ID(v[0].(string) + "/" + v[1].(string))
	}).(pulumi.IDOutput)
	return &ingressParts{router: gw, serviceID: serviceID}, nil
}

// release is a pinned Helm chart; repo is empty for an OCI chart, whose reference is the chart itself.
type release struct {
	name, chart, repo, version string
	values                     pulumi.Map
}

// newRelease installs a pinned chart into the namespace as a Helm release (hooks run, as Gloo's need).
func newRelease(ctx *pulumi.Context, logical string, r release, ns *corev1.Namespace, opts ...pulumi.ResourceOption) (*kubeprovider.Release, error) {
	args := &kubeprovider.ReleaseArgs{
		Name:           pulumi.String(r.name),
		Chart:          pulumi.String(r.chart),
		Version:        pulumi.String(r.version),
		Namespace:      ns.Metadata.Name().Elem(),
		TimeoutSeconds: pulumi.Int(releaseTimeoutSeconds),
	}
	if r.values != nil {
		args.Values = r.values
	}
	if r.repo != "" {
		args.Repo = pulumi.String(r.repo)
	}
	rel, err := kubeprovider.NewRelease(ctx, logical, args, opts...)
	if err != nil {
		return nil, fmt.Errorf("installing %s chart: %w", r.name, err)
	}
	return rel, nil
}

func newNamespace(ctx *pulumi.Context, logical, name string, opts ...pulumi.ResourceOption) (*corev1.Namespace, error) {
	ns, err := corev1.NewNamespace(ctx, logical, &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(name)},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return ns, nil
}
