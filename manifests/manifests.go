// Package manifests holds the Gloo VirtualService and the Flagger Canary as YAML and renders them for a stack:
// the YAML is decoded, then the stack's values are set on the decoded object. Nothing is string-templated.
package manifests

import (
	_ "embed"
	"fmt"
	"time"

	"sigs.k8s.io/yaml"
)

//go:embed canary.yaml
var canaryYAML []byte

//go:embed virtualservice.yaml
var virtualServiceYAML []byte

// Object is a decoded Kubernetes object.
type Object = map[string]any

// Analysis is the Flagger canary analysis of SPEC §4.
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

// Validate reports every analysis value that Flagger would reject or that cannot progress.
func (a Analysis) Validate() []error {
	var errs []error
	if d, err := time.ParseDuration(a.Interval); err != nil || d < time.Second {
		errs = append(errs, fmt.Errorf("canaryInterval: want a duration of at least 1s such as 10s, got %q", a.Interval))
	}
	if a.Threshold < 1 {
		errs = append(errs, fmt.Errorf("canaryThreshold: want at least 1 failed check, got %d", a.Threshold))
	}
	if a.MaxWeight < 1 || a.MaxWeight > 100 {
		errs = append(errs, fmt.Errorf("canaryMaxWeight: want 1..100 (percent), got %d", a.MaxWeight))
	}
	if a.StepWeight < 1 || a.StepWeight > a.MaxWeight {
		errs = append(errs, fmt.Errorf("canaryStepWeight: want 1..canaryMaxWeight (%d), got %d", a.MaxWeight, a.StepWeight))
	}
	if a.SuccessRateMin <= 0 || a.SuccessRateMin > 100 {
		errs = append(errs, fmt.Errorf("canarySuccessRateMin: want a percentage in (0, 100], got %v", a.SuccessRateMin))
	}
	if a.LatencyMaxMs <= 0 {
		errs = append(errs, fmt.Errorf("canaryLatencyMaxMs: want a positive number of milliseconds, got %v", a.LatencyMaxMs))
	}
	return errs
}

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
}

// VirtualServiceParams are the stack values of the VirtualService.
type VirtualServiceParams struct {
	Namespace string
	Domain    string
}

// Canary returns the Canary with the stack's values set.
func Canary(p CanaryParams) (Object, error) {
	obj, err := decode(canaryYAML)
	if err != nil {
		return nil, fmt.Errorf("decoding canary.yaml: %w", err)
	}
	a := p.Analysis
	sets := []struct {
		value any
		path  []any
	}{
		{p.Namespace, []any{"metadata", "namespace"}},
		{a.Interval, []any{"spec", "analysis", "interval"}},
		{a.Threshold, []any{"spec", "analysis", "threshold"}},
		{a.MaxWeight, []any{"spec", "analysis", "maxWeight"}},
		{a.StepWeight, []any{"spec", "analysis", "stepWeight"}},
		{a.SuccessRateMin, []any{"spec", "analysis", "metrics", "request-success-rate", "thresholdRange", "min"}},
		{a.LatencyMaxMs, []any{"spec", "analysis", "metrics", "request-duration", "thresholdRange", "max"}},
		{p.LoadTesterURL, []any{"spec", "analysis", "webhooks", "acceptance-test", "url"}},
		{p.LoadTesterURL, []any{"spec", "analysis", "webhooks", "load-test", "url"}},
		{fmt.Sprintf("hey -z 2m -q 5 -c 2 -host %s %s", p.Domain, p.GatewayURL),
			[]any{"spec", "analysis", "webhooks", "load-test", "metadata", "cmd"}},
	}
	for _, s := range sets {
		if err := set(obj, s.value, s.path...); err != nil {
			return nil, fmt.Errorf("canary.yaml: %w", err)
		}
	}
	return obj, nil
}

// VirtualService returns the VirtualService with the stack's values set.
func VirtualService(p VirtualServiceParams) (Object, error) {
	obj, err := decode(virtualServiceYAML)
	if err != nil {
		return nil, fmt.Errorf("decoding virtualservice.yaml: %w", err)
	}
	sets := []struct {
		value any
		path  []any
	}{
		{p.Namespace, []any{"metadata", "namespace"}},
		{[]any{p.Domain}, []any{"spec", "virtualHost", "domains"}},
		// Flagger creates the RouteTable in the Canary's namespace under the Canary's name.
		{p.Namespace, []any{"spec", "virtualHost", "routes", 0, "delegateAction", "ref", "namespace"}},
	}
	for _, s := range sets {
		if err := set(obj, s.value, s.path...); err != nil {
			return nil, fmt.Errorf("virtualservice.yaml: %w", err)
		}
	}
	return obj, nil
}

func decode(doc []byte) (Object, error) {
	var obj Object
	if err := yaml.Unmarshal(doc, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// set replaces the value at path. Path elements are map keys, list indexes, or, in a list of named objects,
// the element's name. Only existing fields are replaced, so the YAML file stays the schema and a typo in a path
// fails instead of adding a field.
func set(obj Object, value any, path ...any) error {
	var cur any = obj
	for i, step := range path {
		last := i == len(path)-1
		switch node := cur.(type) {
		case map[string]any:
			key, ok := step.(string)
			if !ok {
				return fmt.Errorf("path %v: step %v is not a key", path, step)
			}
			if _, exists := node[key]; !exists {
				return fmt.Errorf("path %v: no field %q", path, key)
			}
			if last {
				node[key] = value
				return nil
			}
			cur = node[key]
		case []any:
			idx, err := index(node, step)
			if err != nil {
				return fmt.Errorf("path %v: %w", path, err)
			}
			if last {
				node[idx] = value
				return nil
			}
			cur = node[idx]
		default:
			return fmt.Errorf("path %v: step %v reaches a scalar", path, step)
		}
	}
	return fmt.Errorf("empty path")
}

func index(list []any, step any) (int, error) {
	switch s := step.(type) {
	case int:
		if s < 0 || s >= len(list) {
			return 0, fmt.Errorf("index %d out of range (%d elements)", s, len(list))
		}
		return s, nil
	case string:
		for i, el := range list {
			if m, ok := el.(map[string]any); ok && m["name"] == s {
				return i, nil
			}
		}
		return 0, fmt.Errorf("no element named %q", s)
	}
	return 0, fmt.Errorf("step %v is neither an index nor a name", step)
}
