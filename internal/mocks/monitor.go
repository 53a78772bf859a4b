// Package mocks runs Pulumi programs under pulumi.WithMocks and records what they declare, as the engine would
// see it: inputs, provider outputs, values not known in a preview of a new stack, and the AWS resources pulumi-eks
// creates inside its components.
package mocks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Project and Stack name the mocked program's URNs.
const (
	Project = "progressive-delivery"
	Stack   = "test"
)

// AccountID is the AWS account the mocks pretend to be.
const AccountID = "111111111111"

// Monitor is a pulumi.MockResourceMonitor that records every registration and answers the outputs the program
// reads from remote components, providers and invokes.
type Monitor struct {
	// Region answers getRegion and getAvailabilityZones; default us-west-1.
	Region string
	// Zones answers getAvailabilityZones; default the region's a and b zones.
	Zones []string
	// DryRun plays a preview of a new stack: no resource has an ID yet, and what a provider computes on create
	// (ARNs, URLs, digests) is not known.
	DryRun bool
	// EKSVersions answers eks.getClusterVersions; default EKSVersionsToday. EKSUnreachable fails it instead.
	EKSVersions    []EKSVersion
	EKSUnreachable bool
	// Running is the cluster EKS already runs under the stack's name (eks.LookupCluster, LookupNodeGroup,
	// LookupAddon); nil is a stack whose cluster does not exist until the program creates it.
	Running *RunningCluster

	mu    sync.Mutex
	regs  []graph.Registration
	state map[string]resource.PropertyMap
	calls []pulumi.MockCallArgs
}

// NewResource records a registration and returns its outputs.
func (m *Monitor) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	reg := graph.Registration{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs, Custom: args.Custom}
	parent := ""
	switch {
	case args.RegisterRPC != nil:
		parent = args.RegisterRPC.GetParent()
		reg.Dependencies = args.RegisterRPC.GetDependencies()
		reg.Remote = args.RegisterRPC.GetRemote()
		// The SDK's mock drops values that are not known; the engine keeps them, marked computed.
		inputs, err := plugin.UnmarshalProperties(args.RegisterRPC.GetObject(),
			plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true})
		if err != nil {
			return "", nil, err
		}
		reg.Inputs = inputs
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
	switch {
	case reg.ReadID != "":
		// A read has no inputs; what the program (and a policy) sees is the state it returns.
		reg.Inputs = outputs
		reg.State = outputs
	case reg.Custom:
		reg.State = reg.Inputs.Copy()
		for k, v := range outputs {
			if _, isInput := reg.State[k]; !isInput || !m.DryRun {
				reg.State[k] = v
			}
		}
	default:
		reg.State = resource.PropertyMap{}
	}

	reg.ID = args.Name + "-id"
	if args.ID != "" {
		reg.ID = args.ID
	} else if m.DryRun && reg.Custom {
		reg.ID = ""
	}
	children, err := m.construct(reg)
	if err != nil {
		return "", nil, fmt.Errorf("%s %s: %w", reg.Type, reg.Name, err)
	}

	m.mu.Lock()
	if m.state == nil {
		m.state = map[string]resource.PropertyMap{}
	}
	for _, r := range append([]graph.Registration{reg}, children...) {
		m.regs = append(m.regs, r)
		m.state[r.URN] = r.State
	}
	m.mu.Unlock()
	return reg.ID, outputs, nil
}

// stateOf is the recorded state of the resource urn refers to.
func (m *Monitor) stateOf(urn string) resource.PropertyMap {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state[urn]
}

// tokenSerial numbers the ECR tokens handed out, so no two are equal.
var tokenSerial atomic.Int64

// SourceDigest is the digest the mocked upstream registry gives tag.
func SourceDigest(tag string) string {
	sum := sha256.Sum256([]byte(tag))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Call answers invokes: the ECR authorization token, upstream image digests, the region and its zones.
func (m *Monitor) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls = append(m.calls, args)
	m.mu.Unlock()
	switch args.Token {
	case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
		// ECR hands out a new 12-hour token on every call.
		return resource.NewPropertyMapFromMap(map[string]any{
			"userName":      "AWS",
			"password":      fmt.Sprintf("mock-ecr-password-%d", tokenSerial.Add(1)),
			"proxyEndpoint": "https://" + AccountID + ".dkr.ecr." + m.region() + ".amazonaws.com",
		}), nil
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		names := make([]any, 0, len(m.zones()))
		for _, z := range m.zones() {
			names = append(names, z)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"names": names}), nil
	case "docker:index/getRegistryImage:getRegistryImage":
		name := args.Args["name"].StringValue()
		return resource.NewPropertyMapFromMap(map[string]any{"name": name, "sha256Digest": SourceDigest(name[strings.LastIndex(name, ":")+1:])}), nil
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{"accountId": AccountID, "arn": "arn:aws:iam::" + AccountID + ":user/ci"}), nil
	case "aws:eks/getCluster:getCluster":
		return m.cluster(args)
	case "aws:eks/getNodeGroup:getNodeGroup":
		return m.nodeGroup(args)
	case "aws:eks/getAddon:getAddon":
		return m.addon(args)
	case "aws:eks/getAddonVersion:getAddonVersion":
		return m.addonVersion(args)
	case "aws:eks/getClusterVersions:getClusterVersions":
		return m.clusterVersions(args)
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
	if m.DryRun && args.ID == "" && args.TypeToken != "pulumi:pulumi:StackReference" {
		// Nothing exists yet: outputs are the inputs, the rest is computed on create.
		return out
	}
	switch args.TypeToken {
	case "aws:ecr/repository:Repository":
		name := args.Inputs["name"].StringValue()
		set("registryId", AccountID)
		set("repositoryUrl", AccountID+".dkr.ecr."+m.region()+".amazonaws.com/"+name)
		set("arn", "arn:aws:ecr:"+m.region()+":"+AccountID+":repository/"+name)
	case "aws:iam/role:Role":
		set("arn", "arn:aws:iam::"+AccountID+":role/"+args.Name)
		set("name", args.Name)
	case "docker:index/image:Image":
		name := args.Inputs["imageName"].StringValue()
		set("baseImageName", name)
		set("repoDigest", name[:strings.LastIndex(name, ":")]+"@sha256:"+strings.Repeat("0", 64))
	case "eks:index:Cluster":
		kubeconfig := `{"apiVersion":"v1","kind":"Config","clusters":[{"name":"mock","cluster":{"server":"https://mock.eks.amazonaws.com"}}]}`
		set("kubeconfigJson", kubeconfig)
		set("kubeconfig", map[string]any{"apiVersion": "v1", "kind": "Config"})
	case "kubernetes:helm.sh/v3:Release":
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
			"ingress":       "gloo",
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
func (m *Monitor) Registrations() []graph.Registration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]graph.Registration(nil), m.regs...)
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
