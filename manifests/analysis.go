package manifests

import (
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

//go:embed metrictemplates.yaml
var metricTemplatesYAML []byte

// The canary's metrics providers. Prometheus is Flagger's built-in Gloo checks on its own Prometheus; the others
// are MetricTemplates of metrictemplates.yaml.
const (
	Prometheus = "prometheus"
	Datadog    = "datadog"
	CloudWatch = "cloudwatch"
)

// MetricsProviders are the providers a stack can choose.
var MetricsProviders = []string{Prometheus, Datadog, CloudWatch}

// The checks every provider answers, named as Flagger's built-in ones; a template's name adds the provider.
const (
	successRateCheck = "request-success-rate"
	durationCheck    = "request-duration"
)

// MetricsSource says where the canary's success-rate and latency checks come from.
type MetricsSource struct {
	// Provider is one of MetricsProviders; "" is Prometheus.
	Provider string
	// DatadogAPI is the Datadog API base URL, https://api.<site>.
	DatadogAPI string
	// CredentialsSecret names the Secret holding Flagger's datadog_api_key and datadog_application_key.
	CredentialsSecret string
	// Region is the CloudWatch region.
	Region string
	// EKSCluster is the ClusterName dimension of the CloudWatch metrics.
	EKSCluster string
}

// Templated reports whether the checks come from MetricTemplates, i.e. from a provider other than Prometheus.
func (s MetricsSource) Templated() bool { return s.Provider != "" && s.Provider != Prometheus }

// templateName is the MetricTemplate (and Canary metric) name of a check on the source's provider.
func (s MetricsSource) templateName(check string) string { return check + "-" + s.Provider }

// MetricTemplates returns the source's MetricTemplates in namespace: none for Prometheus, one per check
// otherwise.
func MetricTemplates(namespace string, s MetricsSource) ([]Object, error) {
	if !s.Templated() {
		return nil, nil
	}
	var out []Object
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(metricTemplatesYAML)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("metrictemplates.yaml: %w", err)
		}
		var mt flaggerv1.MetricTemplate
		if err := yaml.UnmarshalStrict(doc, &mt); err != nil {
			return nil, fmt.Errorf("metrictemplates.yaml: %w", err)
		}
		if mt.Spec.Provider.Type != s.Provider {
			continue
		}
		mt.Namespace = namespace
		switch s.Provider {
		case Datadog:
			mt.Spec.Provider.Address = s.DatadogAPI
			mt.Spec.Provider.SecretRef = &corev1.LocalObjectReference{Name: s.CredentialsSecret}
		case CloudWatch:
			mt.Spec.Provider.Region = s.Region
		}
		obj, err := ToObject(&mt)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	if len(out) != 2 {
		return nil, fmt.Errorf("metrictemplates.yaml: want 2 templates of provider %q, found %d", s.Provider, len(out))
	}
	return out, nil
}

// useTemplates points the Canary's two checks at the source's MetricTemplates, keeping their thresholds and
// intervals. The checks are renamed: Flagger runs its built-in Prometheus query for a metric named
// request-success-rate or request-duration whatever else it says.
func useTemplates(an *flaggerv1.CanaryAnalysis, s MetricsSource, namespace string, servicePort int32) {
	if !s.Templated() {
		return
	}
	variables := map[string]string{"servicePort": strconv.Itoa(int(servicePort))}
	if s.Provider == CloudWatch {
		variables["eksCluster"] = s.EKSCluster
	}
	for i := range an.Metrics {
		m := &an.Metrics[i]
		if m.Name != successRateCheck && m.Name != durationCheck {
			continue
		}
		m.Name = s.templateName(m.Name)
		m.TemplateRef = &flaggerv1.CrossNamespaceObjectReference{Name: m.Name, Namespace: namespace}
		m.TemplateVariables = variables
	}
}

// Alert sends Flagger's notifications about the canary to the AlertProvider of the same name.
type Alert struct {
	// Name of the alert and of its AlertProvider.
	Name string
	// Severity is the least severity sent: info (everything), warn (warnings and errors) or error.
	Severity string
}

// AlertSeverities are the severities an alert can be set to, from most to least sent.
var AlertSeverities = []string{string(flaggerv1.SeverityInfo), string(flaggerv1.SeverityWarn), string(flaggerv1.SeverityError)}

