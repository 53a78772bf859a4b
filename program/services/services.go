// Package services is the service model: the `services` config key, a map from service name to what its team
// writes, defined once here with each field's default and description. The program, the rollout command and the
// docs generator all read it from here.
package services

import (
	"maps"
	"slices"

	"github.com/progressive-delivery/platform/internal/overlay"
	"github.com/progressive-delivery/platform/manifests"
)

// Key is the config key of the service map.
const Key = "services"

// Walkthrough is the walkthrough's service: the default map's one entry.
const Walkthrough = manifests.AppName

// Spec is one service as its team configures it: `pulumi config set --path 'services.<name>.<field>' value`.
type Spec struct {
	Image   Image  `json:"image,omitempty"`
	Version string `json:"version,omitempty"`
	// Port serves HTTP; MetricsPort serves Prometheus metrics (scraped); ExtraPorts are further named ports.
	Port        int            `json:"port,omitempty"`
	MetricsPort int            `json:"metricsPort,omitempty"`
	ExtraPorts  map[string]int `json:"extraPorts,omitempty"`
	// ReadinessPath and LivenessPath are the HTTP probes' paths; ProbeCommand, when set, runs each probe as that
	// command with localhost:<port><path> appended instead of an HTTP GET (podinfo's podcli).
	ReadinessPath string   `json:"readinessPath,omitempty"`
	LivenessPath  string   `json:"livenessPath,omitempty"`
	ProbeCommand  []string `json:"probeCommand,omitempty"`
	// ContainerName names the one container; empty is the service's name.
	ContainerName string `json:"containerName,omitempty"`
	// Command and Args replace the image's entrypoint and arguments when set; Env adds variables.
	Command   []string          `json:"command,omitempty"`
	Args      []string          `json:"args,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	RunAsUser int               `json:"runAsUser,omitempty"`
	Resources Resources         `json:"resources,omitempty"`
	// MinReplicas and MaxReplicas bound the HPA; CPUUtilization is its target.
	MinReplicas    int `json:"minReplicas,omitempty"`
	MaxReplicas    int `json:"maxReplicas,omitempty"`
	CPUUtilization int `json:"cpuUtilization,omitempty"`
	// MaxUnavailable is the Deployment's rolling update maxUnavailable, which Flagger copies to the primary.
	MaxUnavailable int      `json:"maxUnavailable,omitempty"`
	Host           string   `json:"host,omitempty"`
	Namespace      string   `json:"namespace,omitempty"`
	Team           string   `json:"team,omitempty"`
	Strategy       string   `json:"strategy,omitempty"`
	Match          []Match  `json:"match,omitempty"`
	Analysis       Analysis `json:"analysis,omitempty"`
	AcceptanceTest string   `json:"acceptanceTest,omitempty"`
	LoadTest       string   `json:"loadTest,omitempty"`
	Gate           string   `json:"gate,omitempty"`
	AlertSeverity  string   `json:"alertSeverity,omitempty"`
}

// Image is where a service's image comes from: mirrored into ECR from Source when Tags are set, otherwise
// pulled by the nodes as Source:Version.
type Image struct {
	Source     string            `json:"source,omitempty"`
	Tags       []string          `json:"tags,omitempty"`
	Digests    map[string]string `json:"digests,omitempty"`
	Repository string            `json:"repository,omitempty"`
}

// Mirrored reports whether the image is mirrored into an ECR repository of the stack.
func (i Image) Mirrored() bool { return len(i.Tags) > 0 }

// Resources are the container's requests and limits.
type Resources struct {
	Requests Quantities `json:"requests,omitempty"`
	Limits   Quantities `json:"limits,omitempty"`
}

// Quantities are a CPU and a memory quantity, e.g. 100m and 64Mi.
type Quantities struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
}

// Match is one kind of request an A/B test sends to the new version: a header with an exact value, or a cookie
// name=value.
type Match struct {
	Header string `json:"header,omitempty"`
	Value  string `json:"value,omitempty"`
	Cookie string `json:"cookie,omitempty"`
}

// Analysis is a service's canary analysis. Zero values take the stack's canary* keys (iterations: 10).
type Analysis struct {
	Interval       string  `json:"interval,omitempty"`
	Threshold      int     `json:"threshold,omitempty"`
	StepWeight     int     `json:"stepWeight,omitempty"`
	MaxWeight      int     `json:"maxWeight,omitempty"`
	Iterations     int     `json:"iterations,omitempty"`
	SuccessRateMin float64 `json:"successRateMin,omitempty"`
	LatencyMaxMs   float64 `json:"latencyMaxMs,omitempty"`
	// ProgressDeadline is a duration; empty is Flagger's own (10m).
	ProgressDeadline string  `json:"progressDeadline,omitempty"`
	Checks           []Check `json:"checks,omitempty"`
}

// Check is a PromQL check of the service's own, which becomes a MetricTemplate.
type Check struct {
	Name     string   `json:"name,omitempty"`
	Query    string   `json:"query,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Interval string   `json:"interval,omitempty"`
}

