// Package upgrade decides what one `pulumi up` may do to the Kubernetes version of a cluster the stack manages,
// from what EKS reports the cluster runs and what the stack asks for: the steps, in the order AWS requires, and
// the checks of EKS's rules (internal/eksfacts holds them, with their sources). The program refuses a change whose
// checks fail before it declares anything; cmd/upgrade prints the same plan before it changes anything.
package upgrade

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/progressive-delivery/platform/internal/eksfacts"
)

// Running is what EKS reports of the stack's cluster: its control plane's and its managed node group's
// Kubernetes versions and its EKS add-ons' versions. The zero value is a stack with no cluster yet.
type Running struct {
	ControlPlane, NodeGroup string
	Addons                  map[string]string
}

// Exists says whether the cluster exists.
func (r Running) Exists() bool { return r.ControlPlane != "" }

// Chart is a chart the stack pins: its config key, its name in the support tables, and its version.
type Chart struct{ Key, Name, Version string }

// Target is what the stack asks for: its kubernetesVersion, its node group's name, the charts it pins, and the
// version EKS gives each managed add-on at that Kubernetes version ("" when EKS named none: AddonErrors says why).
type Target struct {
	Version     string
	NodeGroup   string
	Charts      []Chart
	Addons      map[string]string
	AddonErrors map[string]string
}

// Check is one rule and whether the change keeps it.
type Check struct {
	Name   string
	Pass   bool
	Detail string
}

// Plan is what this `up` does to the cluster's versions.
type Plan struct {
	From Running
	To   string
	// ControlPlane and NodeGroup are the versions this up sets: the target, except in a rollback, where the node
	// group goes back first and the control plane follows at the next up.
	ControlPlane, NodeGroup string
	// Addons are the add-on versions this up sets: the target's, except where that would take one back (EKS does
	// not downgrade add-ons, nor roll them back with the cluster).
	Addons   map[string]string
	Steps    []string
	Checks   []Check
	Warnings []string
	// Support is where EKS has the running and the target versions, when known (set by the program, which asks
	// EKS).
	Support []eksfacts.Support
}

// Changes says whether this up changes a version of an existing cluster.
func (p Plan) Changes() bool {
	return p.From.Exists() && (p.ControlPlane != p.From.ControlPlane || p.NodeGroup != p.From.NodeGroup)
}