// AlertProviderParams are an AlertProvider's values; the address is in the Secret, since a webhook URL is a
// credential.
type AlertProviderParams struct {
	Name, Namespace string
	// Type is Flagger's provider type: slack, msteams, ...
	Type string
	// Channel and Username are Slack's; optional.
	Channel, Username string
	// AddressSecret names the Secret whose key "address" holds the webhook URL.
	AddressSecret string
}

// AlertProvider returns a flagger.app/v1beta1 AlertProvider.
func AlertProvider(p AlertProviderParams) (Object, error) {
	ap := flaggerv1.AlertProvider{Spec: flaggerv1.AlertProviderSpec{
		Type: p.Type, Channel: p.Channel, Username: p.Username,
		SecretRef: &corev1.LocalObjectReference{Name: p.AddressSecret},
	}}
	ap.APIVersion, ap.Kind = flaggerv1.SchemeGroupVersion.String(), flaggerv1.AlertProviderKind
	ap.Name, ap.Namespace = p.Name, p.Namespace
	return ToObject(&ap)
}

// podCheckSuffix names the pod-measured success-rate and latency checks (and, after the service's name, their
// MetricTemplates): request-success-rate-pods, request-duration-pods.
const podCheckSuffix = "-pods"

// podQueries measure the new version's pods' own HTTP metrics, with the labels the Flagger chart's Prometheus
// gives pods it scrapes: Flagger's HTTP observer's queries (pkg/metrics/observers/http.go, which its Gateway API
// and Kubernetes providers use), the latency in milliseconds as Flagger's built-in latency check compares it.
var podQueries = map[string]string{
	successRateCheck: `sum(rate(http_request_duration_seconds_count{kubernetes_namespace="{{ namespace }}",` +
		`kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",status!~"5.*"}[{{ interval }}]))` +
		` / sum(rate(http_request_duration_seconds_count{kubernetes_namespace="{{ namespace }}",` +
		`kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}[{{ interval }}])) * 100`,
	durationCheck: `1000 * histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{` +
		`kubernetes_namespace="{{ namespace }}",kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}` +
		`[{{ interval }}])) by (le))`,
}

// usePodChecks points the Canary's two checks at the service's pod-measured MetricTemplates.
func usePodChecks(an *flaggerv1.CanaryAnalysis, s *Service) {
	for i := range an.Metrics {
		m := &an.Metrics[i]
		if m.Name != successRateCheck && m.Name != durationCheck {
			continue
		}
		m.Name += podCheckSuffix
		m.TemplateRef = &flaggerv1.CrossNamespaceObjectReference{Name: s.Name + "-" + m.Name, Namespace: s.Namespace}
	}
}

// CheckTemplateName names the MetricTemplate of a service's own check: <service>-<check>, in its namespace.
func CheckTemplateName(s *Service, c Check) string { return s.Name + "-" + c.Name }

// CheckTemplates are the MetricTemplates of a service's checks that ask the platform's Prometheus: its own PromQL
// checks, and its success rate and latency on its pods when the ingress needs them there (NeedsPodChecks).
func CheckTemplates(s *Service, in Ingress) ([]Object, error) {
	queries := map[string]string{}
	for _, c := range s.Checks {
		queries[CheckTemplateName(s, c)] = c.Query
	}
	if in.NeedsPodChecks(s.Strategy) {
		for _, check := range []string{successRateCheck, durationCheck} {
			queries[s.Name+"-"+check+podCheckSuffix] = podQueries[check]
		}
	}
	var out []Object
	for _, name := range slices.Sorted(maps.Keys(queries)) {
		mt := flaggerv1.MetricTemplate{Spec: flaggerv1.MetricTemplateSpec{
			Provider: flaggerv1.MetricTemplateProvider{Type: Prometheus, Address: PrometheusURL(in)},
			Query:    queries[name],
		}}
		mt.APIVersion, mt.Kind = flaggerv1.SchemeGroupVersion.String(), flaggerv1.MetricTemplateKind
		mt.Name, mt.Namespace = name, s.Namespace
		obj, err := ToObject(&mt)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}
