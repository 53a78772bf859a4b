// Package teams is the team model: the `teams` config key, a map from team name to the namespaces the team
// releases its services in, the IAM principals that may act there, and the guard rails of each namespace (quota,
// default limits). It is defined once here, with each field's default and description, as the service model is.
package teams

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/progressive-delivery/platform/internal/overlay"
)

// Key is the config key of the team map.
const Key = "teams"

// Walkthrough is the team of a stack that sets no teams: it owns the walkthrough's namespace and has no principals,
// so the walkthrough's podinfo keeps running where it always has.
const Walkthrough = "apps"

// Access policies a team's principals get, scoped to the team's namespaces.
const (
	AccessEdit = "edit"
	AccessView = "view"
)

// Spec is one team as the platform team configures it: `pulumi config set --path 'teams.<name>.<field>' value`.
type Spec struct {
	// Namespaces are the team's; empty is one, named after the team.
	Namespaces []string `json:"namespaces,omitempty"`
	// Principals are IAM role or user ARNs given access to the namespaces through EKS access entries.
	Principals []string `json:"principals,omitempty"`
	// Access is the EKS access policy of the principals: edit or view.
	Access string `json:"access,omitempty"`
	// Quota is the ResourceQuota of each of the team's namespaces.
	Quota Quota `json:"quota,omitempty"`
	// Limits are the LimitRange's defaults of each namespace, for a container that sets no resources.
	Limits Limits `json:"limits,omitempty"`
}

// Quota bounds what all pods of one namespace request and limit, and how many pods it runs.
type Quota struct {
	Requests Quantities `json:"requests,omitempty"`
	Limits   Quantities `json:"limits,omitempty"`
	Pods     int        `json:"pods,omitempty"`
}

// Limits are a LimitRange's container defaults.
type Limits struct {
	DefaultRequest Quantities `json:"defaultRequest,omitempty"`
	Default        Quantities `json:"default,omitempty"`
}

// Quantities are a CPU and a memory quantity, e.g. 4 and 8Gi.
type Quantities struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
}

// Field documents one field of Spec, by its path under teams.<name>.
type Field struct {
	Path        string
	Description string
}

// Fields are every field of Spec, in the order docs/teams.md lists them; a test checks that they cover Spec.
var Fields = []Field{
	{"namespaces", "The team's namespaces; empty is one named after the team. No two teams share one, and none is the platform's."},
	{"principals", "IAM role or user ARNs given the access policy on the team's namespaces, each through an EKS access entry (never cluster-wide)."},
	{"access", "edit (AmazonEKSEditPolicy) or view (AmazonEKSViewPolicy), scoped to the team's namespaces."},
	{"quota.requests.cpu", "ResourceQuota of each namespace: total CPU requests."},
	{"quota.requests.memory", "Total memory requests."},
	{"quota.limits.cpu", "Total CPU limits."},
	{"quota.limits.memory", "Total memory limits."},
	{"quota.pods", "Pods."},
	{"limits.defaultRequest.cpu", "LimitRange: the CPU request of a container that sets none."},
	{"limits.defaultRequest.memory", "The memory request of a container that sets none."},
	{"limits.default.cpu", "The CPU limit of a container that sets none."},
	{"limits.default.memory", "The memory limit of a container that sets none."},
}

// Generic is what a team that is not in Defaults starts from. The quota holds the walkthrough's podinfo in a
// release (four primary and four canary pods at 100m/64Mi requests, 2 CPU/512Mi limits) with its load tester, and
// fits on one m5.2xlarge (8 vCPU, 32 GiB); a team with more services raises it.
func Generic() Spec {
	return Spec{
		Access: AccessEdit,
		Quota: Quota{
			Requests: Quantities{CPU: "4", Memory: "8Gi"},
			Limits:   Quantities{CPU: "24", Memory: "16Gi"},
			Pods:     50,
		},
		Limits: Limits{
			DefaultRequest: Quantities{CPU: "100m", Memory: "64Mi"},
			Default:        Quantities{CPU: "500m", Memory: "256Mi"},
		},
	}
}

// Defaults is the `teams` value of a stack that sets none: one team owning the walkthrough's namespace, with no
// principals.
func Defaults() map[string]Spec {
	return map[string]Spec{Walkthrough: Generic()}
}

// OwningAll is the teams of a stack that sets none: the default team, owning the given namespaces (those the
// services run in), so a single-team stack keeps working without a teams key.
func OwningAll(namespaces []string) map[string]Spec {
	t := Generic()
	if !slices.Equal(namespaces, []string{Walkthrough}) {
		t.Namespaces = slices.Clone(namespaces)
	}
	return map[string]Spec{Walkthrough: t}
}

// Parse reads the `teams` value (JSON). Each entry is laid over Generic; objects merge field by field, lists and
// scalars replace. An unknown field is an error naming it.
func Parse(raw string) (map[string]Spec, error) {
	return overlay.Map(Key, "team", raw, Defaults(), Generic, "docs/teams.md")
}

// Names are the teams in a stable order.
func Names(specs map[string]Spec) []string { return slices.Sorted(maps.Keys(specs)) }

// NamespacesOf is a team's namespaces: those it lists, else one named after the team.
func (s Spec) NamespacesOf(team string) []string {
	if len(s.Namespaces) == 0 {
		return []string{team}
	}
	return s.Namespaces
}

// Owners maps each namespace to the team that owns it (the first, by name, when two claim one: Validate refuses
// that).
func Owners(specs map[string]Spec) map[string]string {
	out := map[string]string{}
	for _, name := range Names(specs) {
		for _, ns := range specs[name].NamespacesOf(name) {
			if _, taken := out[ns]; !taken {
				out[ns] = name
			}
		}
	}
	return out
}

// Table renders the fields as docs/teams.md lists them, each with its default.
func Table() (string, error) {
	raw, err := json.Marshal(Generic())
	if err != nil {
		return "", err
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| Field | Default | Description |\n|---|---|---|\n")
	for _, f := range Fields {
		var v any = obj
		for _, part := range strings.Split(f.Path, ".") {
			m, _ := v.(map[string]any)
			v = m[part]
		}
		cell := "(empty)"
		if v != nil {
			cell = "`" + strings.Trim(fmt.Sprint(v), `"`) + "`"
		}
		if f.Path == "namespaces" {
			cell = "the team's name"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.Path, cell, f.Description)
	}
	return b.String(), nil
}
