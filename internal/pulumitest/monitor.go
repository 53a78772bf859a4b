// Package pulumitest runs Pulumi programs under pulumi.WithMocks and records what they declare, so tests can
// assert properties, parents, providers and dependency edges of the resulting resource graph.
package pulumitest

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// Project and Stack name the mocked program's URNs.
const (
	Project = "progressive-delivery"
	Stack   = "test"
)

// AccountID is the AWS account the mocks pretend to be.
const AccountID = "111111111111"

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
}

// Monitor is a pulumi.MockResourceMonitor that records every registration and answers the outputs the program
// reads from remote components, providers and invokes.
type Monitor struct {
	// Region answers getRegion and getAvailabilityZones; default us-west-1.
	Region string
	// Zones answers getAvailabilityZones; default the region's a and b zones.
	Zones []string
	// DryRun leaves out the outputs a provider computes on create, as in a preview of a new stack.
	DryRun bool

	mu    sync.Mutex
	regs  []Registration
	calls []pulumi.MockCallArgs
}

// NewResource records a registration and returns its outputs.
func (m *Monitor) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	reg := Registration{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs, Custom: args.Custom}
	parent := ""
	switch {
	case args.RegisterRPC != nil:
		parent = args.RegisterRPC.GetParent()
		reg.Dependencies = args.RegisterRPC.GetDependencies()
		reg.Remote = args.RegisterRPC.GetRemote()
	case args.ReadRPC != nil:
		parent = args.ReadRPC.GetParent()
		reg.Dependencies = args.ReadRPC.GetDependencies()
		reg.ReadID = args.ID
	}
	reg.Parent = parent
	reg.URN = urnOf(parent, args.TypeToken, args.Name)
	reg.References = references(resource.NewObjectProperty(args.Inputs))
	reg.Provider = providerURN(args.Provider)
	outputs := m.outputs(args)
	if reg.ReadID != "" {
		// A read has no inputs; what the program (and a policy) sees is the state it returns.
		reg.Inputs = outputs
	}

	m.mu.Lock()
	m.regs = append(m.regs, reg)
	m.mu.Unlock()

	id := args.Name + "-id"
	if args.ID != "" {
		id = args.ID
	}
	return id, outputs, nil
}

// Call answers invokes: the ECR authorization token, the region and its zones.
func (m *Monitor) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls = append(m.calls, args)
	m.mu.Unlock()
	switch args.Token {
	case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
		return resource.NewPropertyMapFromMap(map[string]any{
			"userName":      "AWS",
			"password":      "mock-ecr-password",
			"proxyEndpoint": "https://" + AccountID + ".dkr.ecr." + m.region() + ".amazonaws.com",
		}), nil
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		names := make([]any, 0, len(m.zones()))
		for _, z := range m.zones() {
			names = append(names, z)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"names": names}), nil
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(map[string]any{"name": m.region()}), nil
	}
	return resource.PropertyMap{}, nil
}

func (m *Monitor) region() string {
	if m.Region == "" {
		return "us-west-1"
	}
	return m.Region
}

func (m *Monitor) zones() []string {
	if m.Zones == nil {
		return []string{m.region() + "a", m.region() + "b"}
	}
	return m.Zones
}

