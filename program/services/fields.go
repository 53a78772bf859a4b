package services

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Field documents one field of Spec, by its path under services.<name>.
type Field struct {
	Path        string
	Description string
}

// Fields are every field of Spec, in the order docs/services.md lists them; a test checks that they cover Spec.
var Fields = []Field{
	{"image.source", "Image name without tag. Pulled as source:version by the nodes, unless image.tags is set."},
	{"image.tags", "Tags mirrored from image.source into an ECR repository of the stack; version must be one of them. Empty: nothing is mirrored."},
	{"image.digests", `Upstream digests pinning mirrored tags, e.g. {"6.0.1":"sha256:..."}; a tag without one mirrors the digest it names at the time.`},
	{"image.repository", "ECR repository of the mirrored tags (created by a stack that creates its cluster)."},
	{"version", "Tag the Deployment runs. Changing it starts a release (`go run ./cmd/rollout --service NAME --version V`)."},
	{"port", "Container port serving HTTP; the Canary's Services and the gateway use it."},
	{"metricsPort", "Container port Prometheus scrapes (prometheus.io/port); may equal port."},
	{"extraPorts", `Further named container ports, e.g. {"grpc":9999}.`},
	{"readinessPath", "HTTP path of the readiness probe."},
	{"livenessPath", "HTTP path of the liveness probe."},
	{"probeCommand", "When set, the probes run this command with localhost:<port><path> appended instead of an HTTP GET."},
	{"containerName", "Name of the one container; empty is the service's name."},
	{"command", "Replaces the image's entrypoint when set."},
	{"args", "Replaces the image's arguments when set."},
	{"env", "Environment variables, name: value."},
	{"runAsUser", "User ID the container runs as; 0 keeps the image's own (it must be non-root: the pods run under the restricted profile)."},
	{"resources.requests.cpu", "CPU request; empty (each of these four) is the team's LimitRange default (docs/teams.md)."},
	{"resources.requests.memory", "Memory request."},
	{"resources.limits.cpu", "CPU limit."},
	{"resources.limits.memory", "Memory limit."},
	{"minReplicas", "HPA minimum; a release runs as many canary pods again."},
	{"maxReplicas", "HPA maximum."},
	{"cpuUtilization", "HPA CPU target in percent."},
	{"maxUnavailable", "Pods a rollout may take down at once (the Deployment's, copied by Flagger to the primary). With 0, a canary whose pods cannot all start (a quota refusing them) is unavailable, so Flagger rolls it back at analysis.progressDeadline; with 1 and as many replicas, it waits for them for ever. The walkthrough's podinfo keeps 1."},
	{"host", "Host name the gateway serves the service on; one service per host."},
	{"namespace", "Namespace of the service, its Canary and its namespace's load tester; a namespace of a team (docs/teams.md)."},
	{"team", "The team the service belongs to; its namespace must be one of the team's. Empty: the team that owns the namespace."},
	{"strategy", "canary, abtest (match), bluegreen, mirror or sessionaffinity; the ingress must support it (docs/services.md)."},
	{"match", `abtest only: requests sent to the new version, any of [{"header":"x-canary","value":"insider"}, {"cookie":"canary=always"}].`},
	{"analysis.interval", "Interval between checks; empty takes canaryInterval."},
	{"analysis.threshold", "Failed checks before rollback; 0 takes canaryThreshold."},
	{"analysis.stepWeight", "canary, sessionaffinity: weight added per passed check; 0 takes canaryStepWeight."},
	{"analysis.maxWeight", "canary, sessionaffinity: largest weight before promotion; 0 takes canaryMaxWeight."},
	{"analysis.iterations", "abtest, bluegreen, mirror: passed checks before promotion; 0 takes 10."},
	{"analysis.successRateMin", "Minimum success rate in percent; 0 takes canarySuccessRateMin."},
	{"analysis.latencyMaxMs", "Maximum P99 latency in ms; 0 takes canaryLatencyMaxMs."},
	{"analysis.progressDeadline", "How long the new version's pods may take to be ready (e.g. while a quota refuses them) before Flagger rolls the release back; empty is Flagger's 10m."},
	{"analysis.checks", `Checks of the service's own: [{"name","query" (PromQL),"min" and/or "max","interval"}], each a MetricTemplate on the platform's Prometheus.`},
	{"acceptanceTest", "Command the load tester runs before any traffic shifts; {host}, {gateway} and {canary} are filled in. Empty: none."},
	{"loadTest", "Command the load tester runs during the analysis, with the same placeholders; none for real traffic only."},
	{"gate", "none, or manual: the release waits at the load tester's gate for `rollout approve` (or `rollout rollback`)."},
	{"alertSeverity", "Least severity of this service's notifications on every alert channel; empty keeps each channel's."},
}

// Table renders the fields as docs/services.md lists them: each with its default for a new service and the
// walkthrough's podinfo value.
func Table() (string, error) {
	generic, err := leaves(Generic())
	if err != nil {
		return "", err
	}
	walkthrough, err := leaves(Defaults()[Walkthrough])
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| Field | Default | podinfo (the walkthrough) | Description |\n|---|---|---|---|\n")
	for _, f := range Fields {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Path, cell(generic[f.Path]), cell(walkthrough[f.Path]),
			strings.ReplaceAll(f.Description, "|", `\|`))
	}
	return b.String(), nil
}

func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "(empty)"
	case string:
		if v == "" {
			return "(empty)"
		}
		return "`" + strings.ReplaceAll(v, "|", `\|`) + "`"
	case map[string]any:
		if len(v) == 0 {
			return "(empty)"
		}
	case []any:
		if len(v) == 0 {
			return "(empty)"
		}
	}
	raw, _ := json.Marshal(v)
	return "`" + strings.ReplaceAll(string(raw), "|", `\|`) + "`"
}

// leaves flattens a spec's JSON into field paths: objects of Spec's own structs are descended into; maps and
// lists are leaves.
func leaves(s Spec) (map[string]any, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	out := map[string]any{}
	var walk func(prefix string, o map[string]any)
	walk = func(prefix string, o map[string]any) {
		for k, v := range o {
			path := prefix + k
			if sub, ok := v.(map[string]any); ok && structPaths[path] {
				walk(path+".", sub)
				continue
			}
			out[path] = v
		}
	}
	walk("", obj)
	return out, nil
}

// structPaths are the fields that are structs of the model rather than maps of the user's.
var structPaths = map[string]bool{"image": true, "resources": true, "resources.requests": true, "resources.limits": true, "analysis": true}