// Text is the plan for a person: the change, the steps in order, the checks, and EKS's support dates (its
// warnings are logged as warnings).
func (p Plan) Text() string {
	var b strings.Builder
	from := "a new cluster"
	if p.From.Exists() {
		from = fmt.Sprintf("control plane %s, node group %s", p.From.ControlPlane, p.From.NodeGroup)
	}
	fmt.Fprintf(&b, "Kubernetes version plan: %s → %s\n", from, p.To)
	if len(p.Steps) > 0 {
		b.WriteString("steps, in the order AWS requires:\n")
		for i, s := range p.Steps {
			fmt.Fprintf(&b, "  %d. %s\n", i+1, s)
		}
	}
	if len(p.Checks) > 0 {
		b.WriteString("checks:\n")
		for _, c := range p.Checks {
			mark := "pass"
			if !c.Pass {
				mark = "FAIL"
			}
			fmt.Fprintf(&b, "  %s  %s: %s\n", mark, c.Name, c.Detail)
		}
	}
	if len(p.Support) > 0 {
		b.WriteString("EKS support:\n")
		for _, s := range p.Support {
			fmt.Fprintf(&b, "  %s: %s, standard support until %s, extended support until %s (%s)\n", s.Version, s.Status, s.StandardEnd, s.ExtendedEnd, s.Source)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Refusals are the failed checks, one error each, prefixed with the key that fixes them.
func (p Plan) Refusals() []error {
	var out []error
	for _, c := range p.Checks {
		if !c.Pass {
			out = append(out, fmt.Errorf("kubernetesVersion: %s", c.Detail))
		}
	}
	return out
}

// New plans the change from running to target.
func New(running Running, target Target) Plan {
	p := Plan{From: running, To: target.Version, ControlPlane: target.Version, NodeGroup: target.Version, Addons: map[string]string{}}
	to := eksfacts.Minor(target.Version)
	if running.Exists() {
		p.planVersions(running, target, to)
	}
	p.planAddons(running, target)
	for _, c := range target.Charts {
		if check, known := ChartCheck(c, target.Version); known {
			p.Checks = append(p.Checks, check)
		}
	}
	if len(target.Charts) > 0 {
		names := make([]string, 0, len(target.Charts))
		for _, c := range target.Charts {
			names = append(names, c.Name+" "+c.Version)
		}
		p.Steps = append(p.Steps, fmt.Sprintf("charts (%s): after the node group, on the cluster at %s; their pins do not change",
			strings.Join(names, ", "), p.ControlPlane))
	}
	return p
}

// ChartCheck checks a pinned chart against its support table at Kubernetes version kubernetes, naming a series
// that supports it when the pinned one does not. Known is false when the table here has no entry for the chart's
// series.
func ChartCheck(c Chart, kubernetes string) (check Check, known bool) {
	s := eksfacts.ChartSupports(c.Name, c.Version, kubernetes)
	if !s.Known {
		return Check{}, false
	}
	check = Check{Name: fmt.Sprintf("%s %s supports Kubernetes %s", c.Name, c.Version, kubernetes), Pass: s.Supported,
		Detail: fmt.Sprintf("%s %s.x supports Kubernetes %s (its support table)", c.Name, s.Series, s.Range())}
	if !s.Supported {
		fix := fmt.Sprintf("no %s series supports %s yet (the newest supports up to %s): stay on a version in that range",
			c.Name, kubernetes, eksfacts.NewestChartKubernetes(c.Name))
		if series := eksfacts.ChartSeriesFor(c.Name, kubernetes); series != "" {
			fix = fmt.Sprintf("%s %s.x supports %s: set %s to a %s.x release", c.Name, series, kubernetes, c.Key, series)
		}
		check.Detail = fmt.Sprintf("%s is outside what %s %s.x supports (Kubernetes %s, its support table); %s",
			kubernetes, c.Name, s.Series, s.Range(), fix)
	}
	return check, true
}

// planVersions checks the version change of an existing cluster and orders its steps.
func (p *Plan) planVersions(running Running, target Target, to int) {
	from := eksfacts.Minor(running.ControlPlane)
	nodes := running.NodeGroup
	if nodes == "" {
		// A node group not created yet is created at the control plane's version.
		nodes = running.ControlPlane
	}
	nodesMinor := eksfacts.Minor(nodes)
	group := "node group " + target.NodeGroup
	if target.NodeGroup == "" {
		group = "the node group"
	}

	// One minor at a time, upwards.
	oneStep := Check{Name: "one minor version at a time", Pass: to <= from+1,
		Detail: fmt.Sprintf("%s → %s (%s)", running.ControlPlane, target.Version, eksfacts.OneMinorAtATime)}
	if !oneStep.Pass {
		var hops []string
		for v := from; v < to; v++ {
			hops = append(hops, fmt.Sprintf("%s → %s", eksfacts.Version(v), eksfacts.Version(v+1)))
		}
		oneStep.Detail = fmt.Sprintf("%s is %d minor versions above the cluster's %s (as EKS reports it), and EKS updates one "+
			"at a time (%s); apply them one at a time: %s, each with `pulumi config set kubernetesVersion <version>` and "+
			"`pulumi up` (go run ./cmd/upgrade plans each)", target.Version, to-from, running.ControlPlane,
			eksfacts.OneMinorAtATime, strings.Join(hops, ", then "))
	}
	p.Checks = append(p.Checks, oneStep)

	// Never down, except EKS's rollback of one minor.
	rollback := to == from-1
	down := Check{Name: "no downgrade but EKS's rollback", Pass: to >= from-1,
		Detail: fmt.Sprintf("%s → %s", running.ControlPlane, target.Version)}
	if !down.Pass {
		down.Detail = fmt.Sprintf("%s is below the cluster's %s (as EKS reports it): EKS never downgrades a cluster, except "+
			"one minor version back within %d days of an in-place upgrade (%s); the lowest this cluster can go is %s",
			target.Version, running.ControlPlane, eksfacts.RollbackWindowDays, eksfacts.RollbackRule, eksfacts.Version(from-1))
	}
	p.Checks = append(p.Checks, down)

	// The node group must match the control plane before the control plane moves up.
	match := Check{Name: "the node group matches the control plane before it is updated", Pass: to <= from || nodesMinor == from,
		Detail: fmt.Sprintf("%s runs %s, the control plane %s", group, nodes, running.ControlPlane)}
	if !match.Pass {
		match.Detail = fmt.Sprintf("%s runs %s and the control plane %s: EKS updates a control plane only when its node "+
			"groups match it (%s); apply %s first (`pulumi config set kubernetesVersion %s`, `pulumi up`: the node group "+
			"follows), then %s", group, nodes, running.ControlPlane, eksfacts.NodeGroupsMatchFirst, running.ControlPlane,
			running.ControlPlane, target.Version)
	}
	p.Checks = append(p.Checks, match)

	if rollback && nodesMinor > to {
		// The node group goes back first: a node may be older than the API server, never newer.
		p.ControlPlane = running.ControlPlane
	}
	never := Check{Name: "the node group never newer than the control plane", Pass: eksfacts.Minor(p.NodeGroup) <= eksfacts.Minor(p.ControlPlane),
		Detail: fmt.Sprintf("after this up: control plane %s, node group %s", p.ControlPlane, p.NodeGroup)}
	p.Checks = append(p.Checks, never)
	if !oneStep.Pass || !down.Pass || !match.Pass {
		return
	}

	switch {
	case rollback:
		p.Warnings = append(p.Warnings, fmt.Sprintf("kubernetesVersion %s → %s is EKS's rollback (%s): it works only within %d "+
			"days of the in-place upgrade to %s, and not on a cluster AWS upgraded itself at the end of extended support. "+
			"The managed node group is rolled back first, by this up; the control plane at the next `pulumi up`. EKS add-ons "+
			"are not rolled back: they keep their versions, which must still support %s (docs/upgrades.md, \"Rolling back\")",
			running.ControlPlane, target.Version, eksfacts.RollbackRule, eksfacts.RollbackWindowDays, running.ControlPlane, target.Version))
		if p.ControlPlane != target.Version {
			p.Steps = append(p.Steps, fmt.Sprintf("%s: %s → %s (rolled back first: a node may not be newer than the API server)",
				group, nodes, target.Version),
				fmt.Sprintf("control plane: stays at %s in this up; run `pulumi up` again to roll it back to %s", running.ControlPlane, target.Version))
		} else {
			p.Steps = append(p.Steps, fmt.Sprintf("control plane: %s → %s (EKS rollback)", running.ControlPlane, target.Version))
		}
	case to == from+1:
		p.Steps = append(p.Steps, fmt.Sprintf("control plane: %s → %s (EKS UpdateClusterVersion; the API server keeps serving)", running.ControlPlane, target.Version),
			fmt.Sprintf("%s: %s → %s (after the control plane; EKS replaces its nodes one by one, draining each)", group, nodes, target.Version))
	case nodesMinor < to:
		p.Steps = append(p.Steps, fmt.Sprintf("%s: %s → %s (catching up with the control plane)", group, nodes, target.Version))
	default:
		p.Steps = append(p.Steps, fmt.Sprintf("control plane and node group: stay at %s", target.Version))
	}
}

// planAddons pins each managed add-on to the version EKS gives the target, keeping a newer running one.
func (p *Plan) planAddons(running Running, target Target) {
	var moves []string
	for _, name := range eksfacts.ManagedAddons {
		want, now := target.Addons[name], running.Addons[name]
		if reason, failed := target.AddonErrors[name]; failed {
			p.Checks = append(p.Checks, Check{Name: fmt.Sprintf("EKS add-on %s has a version for %s", name, target.Version), Detail: fmt.Sprintf(
				"EKS names no %s add-on version for Kubernetes %s (eks.getAddonVersion: %s); stay on a version EKS supports the add-on at",
				name, target.Version, reason)})
			continue
		}
		if want == "" {
			continue
		}
		p.Checks = append(p.Checks, Check{Name: fmt.Sprintf("EKS add-on %s has a version for %s", name, target.Version), Pass: true,
			Detail: fmt.Sprintf("%s %s (EKS's default for %s)", name, want, target.Version)})
		if now != "" && CompareAddonVersions(want, now) < 0 {
			p.Addons[name] = now
			p.Warnings = append(p.Warnings, fmt.Sprintf("EKS add-on %s stays at %s: EKS's default for %s is the older %s, and EKS "+
				"does not take add-ons back (%s)", name, now, target.Version, want, eksfacts.AddonsNotUpdated))
			continue
		}
		p.Addons[name] = want
		if now != want {
			from := now
			if from == "" {
				from = "new"
			}
			moves = append(moves, fmt.Sprintf("%s %s → %s", name, from, want))
		}
	}
	if len(moves) > 0 {
		p.Steps = append(p.Steps, fmt.Sprintf("EKS add-ons, after the node group (%s): %s", eksfacts.AddonsNotUpdated, strings.Join(moves, ", ")))
	}
}

// CompareAddonVersions orders EKS add-on versions such as v1.19.2-eksbuild.1: by their numbers, then by the build.
func CompareAddonVersions(a, b string) int {
	na, nb := addonNumbers(a), addonNumbers(b)
	for i := range max(len(na), len(nb)) {
		var x, y int
		if i < len(na) {
			x = na[i]
		}
		if i < len(nb) {
			y = nb[i]
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// addonNumbers are the numbers of v1.19.2-eksbuild.1: 1, 19, 2, 1.
func addonNumbers(v string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r < '0' || r > '9' }) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}
