package mocks

import (
	"fmt"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RunningCluster is a cluster EKS runs before the program does anything: its control plane's Kubernetes version,
// its node group's (the control plane's when empty), and its managed add-ons' versions.
type RunningCluster struct {
	Version, NodeGroupVersion string
	Addons                    map[string]string
}

// notFound is the AWS provider's error for a read of something EKS does not have (pulumi-aws 6.83.4 wraps EKS's
// ResourceNotFoundException as the Terraform provider's "couldn't find resource").
func notFound(what string) error {
	return fmt.Errorf("reading EKS %s: couldn't find resource", what)
}

// cluster answers eks.getCluster: the running cluster, or the one the program registered in this run (read back
// after its creation for the OIDC issuer), or not found.
func (m *Monitor) cluster(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if m.EKSUnreachable {
		return nil, ErrEKSUnreachable
	}
	name := args.Args["name"].StringValue()
	version := ""
	switch {
	case m.Running != nil:
		version = m.Running.Version
	case m.registered("eks:index:Cluster"):
	default:
		return nil, notFound("Cluster (" + name + ")")
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"name": name, "version": version,
		"identities": []any{map[string]any{"oidcs": []any{map[string]any{"issuer": OIDCIssuer(m.region())}}}},
	}), nil
}

// nodeGroup answers eks.getNodeGroup with the running node group's version.
func (m *Monitor) nodeGroup(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if m.EKSUnreachable {
		return nil, ErrEKSUnreachable
	}
	name := args.Args["nodeGroupName"].StringValue()
	if m.Running == nil {
		return nil, notFound("Node Group (" + name + ")")
	}
	version := m.Running.NodeGroupVersion
	if version == "" {
		version = m.Running.Version
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"clusterName": args.Args["clusterName"].StringValue(), "nodeGroupName": name, "version": version, "status": "ACTIVE",
	}), nil
}

// addon answers eks.getAddon with the running add-on's version.
func (m *Monitor) addon(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if m.EKSUnreachable {
		return nil, ErrEKSUnreachable
	}
	name := args.Args["addonName"].StringValue()
	if m.Running == nil || m.Running.Addons[name] == "" {
		return nil, notFound("Add-On (" + name + ")")
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"addonName": name, "clusterName": args.Args["clusterName"].StringValue(), "addonVersion": m.Running.Addons[name],
	}), nil
}

// addonVersion answers eks.getAddonVersion in the SDK's schema (addonName, kubernetesVersion, mostRecent, version,
// id) for the Kubernetes versions EKS offers (EKSVersions, not UNSUPPORTED), as the provider fails for others.
func (m *Monitor) addonVersion(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if m.EKSUnreachable {
		return nil, ErrEKSUnreachable
	}
	name, kubernetes := args.Args["addonName"].StringValue(), args.Args["kubernetesVersion"].StringValue()
	offered := false
	for _, v := range m.versions() {
		offered = offered || (v.Version == kubernetes && v.Status != "UNSUPPORTED")
	}
	version := AddonVersion(name, kubernetes)
	if !offered || version == "" {
		return nil, fmt.Errorf("reading EKS Add-On version info (%s, %s): empty result", name, kubernetes)
	}
	mostRecent := false
	if v, ok := args.Args["mostRecent"]; ok && v.IsBool() {
		mostRecent = v.BoolValue()
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"addonName": name, "kubernetesVersion": kubernetes, "mostRecent": mostRecent, "version": version, "id": name,
	}), nil
}

// AddonVersion is the mocked EKS's default version of add-on name at Kubernetes version kubernetes: made up, one
// step per Kubernetes minor, so that a newer Kubernetes always has a newer add-on, as on EKS.
func AddonVersion(name, kubernetes string) string {
	minor := eksfacts.Minor(kubernetes)
	if minor < 0 {
		return ""
	}
	switch name {
	case "vpc-cni":
		return fmt.Sprintf("v1.%d.0-eksbuild.1", minor-15)
	case "coredns":
		return fmt.Sprintf("v1.%d.0-eksbuild.1", minor-23)
	case "kube-proxy":
		return "v" + kubernetes + ".0-eksbuild.2"
	}
	return ""
}

// registered says whether the program registered a resource of type typ in this run.
func (m *Monitor) registered(typ string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.regs {
		if r.Type == typ {
			return true
		}
	}
	return false
}