// DefaultIterations is the analysis' iterations of an A/B, blue/green or mirror release that sets none.
const DefaultIterations = 10

// Generic is what a service that is not in Defaults starts from.
func Generic() Spec {
	return Spec{
		Port: 8080, MetricsPort: 8080, ReadinessPath: "/readyz", LivenessPath: "/healthz",
		Resources:   Resources{Requests: Quantities{CPU: "100m", Memory: "64Mi"}, Limits: Quantities{CPU: "1000m", Memory: "512Mi"}},
		MinReplicas: 2, MaxReplicas: 4, CPUUtilization: 80, Namespace: manifests.AppNamespace,
		Strategy: manifests.StrategyCanary, LoadTest: "hey -z 2m -q 5 -c 2 -host {host} {gateway}", Gate: manifests.GateNone,
	}
}

// Defaults is the `services` value of a stack that sets none: the walkthrough's podinfo.
func Defaults() map[string]Spec {
	return map[string]Spec{Walkthrough: {
		Image: Image{
			Source:     "ghcr.io/stefanprodan/podinfo",
			Tags:       []string{"6.0.0", "6.0.1", "6.0.2", "6.1.0", "6.1.5", "6.1.6"},
			Repository: "ps-flagger-repository",
		},
		Version: "6.0.0", Port: manifests.ServicePort, MetricsPort: 9797, ExtraPorts: map[string]int{"grpc": 9999},
		ReadinessPath: "/readyz", LivenessPath: "/healthz", ProbeCommand: []string{"podcli", "check", "http"},
		ContainerName: "podinfod",
		Command: []string{
			"./podinfo", "--port=9898", "--port-metrics=9797", "--grpc-port=9999", "--grpc-service-name=podinfo",
			"--level=info", "--random-delay=false", "--random-error=false",
		},
		Env:         map[string]string{"PODINFO_UI_COLOR": "#34577c"},
		RunAsUser:   100,
		Resources:   Resources{Requests: Quantities{CPU: "100m", Memory: "64Mi"}, Limits: Quantities{CPU: "2000m", Memory: "512Mi"}},
		MinReplicas: 2, MaxReplicas: 4, CPUUtilization: 99, MaxUnavailable: 1,
		Host: "podinfo.example.com", Namespace: manifests.AppNamespace, Strategy: manifests.StrategyCanary,
		AcceptanceTest: "curl -sd 'test' {canary}/token | grep token",
		LoadTest:       "hey -z 2m -q 5 -c 2 -host {host} {gateway}",
		Gate:           manifests.GateNone,
	}}
}

// Parse reads the `services` value (JSON, as the SDK hands an object key over). Each entry is laid over its
// base: the entry of the same name in Defaults (so `pulumi config set --path services.podinfo.version 6.0.1`
// changes podinfo's version and nothing else), else Generic. Objects merge field by field; lists and scalars
// replace. An unknown field is an error naming it.
func Parse(raw string) (map[string]Spec, error) {
	return overlay.Map(Key, "service", raw, Defaults(), Generic, "docs/services.md")
}

// Names are the services in a stable order, the order they are declared and listed in.
func Names(specs map[string]Spec) []string { return slices.Sorted(maps.Keys(specs)) }
