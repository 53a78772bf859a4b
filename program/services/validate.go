package services

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/progressive-delivery/platform/manifests"
	"k8s.io/apimachinery/pkg/api/resource"
)

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	portName     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$`)
	envName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	headerName   = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	cookiePair   = regexp.MustCompile(`^[!#$%&'*+.^_` + "`" + `|~0-9A-Za-z-]+=[^;,\s]+$`)
	imageName    = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(\.[a-z0-9-]+)*(:\d+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$`)
	imageTag     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digest       = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	ecrRepoName  = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	builtinCheck = []string{"request-success-rate", "request-duration", "request-success-rate-pods", "request-duration-pods"}
)

// maxNameLength leaves room for the names Flagger derives: <name>-primary, <name>-canary.
const maxNameLength = 63 - len("-primary")

// Stack is what checking the services needs to know of the rest of the stack.
type Stack struct {
	// Ingress is the stack's; nil when its own key is invalid (then strategies are not checked against it).
	Ingress manifests.Ingress
	// Reserved are namespaces a service may not use: Kubernetes' and the platform's.
	Reserved []string
}

// Validate reports every problem of the services, one message per problem, each naming the key path
// (services.<name>.<field>), the value and what is allowed.
func Validate(specs map[string]Spec, st Stack) []error {
	var errs []error
	if len(specs) == 0 {
		errs = append(errs, fmt.Errorf("%s: empty; want at least one service (the default is the walkthrough's podinfo)", Key))
	}
	hosts := map[string]string{}
	for _, name := range Names(specs) {
		s := specs[name]
		errs = append(errs, s.validate(name, st)...)
		if other, taken := hosts[s.Host]; taken && s.Host != "" {
			errs = append(errs, fmt.Errorf("%s.%s.host: %q is also %s's host; each service needs a host of its own (the gateway routes by host)",
				Key, name, s.Host, other))
		}
		hosts[s.Host] = name
	}
	return errs
}

func (s Spec) validate(name string, st Stack) []error {
	var errs []error
	add := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s.%s: %s", Key, name, field, fmt.Sprintf(format, a...)))
	}
	if !dnsLabel.MatchString(name) || len(name) > maxNameLength {
		errs = append(errs, fmt.Errorf("%s: service name %q is not a DNS label of at most %d characters (lowercase letters, digits, '-'); "+
			"it names the Deployment and Flagger adds -primary and -canary", Key, name, maxNameLength))
	}

	img := s.Image
	if !imageName.MatchString(img.Source) {
		add("image.source", "want an image name without tag such as ghcr.io/stefanprodan/podinfo, got %q", img.Source)
	}
	if img.Mirrored() {
		for _, t := range img.Tags {
			if !imageTag.MatchString(t) {
				add("image.tags", "%q is not a valid image tag", t)
			}
		}
		for _, tag := range slices.Sorted(maps.Keys(img.Digests)) {
			if !slices.Contains(img.Tags, tag) {
				add("image.digests", "%q is not one of the mirrored tags %v", tag, img.Tags)
			}
			if d := img.Digests[tag]; !digest.MatchString(d) {
				add("image.digests", "%s: want a digest such as sha256:<64 hex digits>, got %q", tag, d)
			}
		}
		if !slices.Contains(img.Tags, s.Version) {
			add("version", "want one of the mirrored tags %v (image.tags), got %q", img.Tags, s.Version)
		}
		if len(img.Repository) < 2 || len(img.Repository) > 256 || !ecrRepoName.MatchString(img.Repository) {
			add("image.repository", "want an ECR repository name (2-256 lowercase letters, digits, '.', '_', '-', '/'), got %q", img.Repository)
		}
	} else if !imageTag.MatchString(s.Version) {
		add("version", "want the image tag to run, such as 1.4.2, got %q", s.Version)
	}

	ports := map[int]string{}
	for _, p := range []struct {
		field string
		port  int
	}{{"port", s.Port}, {"metricsPort", s.MetricsPort}} {
		if p.port < 1 || p.port > 65535 {
			add(p.field, "want a port 1..65535, got %d", p.port)
		}
	}
	ports[s.Port], ports[s.MetricsPort] = "port", "metricsPort"
	for _, n := range slices.Sorted(maps.Keys(s.ExtraPorts)) {
		p := s.ExtraPorts[n]
		switch {
		case !portName.MatchString(n) || n == "http" || n == "http-metrics":
			add("extraPorts", "%q: want a port name of at most 15 lowercase letters, digits and '-', other than http and http-metrics", n)
		case p < 1 || p > 65535:
			add("extraPorts", "%s: want a port 1..65535, got %d", n, p)
		case ports[p] != "":
			add("extraPorts", "%s: port %d is already %s", n, p, ports[p])
		}
		ports[p] = "extraPorts." + n
	}
	for _, p := range []struct{ field, path string }{{"readinessPath", s.ReadinessPath}, {"livenessPath", s.LivenessPath}} {
		if !strings.HasPrefix(p.path, "/") || strings.ContainsAny(p.path, " \t") {
			add(p.field, "want an HTTP path starting with /, such as /readyz, got %q", p.path)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		if !envName.MatchString(k) {
			add("env", "%q is not an environment variable name (letters, digits, '_', not starting with a digit)", k)
		}
	}
	if s.RunAsUser < 0 {
		add("runAsUser", "want a user ID (0 keeps the image's own non-root user), got %d", s.RunAsUser)
	}
	errs = append(errs, s.Resources.validate(name)...)
	if s.MinReplicas < 1 || s.MinReplicas > s.MaxReplicas {
		add("minReplicas", "want 1 <= minReplicas <= maxReplicas, got %d and %d", s.MinReplicas, s.MaxReplicas)
	}
	if s.MaxUnavailable < 0 {
		add("maxUnavailable", "want 0 or more pods, got %d", s.MaxUnavailable)
	}
	if s.CPUUtilization < 1 || s.CPUUtilization > 100 {
		add("cpuUtilization", "want the HPA's CPU target in percent, 1..100, got %d", s.CPUUtilization)
	}
	if err := CheckHost(s.Host); err != nil {
		add("host", "%v", err)
	}
	if !dnsLabel.MatchString(s.Namespace) {
		add("namespace", "want a DNS label (at most 63 lowercase letters, digits and '-') such as apps, got %q", s.Namespace)
	} else if slices.Contains(st.Reserved, s.Namespace) {
		add("namespace", "%q belongs to Kubernetes or the platform; want a namespace of the service's own, such as apps (not one of %v)",
			s.Namespace, st.Reserved)
	}
	errs = append(errs, s.validateRelease(name, st.Ingress)...)
	return errs
}

func (r Resources) validate(name string) []error {
	var errs []error
	// parse reads one quantity; empty is none of the service's own (the namespace's LimitRange gives the team's
	// default), which is valid and bounds nothing.
	parse := func(kind, field, v, example string) (resource.Quantity, bool) {
		if v == "" {
			return resource.Quantity{}, false
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.%s.resources.%s.%s: want a Kubernetes quantity such as %s, or empty for the team's default, got %q",
				Key, name, kind, field, example, v))
			return q, false
		}
		return q, true
	}
	for _, q := range []struct{ field, request, limit string }{
		{"cpu", r.Requests.CPU, r.Limits.CPU}, {"memory", r.Requests.Memory, r.Limits.Memory},
	} {
		req, reqOK := parse("requests", q.field, q.request, "100m or 64Mi")
		lim, limOK := parse("limits", q.field, q.limit, "1000m or 512Mi")
		if reqOK && limOK && req.Cmp(lim) > 0 {
			errs = append(errs, fmt.Errorf("%s.%s.resources.requests.%s: %s is above the limit %s; want requests <= limits", Key, name, q.field, q.request, q.limit))
		}
	}
	return errs
}

// validateRelease checks the strategy, its analysis, gate and checks.
func (s Spec) validateRelease(name string, ingress manifests.Ingress) []error {
	var errs []error
	add := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s.%s: %s", Key, name, field, fmt.Sprintf(format, a...)))
	}
	if !slices.Contains(manifests.Strategies, s.Strategy) {
		add("strategy", "want one of %s, got %q", strings.Join(manifests.Strategies, ", "), s.Strategy)
	} else if ingress != nil {
		if err := manifests.Supports(ingress, s.Strategy); err != nil {
			add("strategy", "%v", err)
		}
	}
	a := s.Analysis
	weights := a.StepWeight != 0 || a.MaxWeight != 0
	switch {
	case weights && a.Iterations != 0:
		add("analysis", "stepWeight/maxWeight (%d/%d) together with iterations (%d); a release shifts weight (canary, sessionaffinity) "+
			"or runs iterations (abtest, bluegreen, mirror), so set one", a.StepWeight, a.MaxWeight, a.Iterations)
	case weights && !manifests.Weighted(s.Strategy) && slices.Contains(manifests.Strategies, s.Strategy):
		add("analysis", "stepWeight/maxWeight set, but strategy %s runs iterations; set analysis.iterations instead", s.Strategy)
	case a.Iterations != 0 && manifests.Weighted(s.Strategy):
		add("analysis.iterations", "set, but strategy %s shifts weight; set analysis.stepWeight and analysis.maxWeight instead", s.Strategy)
	}
	if a.Iterations < 0 {
		add("analysis.iterations", "want at least 1, got %d", a.Iterations)
	}
	if a.Interval != "" {
		if d, err := time.ParseDuration(a.Interval); err != nil || d < time.Second {
			add("analysis.interval", "want a duration of at least 1s such as 10s, got %q", a.Interval)
		}
	}
	if a.ProgressDeadline != "" {
		if d, err := time.ParseDuration(a.ProgressDeadline); err != nil || d < 30*time.Second || d%time.Second != 0 {
			add("analysis.progressDeadline", "want whole seconds of at least 30s, such as 5m, got %q", a.ProgressDeadline)
		}
	}
	if a.Threshold < 0 {
		add("analysis.threshold", "want at least 1 failed check, got %d", a.Threshold)
	}
	if a.MaxWeight < 0 || a.MaxWeight > 100 {
		add("analysis.maxWeight", "want 1..100 (percent), got %d", a.MaxWeight)
	}
	if a.StepWeight < 0 || (a.MaxWeight > 0 && a.StepWeight > a.MaxWeight) {
		add("analysis.stepWeight", "want 1..maxWeight (%d), got %d", a.MaxWeight, a.StepWeight)
	}
	if a.SuccessRateMin < 0 || a.SuccessRateMin > 100 {
		add("analysis.successRateMin", "want a percentage in (0, 100], got %v", a.SuccessRateMin)
	}
	if a.LatencyMaxMs < 0 {
		add("analysis.latencyMaxMs", "want a positive number of milliseconds, got %v", a.LatencyMaxMs)
	}
	seen := map[string]bool{}
	for i, c := range a.Checks {
		field := fmt.Sprintf("analysis.checks[%d]", i)
		switch {
		case !dnsLabel.MatchString(c.Name) || slices.Contains(builtinCheck, c.Name):
			add(field+".name", "want a DNS label other than %v (the built-in checks), got %q", builtinCheck, c.Name)
		case seen[c.Name]:
			add(field+".name", "%q is used twice", c.Name)
		}
		seen[c.Name] = true
		if strings.TrimSpace(c.Query) == "" {
			add(field+".query", "want a PromQL query, got an empty one")
		}
		if c.Min == nil && c.Max == nil {
			add(field, "check %q has no threshold; set min, max or both (the range its result must stay in)", c.Name)
		} else if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
			add(field, "check %q: min %v is above max %v", c.Name, *c.Min, *c.Max)
		}
		if d, err := time.ParseDuration(c.Interval); err != nil || d < time.Second {
			add(field+".interval", "want the query's window, a duration such as 1m, got %q", c.Interval)
		}
	}
	errs = append(errs, s.validateMatch(name, ingress)...)
	if !slices.Contains(manifests.Gates, s.Gate) {
		add("gate", "want one of %s, got %q", strings.Join(manifests.Gates, ", "), s.Gate)
	} else if s.Gate == manifests.GateManual && (s.LoadTest == manifests.NoLoadTest || s.LoadTest == "") {
		add("gate", "manual waits at the load tester's gate, and this service has no load tester (loadTest %q); "+
			"set a loadTest command, or gate none", s.LoadTest)
	}
	if s.AlertSeverity != "" && !slices.Contains(manifests.AlertSeverities, s.AlertSeverity) {
		add("alertSeverity", "want one of %s, or empty for each channel's own, got %q", strings.Join(manifests.AlertSeverities, ", "), s.AlertSeverity)
	}
	return errs
}

func (s Spec) validateMatch(name string, ingress manifests.Ingress) []error {
	var errs []error
	add := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s.%s: %s", Key, name, field, fmt.Sprintf(format, a...)))
	}
	if s.Strategy == manifests.StrategyABTest && len(s.Match) == 0 {
		add("match", `strategy abtest needs at least one match, e.g. [{"header":"x-canary","value":"insider"}] or [{"cookie":"canary=always"}]`)
	}
	if s.Strategy != manifests.StrategyABTest && len(s.Match) > 0 {
		add("match", "set, but only strategy abtest routes by match (strategy is %s)", s.Strategy)
	}
	if ingress != nil && !ingress.MatchesAny() && len(s.Match) > 1 {
		add("match", "%d matches, but ingress %s takes one: Flagger's %s router would require all of them at once, "+
			"not any (docs/services.md)", len(s.Match), ingress.Name(), ingress.Provider())
	}
	for i, m := range s.Match {
		field := fmt.Sprintf("match[%d]", i)
		switch {
		case m.Cookie != "" && (m.Header != "" || m.Value != ""):
			add(field, "set either cookie or header and value, not both")
		case m.Cookie != "":
			if !cookiePair.MatchString(m.Cookie) {
				add(field+".cookie", "want name=value such as canary=always, got %q", m.Cookie)
			}
		case !headerName.MatchString(m.Header) || m.Value == "":
			add(field, "want a header name and the exact value it must have, got header %q, value %q", m.Header, m.Value)
		}
	}
	return errs
}

// Release is the service as Flagger releases it: the stack's canary* keys (stack) fill what its analysis leaves
// unset.
func (s Spec) Release(name string, stack manifests.Analysis) manifests.Service {
	a := s.Analysis
	an := manifests.Analysis{
		Interval: cmp.Or(a.Interval, stack.Interval), Threshold: cmp.Or(a.Threshold, stack.Threshold),
		SuccessRateMin: cmp.Or(a.SuccessRateMin, stack.SuccessRateMin), LatencyMaxMs: cmp.Or(a.LatencyMaxMs, stack.LatencyMaxMs),
	}
	if d, err := time.ParseDuration(a.ProgressDeadline); err == nil {
		an.ProgressDeadlineSeconds = int32(d / time.Second)
	}
	if manifests.Weighted(s.Strategy) {
		an.StepWeight, an.MaxWeight = cmp.Or(a.StepWeight, stack.StepWeight), cmp.Or(a.MaxWeight, stack.MaxWeight)
	} else {
		an.Iterations = cmp.Or(a.Iterations, DefaultIterations)
	}
	out := manifests.Service{
		Name: name, Namespace: s.Namespace, Host: s.Host, Port: int32(s.Port), Strategy: s.Strategy, Analysis: an,
		AcceptanceTest: s.AcceptanceTest, LoadTest: s.LoadTest, Gate: s.Gate, AlertSeverity: s.AlertSeverity,
	}
	for _, m := range s.Match {
		out.Match = append(out.Match, manifests.Match{Header: m.Header, Value: m.Value, Cookie: m.Cookie})
	}
	for _, c := range a.Checks {
		out.Checks = append(out.Checks, manifests.Check{Name: c.Name, Query: c.Query, Min: c.Min, Max: c.Max, Interval: c.Interval})
	}
	return out
}

// CheckHost accepts a fully qualified DNS host name (RFC 1123), at least two labels.
func CheckHost(d string) error {
	if d == "" {
		return errors.New("want a DNS name such as podinfo.example.com, got an empty value")
	}
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return fmt.Errorf("want a DNS name of two or more labels such as podinfo.example.com, got %q", d)
	}
	for _, l := range labels {
		if !dnsLabel.MatchString(l) {
			return fmt.Errorf("want a DNS name of lowercase letters, digits and '-' such as podinfo.example.com, got %q", d)
		}
	}
	return nil
}
