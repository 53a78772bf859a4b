// Package workloads declares what runs on the cluster: the progressive-delivery platform (Gloo, Flagger and its
// Prometheus, optional Datadog) and the podinfo application that Flagger releases, with its canary analysis.
package workloads

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
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

// GatewayNamespace is where Gloo and Flagger run.
const GatewayNamespace = "gloo-system"

// GatewayService is the Gloo gateway proxy Service, a LoadBalancer.
const GatewayService = "gateway-proxy"

// FlaggerServiceAccount is the service account the Flagger chart creates for release "flagger".
const FlaggerServiceAccount = "flagger"

// GatewayURL is the in-cluster URL of the gateway proxy, where the load test sends its traffic.
const GatewayURL = "http://" + GatewayService + "." + GatewayNamespace

// releaseTimeoutSeconds covers the gateway-proxy load balancer: Helm waits until AWS assigns its hostname.
const releaseTimeoutSeconds = 900

// Platform is the progressive-delivery platform: Gloo Edge and Flagger (with its Prometheus) in gloo-system,
// and optionally the Datadog agent.
type Platform struct {
	pulumi.ResourceState

	// Gloo and Flagger install the CRDs of the VirtualService and the Canary; objects of those kinds wait for them.
	Gloo    *helmv3.Release
	Flagger *helmv3.Release
	// Datadog is nil unless enabled.
	Datadog *helmv3.Release
	// GatewayHostname is the DNS name of the gateway-proxy load balancer.
	GatewayHostname pulumi.StringOutput `pulumi:"gatewayHostname"`
}

// DatadogArgs configures the Datadog agent release.
type DatadogArgs struct {
	// Required. Pinned chart version.
	ChartVersion string
	// Required. API key; pass a secret.
	APIKey pulumi.StringInput
	// Optional; default datadoghq.com.
	Site string
	// Optional; default "datadog".
	Namespace string
}

// PlatformArgs configures a Platform.
type PlatformArgs struct {
	// Required. Pinned chart versions.
	GlooChartVersion, FlaggerChartVersion string
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

// FlaggerValues are the Flagger chart values: Gloo as the router and its own Prometheus. A role ARN goes on
// Flagger's service account (IRSA). Notifications are the Canary's AlertProviders, not chart values, so they
// work with a Flagger installed by someone else too.
func FlaggerValues(clusterName, roleARN pulumi.StringInput) pulumi.Map {
	values := pulumi.Map{
		"meshProvider": pulumi.String("gloo"),
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

// NewPlatform installs the platform releases onto the cluster of the inherited Kubernetes provider.
func NewPlatform(ctx *pulumi.Context, name string, args *PlatformArgs, opts ...pulumi.ResourceOption) (*Platform, error) {
	if args == nil || args.GlooChartVersion == "" || args.FlaggerChartVersion == "" {
		return nil, fmt.Errorf("platform %s: GlooChartVersion and FlaggerChartVersion are required", name)
	}
	p := &Platform{}
	if err := ctx.RegisterComponentResource(TypePlatform, name, p, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(p)

	// An explicit namespace, not Helm's createNamespace: on destroy Pulumi waits for it to be gone, which only
	// happens once the gateway-proxy Service and its AWS load balancer are deleted, so the VPC is free by the
	// time its deletion comes.
	ns, err := corev1.NewNamespace(ctx, name+"-ns", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(GatewayNamespace)},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating namespace %s: %w", GatewayNamespace, err)
	}

	// A Helm release rather than a rendered chart: Gloo installs its default Gateways through Helm hooks.
	gloo, err := helmv3.NewRelease(ctx, name+"-gloo", &helmv3.ReleaseArgs{
		Name:           pulumi.String("gloo"),
		Chart:          pulumi.String("gloo"),
		Version:        pulumi.String(args.GlooChartVersion),
		Namespace:      ns.Metadata.Name().Elem(),
		RepositoryOpts: helmv3.RepositoryOptsArgs{Repo: pulumi.String(GlooRepo)},
		Values:         GlooValues(args.GatewayMetricsToDatadog),
		Timeout:        pulumi.Int(releaseTimeoutSeconds),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("installing gloo chart: %w", err)
	}

	// Release name "flagger" fixes the object names the chart derives, among them flagger-prometheus, the metrics
	// server the Canary's analysis queries.
	flagger, err := helmv3.NewRelease(ctx, name+"-flagger", &helmv3.ReleaseArgs{
		Name:           pulumi.String("flagger"),
		Chart:          pulumi.String("flagger"),
		Version:        pulumi.String(args.FlaggerChartVersion),
		Namespace:      ns.Metadata.Name().Elem(),
		RepositoryOpts: helmv3.RepositoryOptsArgs{Repo: pulumi.String(FlaggerRepo)},
		Values:         FlaggerValues(args.ClusterName, args.FlaggerRoleARN),
		Timeout:        pulumi.Int(releaseTimeoutSeconds),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("installing flagger chart: %w", err)
	}

	if d := args.Datadog; d != nil {
		datadog, err := newDatadog(ctx, name, d, parent)
		if err != nil {
			return nil, err
		}
		p.Datadog = datadog
	}

	// Read the Service once the Gloo release exists: its ID is only known after the release, so a preview of a
	// new stack does not try to read from a cluster that is not there yet.
	serviceID := gloo.Status.Namespace().ApplyT(func(ns *string) pulumi.ID {
		return pulumi.ID(*ns + "/" + GatewayService)
	}).(pulumi.IDOutput)
	proxy, err := corev1.GetService(ctx, name+"-gateway-proxy", serviceID, nil, parent, pulumi.DependsOn([]pulumi.Resource{gloo}))
	if err != nil {
		return nil, fmt.Errorf("reading the gateway-proxy service: %w", err)
	}

	p.Gloo = gloo
	p.Flagger = flagger
	p.GatewayHostname = proxy.Status.LoadBalancer().Ingress().Index(pulumi.Int(0)).Hostname().Elem()
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{
		"gatewayHostname": p.GatewayHostname,
	}); err != nil {
		return nil, err
	}
	return p, nil
}

func newDatadog(ctx *pulumi.Context, name string, d *DatadogArgs, parent pulumi.ResourceOption) (*helmv3.Release, error) {
	if d.ChartVersion == "" || d.APIKey == nil {
		return nil, fmt.Errorf("datadog: ChartVersion and APIKey are required")
	}
	namespace, site := d.Namespace, d.Site
	if namespace == "" {
		namespace = "datadog"
	}
	if site == "" {
		site = "datadoghq.com"
	}
	ns, err := corev1.NewNamespace(ctx, name+"-datadog-ns", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(namespace)},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating namespace %s: %w", namespace, err)
	}
	release, err := helmv3.NewRelease(ctx, name+"-datadog", &helmv3.ReleaseArgs{
		Name:           pulumi.String("datadog"),
		Chart:          pulumi.String("datadog"),
		Version:        pulumi.String(d.ChartVersion),
		Namespace:      ns.Metadata.Name().Elem(),
		RepositoryOpts: helmv3.RepositoryOptsArgs{Repo: pulumi.String(DatadogRepo)},
		Values: pulumi.Map{"datadog": pulumi.Map{
			"apiKey": pulumi.ToSecret(d.APIKey),
			"site":   pulumi.String(site),
		}},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("installing datadog chart: %w", err)
	}
	return release, nil
}
