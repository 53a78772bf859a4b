// Package graph indexes the resources a program registered, so tests can assert properties, parents, providers
// and dependency edges of the resulting resource graph.
package graph

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Registration is one resource the program registered (or read) under mocks.
type Registration struct {
	Type         string
	Name         string
	URN          string
	Inputs       resource.PropertyMap
	Parent       string
	Dependencies []string
	// Provider is the URN of the explicit provider, or "" for the default provider.
	Provider string
	Custom   bool
	Remote   bool
	// References are the URNs of resources passed as inputs (e.g. a node group's cluster). A remote component's
	// children read them, so the engine orders them like dependencies.
	References []string
	// ReadID is set for resources read with Get (ReadResource), not created.
	ReadID string
	// Constructed marks a resource a component provider created (pulumi-eks's AWS resources), not the program.
	Constructed bool
	// ID is the resource's ID, "" while it is not known (a preview of a new stack).
	ID string
	// State is what the engine keeps of the resource and Pulumi's analyzer sees: inputs and provider outputs,
	// with values not known yet in a preview marked computed. A component registered by pulumi-eks has an
	// empty state, whatever inputs the program passed it.
	State resource.PropertyMap
}

// Graph indexes registrations by URN.
type Graph struct {
	ByURN map[string]Registration
	Order []Registration
}

// NewGraph indexes the given registrations.
func NewGraph(regs []Registration) *Graph {
	g := &Graph{ByURN: make(map[string]Registration, len(regs)), Order: regs}
	for _, r := range regs {
		g.ByURN[r.URN] = r
	}
	return g
}

// Declared is the graph of what the program itself declared, without what component providers created.
func (g *Graph) Declared() *Graph {
	var regs []Registration
	for _, r := range g.Order {
		if !r.Constructed {
			regs = append(regs, r)
		}
	}
	return NewGraph(regs)
}

// Find returns the registrations of a type token, optionally filtered by logical name.
func (g *Graph) Find(typ string) []Registration {
	var out []Registration
	for _, r := range g.Order {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// One returns the single registration of typ named name, or an error naming what was found.
func (g *Graph) One(typ, name string) (Registration, error) {
	var names []string
	for _, r := range g.Order {
		if r.Type == typ {
			if r.Name == name {
				return r, nil
			}
			names = append(names, r.Name)
		}
	}
	return Registration{}, fmt.Errorf("no %s named %q (have %v)", typ, name, names)
}

// Children returns the URNs of every descendant of urn.
func (g *Graph) Children(urn string) []string {
	var out []string
	for _, r := range g.Order {
		if r.Parent == urn {
			out = append(out, r.URN)
			out = append(out, g.Children(r.URN)...)
		}
	}
	return out
}

// DirectDeps returns what a resource waits for: its explicit and data dependencies and its explicit provider,
// with a dependency on a component expanded to the component's descendants (as the engine does).
func (g *Graph) DirectDeps(urn string) []string {
	r := g.ByURN[urn]
	seen := map[string]bool{}
	var out []string
	add := func(u string) {
		if u != "" && !seen[u] && u != urn {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, d := range append(append([]string{}, r.Dependencies...), r.References...) {
		add(d)
		if dep, ok := g.ByURN[d]; ok && !dep.Custom && !dep.Remote {
			for _, c := range g.Children(d) {
				add(c)
			}
		}
	}
	add(r.Provider)
	sort.Strings(out)
	return out
}

// DependsOn reports whether from waits, directly or transitively, for to.
func (g *Graph) DependsOn(from, to string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(u string) bool {
		if seen[u] {
			return false
		}
		seen[u] = true
		for _, d := range g.DirectDeps(u) {
			if d == to || walk(d) {
				return true
			}
		}
		return false
	}
	return walk(from)
}
