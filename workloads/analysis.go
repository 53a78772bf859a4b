package workloads

import (
	"fmt"

	"github.com/progressive-delivery/platform/manifests"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeCanaryAnalysis is the type token of CanaryAnalysis.
const TypeCanaryAnalysis = "progressive-delivery:workloads:CanaryAnalysis"

// datadogCredentialsSecret holds the keys Flagger's Datadog provider reads (datadog_api_key and
// datadog_application_key).
const datadogCredentialsSecret = "flagger-datadog"

// CanaryAnalysis is what the Canary's analysis uses besides Flagger itself: the MetricTemplates of a metrics
// provider other than Prometheus with their credentials, and the AlertProviders Flagger notifies.
type CanaryAnalysis struct {
	pulumi.ResourceState

	// Metrics and Alerts are the Canary's side of these objects.
	Metrics manifests.MetricsSource
	Alerts  []manifests.Alert
	// Objects are the resources the Canary waits for.
	Objects []pulumi.Resource
	// MetricTemplates and AlertProviders name the objects created.
	MetricTemplates pulumi.StringArrayOutput `pulumi:"metricTemplates"`
	AlertProviders  pulumi.StringArrayOutput `pulumi:"alertProviders"`
}

// MetricsArgs selects the canary's metrics provider.
type MetricsArgs struct {
	// Source is the provider and its address or region; its CredentialsSecret is set here.
	Source manifests.MetricsSource
	// DatadogAPIKey and DatadogAppKey are required for Datadog; pass secrets.
	DatadogAPIKey, DatadogAppKey pulumi.StringInput
}

// AlertArgs configures one AlertProvider.
type AlertArgs struct {
	// Required. Webhook URL; pass a secret.
	URL pulumi.StringInput
	// Optional; default info. The least severity sent: info, warn or error.
	Severity string
	// Optional. Slack's channel and user name.
	Channel, User string
}

// CanaryAnalysisArgs configures a CanaryAnalysis.
type CanaryAnalysisArgs struct {
	// Required. The app's namespace, by name and as the output the objects wait for.
	NamespaceName string
	Namespace     pulumi.StringInput
	// Optional; default Prometheus, which needs no object.
	Metrics *MetricsArgs
	// Optional. Slack and Microsoft Teams AlertProviders.
	Slack, Teams *AlertArgs
	// Optional. The Flagger release that installs the MetricTemplate and AlertProvider CRDs.
	Flagger pulumi.Resource
}

// NewCanaryAnalysis declares the metrics provider's and the alerts' objects in the app's namespace.
func NewCanaryAnalysis(ctx *pulumi.Context, name string, args *CanaryAnalysisArgs, opts ...pulumi.ResourceOption) (*CanaryAnalysis, error) {
	if args == nil || args.NamespaceName == "" || args.Namespace == nil {
		return nil, fmt.Errorf("canary analysis %s: NamespaceName and Namespace are required", name)
	}
	a := &CanaryAnalysis{}
	if err := ctx.RegisterComponentResource(TypeCanaryAnalysis, name, a, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(a)
	afterFlagger := pulumi.DependsOn(present(args.Flagger))
	var templates, providers pulumi.StringArray

	if m := args.Metrics; m != nil && m.Source.Templated() {
		a.Metrics = m.Source
		// Flagger reads a template's credentials when it runs the check, so they exist first.
		var credentials []pulumi.Resource
		if m.Source.Provider == manifests.Datadog {
			if m.DatadogAPIKey == nil || m.DatadogAppKey == nil {
				return nil, fmt.Errorf("canary analysis %s: Datadog needs DatadogAPIKey and DatadogAppKey", name)
			}
			a.Metrics.CredentialsSecret = datadogCredentialsSecret
			secret, err := newSecret(ctx, name+"-datadog", datadogCredentialsSecret, args.Namespace, pulumi.StringMap{
				"datadog_api_key":         m.DatadogAPIKey,
				"datadog_application_key": m.DatadogAppKey,
			}, parent)
			if err != nil {
				return nil, err
			}
			credentials = append(credentials, secret)
		}
		objects, err := manifests.MetricTemplates(args.NamespaceName, a.Metrics)
		if err != nil {
			return nil, err
		}
		for _, obj := range objects {
			mt, err := newCustomResource(ctx, name+"-"+objectName(obj), obj, args.Namespace, nil, parent, afterFlagger,
				pulumi.DependsOn(credentials))
			if err != nil {
				return nil, fmt.Errorf("creating metric template: %w", err)
			}
			a.Objects = append(a.Objects, mt)
			templates = append(templates, mt.Metadata.Name().Elem())
		}
	}

	for _, alert := range []struct {
		providerType string
		args         *AlertArgs
	}{{"slack", args.Slack}, {"msteams", args.Teams}} {
		if alert.args == nil {
			continue
		}
		if alert.args.URL == nil {
			return nil, fmt.Errorf("canary analysis %s: the %s alert needs a URL", name, alert.providerType)
		}
		secretName := "flagger-alert-" + alert.providerType
		secret, err := newSecret(ctx, name+"-"+alert.providerType, secretName, args.Namespace,
			pulumi.StringMap{"address": alert.args.URL}, parent)
		if err != nil {
			return nil, err
		}
		obj, err := manifests.AlertProvider(manifests.AlertProviderParams{
			Name: alert.providerType, Namespace: args.NamespaceName, Type: alert.providerType,
			Channel: alert.args.Channel, Username: alert.args.User, AddressSecret: secretName,
		})
		if err != nil {
			return nil, err
		}
		provider, err := newCustomResource(ctx, name+"-"+alert.providerType+"-alerts", obj, args.Namespace, nil, parent, afterFlagger,
			pulumi.DependsOn([]pulumi.Resource{secret}))
		if err != nil {
			return nil, fmt.Errorf("creating %s alert provider: %w", alert.providerType, err)
		}
		severity := alert.args.Severity
		if severity == "" {
			severity = manifests.AlertSeverities[0]
		}
		a.Alerts = append(a.Alerts, manifests.Alert{Name: alert.providerType, Severity: severity})
		a.Objects = append(a.Objects, provider)
		providers = append(providers, provider.Metadata.Name().Elem())
	}

	a.MetricTemplates = templates.ToStringArrayOutput()
	a.AlertProviders = providers.ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{
		"metricTemplates": a.MetricTemplates,
		"alertProviders":  a.AlertProviders,
	}); err != nil {
		return nil, err
	}
	return a, nil
}

// newSecret is an Opaque Secret of credentials; the values stay secret in Pulumi's state too.
func newSecret(ctx *pulumi.Context, name, secretName string, namespace pulumi.StringInput, data pulumi.StringMap,
	opts ...pulumi.ResourceOption) (*corev1.Secret, error) {
	secret, err := corev1.NewSecret(ctx, name, &corev1.SecretArgs{
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(secretName), Namespace: namespace},
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.ToSecret(data).(pulumi.StringMapOutput),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating secret %s: %w", secretName, err)
	}
	return secret, nil
}

// objectName is a manifest's metadata.name.
func objectName(obj manifests.Object) string {
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	return name
}
