// Package manifests holds the Gloo VirtualService and the Flagger Canary as YAML and renders them for a stack:
// the YAML is decoded strictly into the objects' own types, the stack's values are set on typed fields, and the
// result is converted to the fields of the custom resource. Nothing is string-templated.
package manifests

import (
	_ "embed"
	"fmt"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

//go:embed canary.yaml
var canaryYAML []byte

//go:embed virtualservice.yaml
var virtualServiceYAML []byte

// Object is a Kubernetes object as the fields of a custom resource.
type Object = map[string]any

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

// CanaryParams are the stack values of the Canary.
type CanaryParams struct {
	Namespace string
	Analysis  Analysis
	// Domain is the Host header the load test sends through the gateway.
	Domain string
	// GatewayURL is the in-cluster URL of the Gloo gateway proxy, e.g. http://gateway-proxy.gloo-system.
	GatewayURL string
	// LoadTesterURL is the in-cluster URL of the Flagger load tester, e.g. http://flagger-loadtester.apps/.
	LoadTesterURL string
	// Metrics is where the two checks come from; the zero value is Flagger's built-in Prometheus checks.
	Metrics MetricsSource
	// Alerts are the AlertProviders (in Namespace) Flagger notifies; none leaves Flagger's global notifier.
	Alerts []Alert
}

// VirtualServiceParams are the stack values of the VirtualService.
type VirtualServiceParams struct {
	Namespace string
	Domain    string
}

// Canary returns the Canary with the stack's values set.
func Canary(p CanaryParams) (Object, error) {
	var c flaggerv1.Canary
	if err := yaml.UnmarshalStrict(canaryYAML, &c); err != nil {
		return nil, fmt.Errorf("canary.yaml: %w", err)
	}
	an := c.Spec.Analysis
	if an == nil {
		return nil, fmt.Errorf("canary.yaml: no spec.analysis")
	}
	c.Namespace = p.Namespace
	a := p.Analysis
	an.Interval, an.Threshold, an.MaxWeight, an.StepWeight = a.Interval, a.Threshold, a.MaxWeight, a.StepWeight
	successRate, err := thresholdRange(an, "request-success-rate")
	if err != nil {
		return nil, err
	}
	successRate.Min = &a.SuccessRateMin
	duration, err := thresholdRange(an, "request-duration")
	if err != nil {
		return nil, err
	}
	duration.Max = &a.LatencyMaxMs
	for i := range an.Webhooks {
		an.Webhooks[i].URL = p.LoadTesterURL
	}
	i := webhookIndex(an, "load-test")
	if i < 0 || an.Webhooks[i].Metadata == nil {
		return nil, fmt.Errorf("canary.yaml: no load-test webhook with metadata")
	}
	(*an.Webhooks[i].Metadata)["cmd"] = fmt.Sprintf("hey -z 2m -q 5 -c 2 -host %s %s", p.Domain, p.GatewayURL)
	useTemplates(an, p.Metrics, p.Namespace, c.Spec.Service.Port)
	for _, a := range p.Alerts {
		an.Alerts = append(an.Alerts, flaggerv1.CanaryAlert{
			Name: a.Name, Severity: flaggerv1.AlertSeverity(a.Severity),
			ProviderRef: flaggerv1.CrossNamespaceObjectReference{Name: a.Name, Namespace: p.Namespace},
		})
	}
	return toObject(&c)
}

func thresholdRange(an *flaggerv1.CanaryAnalysis, metric string) (*flaggerv1.CanaryThresholdRange, error) {
	for i := range an.Metrics {
		if an.Metrics[i].Name == metric && an.Metrics[i].ThresholdRange != nil {
			return an.Metrics[i].ThresholdRange, nil
		}
	}
	return nil, fmt.Errorf("canary.yaml: no metric %s with a thresholdRange", metric)
}

func webhookIndex(an *flaggerv1.CanaryAnalysis, name string) int {
	for i, w := range an.Webhooks {
		if w.Name == name {
			return i
		}
	}
	return -1
}

// VirtualService returns the VirtualService with the stack's values set.
func VirtualService(p VirtualServiceParams) (Object, error) {
	var vs GlooVirtualService
	if err := yaml.UnmarshalStrict(virtualServiceYAML, &vs); err != nil {
		return nil, fmt.Errorf("virtualservice.yaml: %w", err)
	}
	if len(vs.Spec.VirtualHost.Routes) != 1 || vs.Spec.VirtualHost.Routes[0].DelegateAction == nil ||
		vs.Spec.VirtualHost.Routes[0].DelegateAction.Ref == nil {
		return nil, fmt.Errorf("virtualservice.yaml: want one route delegating to a RouteTable")
	}
	vs.Namespace = p.Namespace
	vs.Spec.VirtualHost.Domains = []string{p.Domain}
	// Flagger creates the RouteTable in the Canary's namespace under the Canary's name.
	vs.Spec.VirtualHost.Routes[0].DelegateAction.Ref.Namespace = p.Namespace
	return toObject(&vs)
}

// toObject converts a typed object to custom resource fields, without the server-owned status and timestamp.
func toObject(typed any) (Object, error) {
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