// outputs fills the computed outputs that the program reads back, per type token.
func (m *Monitor) outputs(args pulumi.MockResourceArgs) resource.PropertyMap {
	out := args.Inputs.Copy()
	set := func(k string, v any) { out[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	switch args.TypeToken {
	case "aws:ecr/repository:Repository":
		name := args.Inputs["name"].StringValue()
		set("registryId", AccountID)
		set("repositoryUrl", AccountID+".dkr.ecr."+m.region()+".amazonaws.com/"+name)
		set("arn", "arn:aws:ecr:"+m.region()+":"+AccountID+":repository/"+name)
	case "aws:iam/role:Role":
		set("arn", "arn:aws:iam::"+AccountID+":role/"+args.Name)
		set("name", args.Name)
	case "docker:index/registryImage:RegistryImage":
		set("sha256Digest", "sha256:"+strings.Repeat("0", 64))
	case "docker:index/remoteImage:RemoteImage":
		set("imageId", "sha256:"+strings.Repeat("1", 64))
		set("repoDigest", args.Inputs["name"].StringValue()+"@sha256:"+strings.Repeat("1", 64))
	case "eks:index:Cluster":
		kubeconfig := `{"apiVersion":"v1","kind":"Config","clusters":[{"name":"mock","cluster":{"server":"https://mock.eks.amazonaws.com"}}]}`
		set("kubeconfigJson", kubeconfig)
		set("kubeconfig", map[string]any{"apiVersion": "v1", "kind": "Config"})
	case "kubernetes:helm.sh/v3:Release":
		if m.DryRun {
			break
		}
		status := map[string]any{"status": "deployed"}
		if ns, ok := args.Inputs["namespace"]; ok && ns.IsString() {
			status["namespace"] = ns.StringValue()
		}
		if n, ok := args.Inputs["name"]; ok && n.IsString() {
			status["name"] = n.StringValue()
		}
		set("status", status)
	case "pulumi:pulumi:StackReference":
		// An infrastructure stack of this program, as its outputs contract describes it.
		set("outputs", map[string]any{
			"kubeconfig":    `{"apiVersion":"v1","kind":"Config","clusters":[{"name":"infra","cluster":{"server":"https://infra.example"}}]}`,
			"repositoryUrl": AccountID + ".dkr.ecr." + m.region() + ".amazonaws.com/ps-flagger-repository",
			"clusterName":   "ps-eks-66",
		})
	case "aws:kms/key:Key":
		set("arn", "arn:aws:kms:"+m.region()+":"+AccountID+":key/"+args.Name)
	case "kubernetes:core/v1:Service":
		if args.ID != "" {
			// A read returns the live object, metadata included.
			ns, name, _ := strings.Cut(args.ID, "/")
			set("metadata", map[string]any{"namespace": ns, "name": name})
			set("status", map[string]any{"loadBalancer": map[string]any{"ingress": []any{
				map[string]any{"hostname": "a1b2c3-gateway-proxy." + m.region() + ".elb.amazonaws.com"},
			}}})
		}
	}
	return out
}

// Registrations returns a copy of every registration so far, in registration order.
func (m *Monitor) Registrations() []Registration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Registration(nil), m.regs...)
}

// Calls returns a copy of every invoke so far.
func (m *Monitor) Calls() []pulumi.MockCallArgs {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]pulumi.MockCallArgs(nil), m.calls...)
}

// urnOf computes a URN the way the mock monitor does, so recorded parents and dependencies can be matched.
func urnOf(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(Stack), tokens.PackageName(Project), parentType, tokens.Type(typ), name))
}

// references collects the URNs of resource references anywhere in v.
func references(v resource.PropertyValue) []string {
	switch {
	case v.IsResourceReference():
		return []string{string(v.ResourceReferenceValue().URN)}
	case v.IsObject():
		var out []string
		for _, e := range v.ObjectValue() {
			out = append(out, references(e)...)
		}
		return out
	case v.IsArray():
		var out []string
		for _, e := range v.ArrayValue() {
			out = append(out, references(e)...)
		}
		return out
	case v.IsSecret():
		return references(v.SecretValue().Element)
	case v.IsOutput():
		return references(v.OutputValue().Element)
	}
	return nil
}

// providerURN strips the "::id" suffix of a provider reference.
func providerURN(ref string) string {
	if i := strings.LastIndex(ref, "::"); i > 0 {
		return ref[:i]
	}
	return ref
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

// RunConfig configures one mocked run of a program.
type RunConfig struct {
	// Config holds project keys without the project prefix ("zones") and namespaced keys as is ("aws:region").
	Config map[string]string
	// Secrets lists keys of Config that were set with --secret.
	Secrets []string
	// DryRun runs the program as `pulumi preview` does.
	DryRun bool
	// Zones the mocked account sees; default the region's a and b zones.
	Zones []string
}

// Run runs program under mocks and returns the monitor with what it recorded and the program's error.
func Run(program pulumi.RunFunc, rc RunConfig) (*Monitor, error) {
	cfg := map[string]string{}
	var secrets []string
	for k, v := range rc.Config {
		cfg[qualify(k)] = v
	}
	for _, k := range rc.Secrets {
		secrets = append(secrets, qualify(k))
	}
	mon := &Monitor{Region: cfg["aws:region"], Zones: rc.Zones, DryRun: rc.DryRun}
	err := pulumi.RunErr(program, pulumi.WithMocks(Project, Stack, mon), func(ri *pulumi.RunInfo) {
		ri.Config = cfg
		ri.ConfigSecretKeys = secrets
		ri.DryRun = rc.DryRun
	})
	return mon, err
}

func qualify(key string) string {
	if strings.Contains(key, ":") {
		return key
	}
	return Project + ":" + key
}

// Await resolves an output inside a running program.
func Await(ctx *pulumi.Context, o pulumi.Output) (internals.UnsafeAwaitOutputResult, error) {
	return internals.UnsafeAwaitOutput(ctx.Context(), o)
}
