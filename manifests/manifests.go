// Package manifests builds the custom resources of the platform as typed Go values: the Flagger Canary with
// Flagger's own API types, the Gloo VirtualService with types written from Gloo's API reference, and the Gateway
// API Gateway with the gateway-api module's types. Nothing is string-templated and nothing is edited as a map;
// ToObject turns a typed object into the fields of a custom resource at the end.
package manifests

import (
	"fmt"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	gatewayv1beta1 "github.com/fluxcd/flagger/pkg/apis/gatewayapi/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Object is a Kubernetes object as the fields of a custom resource.
type Object = map[string]any

// Ingresses: where traffic enters the cluster, and so which Flagger router shifts it.
const (
	// IngressGloo is the walkthrough's Gloo Edge: a VirtualService delegating to the RouteTable Flagger weights.
	IngressGloo = "gloo"
	// IngressGatewayAPI is kgateway on the Kubernetes Gateway API: Flagger weights an HTTPRoute's backendRefs.
	IngressGatewayAPI = "gatewayapi"
)

// Ingresses are the ingress choices.
var Ingresses = []string{IngressGloo, IngressGatewayAPI}

// FlaggerProvider is Flagger's provider for an ingress: the Canary's spec.provider and the chart's meshProvider.
func FlaggerProvider(ingress string) string {
	if ingress == IngressGatewayAPI {
		return "gatewayapi:v1"
	}
	return flaggerv1.GlooProvider
}

// Analysis is the Flagger canary analysis: how often it checks, how far it shifts traffic, and the two built-in
// checks' thresholds.
type Analysis struct {
	// Interval between checks, a Go duration such as "10s".
	Interval string
	// Threshold is the number of failed checks before rollback.
	Threshold int
	// MaxWeight and StepWeight are percentages of traffic sent to the canary.
	MaxWeight, StepWeight int
	// SuccessRateMin is the minimum request success rate in percent, over one minute.
	SuccessRateMin float64
	// LatencyMaxMs is the maximum P99 request duration in milliseconds, over 30 seconds.
	LatencyMaxMs float64
}

// DefaultAnalysis is the walkthrough's analysis.
var DefaultAnalysis = Analysis{Interval: "10s", Threshold: 5, MaxWeight: 50, StepWeight: 5, SuccessRateMin: 99, LatencyMaxMs: 500}

// The walkthrough's podinfo names and port, shared by the Canary, its route and the rollout command.
const (
	AppNamespace = "apps"
	AppName      = "podinfo"
	ServicePort  = 9898
)

// Gateway names a Gateway API Gateway.
type Gateway struct{ Namespace, Name string }

// CanaryParams are the stack values of the Canary.
type CanaryParams struct {
	Namespace string
	Analysis  Analysis
	// Domain is the host the gateway serves podinfo on and the Host header the load test sends.
	Domain string
	// Ingress is one of Ingresses; "" is Gloo.
	Ingress string
	// Gateway is the Gateway the HTTPRoute attaches to (Gateway API only).
	Gateway Gateway
	// GatewayURL is the in-cluster URL of the gateway proxy, e.g. http://gateway-proxy.gloo-system.
	GatewayURL string
	// LoadTesterURL is the in-cluster URL of the Flagger load tester, e.g. http://flagger-loadtester.apps/.
	LoadTesterURL string
	// Metrics is where the two checks come from; the zero value is Flagger's built-in Prometheus checks.
	Metrics MetricsSource
	// Alerts are the AlertProviders (in Namespace) Flagger notifies; none leaves Flagger's global notifier.
	Alerts []Alert
	// EventWebhookURL, when set, receives every event of the canary (Flagger's event webhook).
	EventWebhookURL string
}

// Canary returns the walkthrough's Canary with the stack's values.
func Canary(p CanaryParams) *flaggerv1.Canary {
	a := p.Analysis
	successRateMin, latencyMax := a.SuccessRateMin, a.LatencyMaxMs
	hook := func(name string, hookType flaggerv1.HookType, timeout, kind, cmd string) flaggerv1.CanaryWebhook {
		return flaggerv1.CanaryWebhook{Name: name, Type: hookType, URL: p.LoadTesterURL, Timeout: timeout,
			Metadata: &map[string]string{"type": kind, "cmd": cmd}}
	}
	c := &flaggerv1.Canary{
		TypeMeta:   metav1.TypeMeta{APIVersion: flaggerv1.SchemeGroupVersion.String(), Kind: flaggerv1.CanaryKind},
		ObjectMeta: metav1.ObjectMeta{Name: AppName, Namespace: p.Namespace},
		Spec: flaggerv1.CanarySpec{
			Provider:      FlaggerProvider(p.Ingress),
			TargetRef:     flaggerv1.LocalObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: AppName},
			AutoscalerRef: &flaggerv1.AutoscalerRefernce{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler", Name: AppName},
			Service:       flaggerv1.CanaryService{Port: ServicePort, TargetPort: intstr.FromInt32(ServicePort)},
			Analysis: &flaggerv1.CanaryAnalysis{
				Interval: a.Interval, Threshold: a.Threshold, MaxWeight: a.MaxWeight, StepWeight: a.StepWeight,
				Metrics: []flaggerv1.CanaryMetric{
					{Name: successRateCheck, ThresholdRange: &flaggerv1.CanaryThresholdRange{Min: &successRateMin}, Interval: "1m"},
					{Name: durationCheck, ThresholdRange: &flaggerv1.CanaryThresholdRange{Max: &latencyMax}, Interval: "30s"},
				},
				Webhooks: []flaggerv1.CanaryWebhook{
					hook("acceptance-test", flaggerv1.PreRolloutHook, "10s", "bash",
						fmt.Sprintf("curl -sd 'test' http://%s-canary:%d/token | grep token", AppName, ServicePort)),
					hook("load-test", "", "5s", "cmd", fmt.Sprintf("hey -z 2m -q 5 -c 2 -host %s %s", p.Domain, p.GatewayURL)),
				},
			},
		},
	}
	if p.Ingress == IngressGatewayAPI {
		// Flagger generates the HTTPRoute from these: attached to the public Gateway, for the stack's host.
		ns := gatewayv1beta1.Namespace(p.Gateway.Namespace)
		c.Spec.Service.GatewayRefs = []gatewayv1beta1.ParentReference{{Name: gatewayv1beta1.ObjectName(p.Gateway.Name), Namespace: &ns}}
		c.Spec.Service.Hosts = []string{p.Domain}
	}
	an := c.Spec.Analysis
	useTemplates(an, p.Metrics, p.Namespace, c.Spec.Service.Port)
	for _, alert := range p.Alerts {
		an.Alerts = append(an.Alerts, flaggerv1.CanaryAlert{
			Name: alert.Name, Severity: flaggerv1.AlertSeverity(alert.Severity),
			ProviderRef: flaggerv1.CrossNamespaceObjectReference{Name: alert.Name, Namespace: p.Namespace},
		})
	}
	if p.EventWebhookURL != "" {
		an.Webhooks = append(an.Webhooks, flaggerv1.CanaryWebhook{Name: "events", Type: flaggerv1.EventHook, URL: p.EventWebhookURL})
	}
	return c
}

// VirtualServiceParams are the stack values of the VirtualService.
type VirtualServiceParams struct {
	Namespace string
	Domain    string
}

// VirtualService returns the VirtualService that serves the domain and delegates every path to the RouteTable
// Flagger creates in the Canary's namespace under the Canary's name.
func VirtualService(p VirtualServiceParams) *GlooVirtualService {
	return &GlooVirtualService{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.solo.io/v1", Kind: "VirtualService"},
		ObjectMeta: metav1.ObjectMeta{Name: AppName, Namespace: p.Namespace},
		Spec: GlooVirtualServiceSpec{VirtualHost: GlooVirtualHost{
			Domains: []string{p.Domain},
			Routes: []GlooRoute{{
				Matchers:       []GlooMatcher{{Prefix: "/"}},
				DelegateAction: &GlooDelegateAction{Ref: &GlooResourceRef{Name: AppName, Namespace: p.Namespace}},
			}},
		}},
	}
}

// ToObject converts a typed object to custom resource fields, without the server-owned status and timestamp.
func ToObject(typed any) (Object, error) {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return nil, err
	}
	delete(obj, "status")
	if meta, ok := obj["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return obj, nil
}
