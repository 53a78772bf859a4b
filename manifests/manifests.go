// Package manifests builds the custom resources of the platform as typed Go values: the Flagger Canary with
// Flagger's own API types, the Gloo VirtualService with types written from Gloo's API reference, and the Gateway
// API Gateway with the gateway-api module's types. Nothing is string-templated and nothing is edited as a map;
// ToObject turns a typed object into the fields of a custom resource at the end.
package manifests

import (
	"regexp"
	"strings"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	istiov1alpha1 "github.com/fluxcd/flagger/pkg/apis/istio/common/v1alpha1"
	istiov1alpha3 "github.com/fluxcd/flagger/pkg/apis/istio/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Object is a Kubernetes object as the fields of a custom resource.
type Object = map[string]any

// Analysis is the Flagger canary analysis: how often it checks, how far it shifts traffic, and the two built-in
// checks' thresholds.
type Analysis struct {
	// Interval between checks, a Go duration such as "10s".
	Interval string
	// Threshold is the number of failed checks before rollback.
	Threshold int
	// MaxWeight and StepWeight are percentages of traffic sent to the canary (weighted strategies).
	MaxWeight, StepWeight int
	// Iterations is the number of checks before promotion (A/B, blue/green and mirror).
	Iterations int
	// SuccessRateMin is the minimum request success rate in percent, over one minute.
	SuccessRateMin float64
	// LatencyMaxMs is the maximum P99 request duration in milliseconds, over 30 seconds.
	LatencyMaxMs float64
	// ProgressDeadlineSeconds is how long the new version's pods may take to be ready before Flagger rolls the
	// release back; 0 leaves Flagger's default (600).
	ProgressDeadlineSeconds int32
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

// CanaryParams are the values of a service's Canary.
type CanaryParams struct {
	Service Service
	Ingress Ingress
	// LoadTesterURL is the in-cluster URL of the Flagger load tester, e.g. http://flagger-loadtester.apps/.
	LoadTesterURL string
	// Metrics is where the two built-in checks come from; the zero value is Flagger's built-in Prometheus checks.
	Metrics MetricsSource
	// Alerts are the AlertProviders (in the service's namespace) Flagger notifies; none leaves Flagger's global
	// notifier.
	Alerts []Alert
	// EventWebhookURL, when set, receives every event of the canary (Flagger's event webhook).
	EventWebhookURL string
}

// Canary returns the service's Canary; for the walkthrough's podinfo on Gloo, exactly the walkthrough's.
func Canary(p CanaryParams) *flaggerv1.Canary {
	s, a := &p.Service, p.Service.Analysis
	successRateMin, latencyMax := a.SuccessRateMin, a.LatencyMaxMs
	hook := func(name string, hookType flaggerv1.HookType, timeout, kind, cmd string) flaggerv1.CanaryWebhook {
		return flaggerv1.CanaryWebhook{Name: name, Type: hookType, URL: p.LoadTesterURL, Timeout: timeout,
			Metadata: &map[string]string{"type": kind, "cmd": s.expand(cmd, GatewayURL(p.Ingress))}}
	}
	an := &flaggerv1.CanaryAnalysis{
		Interval: a.Interval, Threshold: a.Threshold,
		Metrics: []flaggerv1.CanaryMetric{
			{Name: successRateCheck, ThresholdRange: &flaggerv1.CanaryThresholdRange{Min: &successRateMin}, Interval: "1m"},
			{Name: durationCheck, ThresholdRange: &flaggerv1.CanaryThresholdRange{Max: &latencyMax}, Interval: "30s"},
		},
	}
	if Weighted(s.Strategy) {
		an.MaxWeight, an.StepWeight = a.MaxWeight, a.StepWeight
	} else {
		an.Iterations = a.Iterations
	}
	switch s.Strategy {
	case StrategyABTest:
		an.Match = abMatches(s.Match)
	case StrategyMirror:
		an.Mirror = true
	case StrategySessionAffinity:
		an.SessionAffinity = &flaggerv1.SessionAffinity{CookieName: SessionCookie}
	}
	if s.AcceptanceTest != "" {
		an.Webhooks = append(an.Webhooks, hook("acceptance-test", flaggerv1.PreRolloutHook, "10s", "bash", s.AcceptanceTest))
	}
	if s.LoadTest != "" && s.LoadTest != NoLoadTest {
		an.Webhooks = append(an.Webhooks, hook("load-test", "", "5s", "cmd", s.LoadTest))
	}
	if s.Gate == GateManual {
		// The load tester's gate answers 403 until someone opens it (rollout approve); its rollback gate, once
		// opened (rollout rollback), makes Flagger roll back.
		an.Webhooks = append(an.Webhooks,
			flaggerv1.CanaryWebhook{Name: "approval", Type: flaggerv1.ConfirmPromotionHook, URL: p.LoadTesterURL + "gate/check"},
			flaggerv1.CanaryWebhook{Name: "rollback", Type: flaggerv1.RollbackHook, URL: p.LoadTesterURL + "rollback/check"})
	}
	c := &flaggerv1.Canary{
		TypeMeta:   metav1.TypeMeta{APIVersion: flaggerv1.SchemeGroupVersion.String(), Kind: flaggerv1.CanaryKind},
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace},
		Spec: flaggerv1.CanarySpec{
			Provider:      p.Ingress.Provider(),
			TargetRef:     flaggerv1.LocalObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: s.Name},
			AutoscalerRef: &flaggerv1.AutoscalerRefernce{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler", Name: s.Name},
			Service:       flaggerv1.CanaryService{Port: s.Port, TargetPort: intstr.FromInt32(s.Port)},
			Analysis:      an,
		},
	}
	if d := s.Analysis.ProgressDeadlineSeconds; d > 0 {
		c.Spec.ProgressDeadlineSeconds = &d
	}
	p.Ingress.routeCanary(c, s)
	if p.Ingress.NeedsPodChecks(s.Strategy) {
		usePodChecks(an, s)
	} else {
		useTemplates(an, p.Metrics, s.Namespace, c.Spec.Service.Port)
	}
	for _, check := range s.Checks {
		an.Metrics = append(an.Metrics, flaggerv1.CanaryMetric{
			Name: check.Name, Interval: check.Interval,
			ThresholdRange: &flaggerv1.CanaryThresholdRange{Min: check.Min, Max: check.Max},
			TemplateRef:    &flaggerv1.CrossNamespaceObjectReference{Name: CheckTemplateName(s, check), Namespace: s.Namespace},
		})
	}
	for _, alert := range p.Alerts {
		severity := alert.Severity
		if s.AlertSeverity != "" {
			severity = s.AlertSeverity
		}
		an.Alerts = append(an.Alerts, flaggerv1.CanaryAlert{
			Name: alert.Name, Severity: flaggerv1.AlertSeverity(severity),
			ProviderRef: flaggerv1.CrossNamespaceObjectReference{Name: alert.Name, Namespace: s.Namespace},
		})
	}
	if p.EventWebhookURL != "" {
		an.Webhooks = append(an.Webhooks, flaggerv1.CanaryWebhook{Name: "events", Type: flaggerv1.EventHook, URL: p.EventWebhookURL})
	}
	return c
}

// abMatches are Flagger's match conditions of an A/B test. A cookie is a regex on the Cookie header, as
// Flagger's A/B testing tutorials write it, except that it allows the space browsers put after each ";" (the
// tutorials' ^(.*?;)?(name=value)(;.*)?$ matches the cookie only when it comes first); both routers copy header
// matches into their routes.
func abMatches(matches []Match) []istiov1alpha3.HTTPMatchRequest {
	var out []istiov1alpha3.HTTPMatchRequest
	for _, m := range matches {
		if m.Cookie != "" {
			out = append(out, istiov1alpha3.HTTPMatchRequest{Headers: map[string]istiov1alpha1.StringMatch{
				"cookie": {Regex: `^(.*?;\s*)?(` + regexp.QuoteMeta(m.Cookie) + `)(;.*)?$`},
			}})
			continue
		}
		out = append(out, istiov1alpha3.HTTPMatchRequest{Headers: map[string]istiov1alpha1.StringMatch{
			strings.ToLower(m.Header): {Exact: m.Value},
		}})
	}
	return out
}

// VirtualServiceParams are the stack values of the VirtualService.
type VirtualServiceParams struct {
	// Name is the service's: the VirtualService and the RouteTable Flagger creates are named after it.
	Name      string
	Namespace string
	Domain    string
}

// VirtualService returns the VirtualService that serves the domain and delegates every path to the RouteTable
// Flagger creates in the Canary's namespace under the Canary's name.
func VirtualService(p VirtualServiceParams) *GlooVirtualService {
	return &GlooVirtualService{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.solo.io/v1", Kind: "VirtualService"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
		Spec: GlooVirtualServiceSpec{VirtualHost: GlooVirtualHost{
			Domains: []string{p.Domain},
			Routes: []GlooRoute{{
				Matchers:       []GlooMatcher{{Prefix: "/"}},
				DelegateAction: &GlooDelegateAction{Ref: &GlooResourceRef{Name: p.Name, Namespace: p.Namespace}},
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
