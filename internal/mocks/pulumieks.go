package mocks

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// construct plays the pulumi-eks 2.8.1 provider for its remote components: the engine records the component with
// an empty state and, as its children, the AWS resources pulumi-eks's cluster.js and nodegroup.js create, with
// the inputs they pass. Other registrations have no children here.
func (m *Monitor) construct(c graph.Registration) ([]graph.Registration, error) {
	if !c.Remote {
		return nil, nil
	}
	switch c.Type {
	case "eks:index:Cluster":
		return m.constructCluster(c)
	case "eks:index:ManagedNodeGroup":
		return m.constructManagedNodeGroup(c)
	}
	return nil, nil
}

// children builds registrations under one parent, with the state the engine would keep.
type children struct {
	m   *Monitor
	out []graph.Registration
}

// add registers a child of parent; computedOutputs are what AWS returns on create (absent in a preview).
func (b *children) add(parent, typ, name string, custom bool, inputs resource.PropertyMap, computedOutputs map[string]any) graph.Registration {
	r := graph.Registration{Type: typ, Name: name, Parent: parent, URN: urnOf(parent, typ, name), Custom: custom, Inputs: inputs,
		Constructed: true}
	r.State = resource.PropertyMap{}
	if custom {
		r.State = inputs.Copy()
		if !b.m.DryRun {
			r.ID = name + "-id"
			for k, v := range computedOutputs {
				r.State[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
			}
		}
	}
	b.out = append(b.out, r)
	return r
}

// output is a property of a child's state, computed while it is not known.
func output(r graph.Registration, key string) resource.PropertyValue {
	if v, ok := r.State[resource.PropertyKey(key)]; ok {
		return v
	}
	return computed()
}

func computed() resource.PropertyValue { return resource.MakeComputed(resource.NewProperty("")) }

// derived is the result of a pulumi-eks apply over v: computed while v holds anything not known.
func derived(v resource.PropertyValue, f func() resource.PropertyValue) resource.PropertyValue {
	if v.ContainsUnknowns() {
		return computed()
	}
	return f()
}

func obj(kv map[string]resource.PropertyValue) resource.PropertyValue {
	out := resource.PropertyMap{}
	for k, v := range kv {
		if !v.IsNull() {
			out[resource.PropertyKey(k)] = v
		}
	}
	return resource.NewProperty(out)
}

func str(s string) resource.PropertyValue { return resource.NewProperty(s) }

func strList(ss ...string) resource.PropertyValue {
	var out []resource.PropertyValue
	for _, s := range ss {
		out = append(out, str(s))
	}
	return resource.NewProperty(out)
}

// elements is the elements of an array input, secrets unwrapped.
func elements(v resource.PropertyValue) []resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !v.IsArray() {
		return nil
	}
	return v.ArrayValue()
}

// serviceAssumeRolePolicy is servicerole.js's JSON.stringify of the trust policy, keys in its order.
func serviceAssumeRolePolicy(service string) string {
	return `{"Version":"2012-10-17","Statement":[{"Action":["sts:AssumeRole"],"Effect":"Allow","Principal":{"Service":["` +
		service + `"]}}]}`
}

// withTags is pulumi-eks's Object.assign({Name: ..., ...extra}, tags): the caller's tags win.
func withTags(tags resource.PropertyValue, extra map[string]string) resource.PropertyValue {
	if tags.ContainsUnknowns() {
		return computed()
	}
	out := resource.PropertyMap{}
	for k, v := range extra {
		out[resource.PropertyKey(k)] = str(v)
	}
	if tags.IsObject() {
		for k, v := range tags.ObjectValue() {
			out[k] = v
		}
	}
	return resource.NewProperty(out)
}

// idOf is a child's ID, computed until the resource exists.
func idOf(r graph.Registration) resource.PropertyValue {
	if r.ID == "" {
		return computed()
	}
	return str(r.ID)
}

// referenceTo is the resource reference pulumi-eks passes when it hands a resource itself as an input.
func referenceTo(r graph.Registration) resource.PropertyValue {
	return resource.MakeCustomResourceReference(resource.URN(r.URN), resource.ID(r.ID), "")
}

// serviceRole is servicerole.js's ServiceRole: the role and one attachment per managed policy, named after the
// first 8 hex digits of the SHA-1 of the policy's id.
func (b *children) serviceRole(parent, name, service, description string, policies []string, tags resource.PropertyValue) graph.Registration {
	var policyArns, arns []resource.PropertyValue
	for _, p := range policies {
		arn := str("arn:aws:iam::aws:policy/" + p)
		policyArns = append(policyArns, arn)
		arns = append(arns, obj(map[string]resource.PropertyValue{"id": arn, "arn": arn}))
	}
	componentInputs := resource.PropertyMap{"service": str(service), "managedPolicyArns": resource.NewProperty(arns), "tags": tags}
	if description != "" {
		componentInputs["description"] = str(description)
	}
	component := b.add(parent, "eks:index:ServiceRole", name, false, componentInputs, nil)
	roleInputs := resource.PropertyMap{"assumeRolePolicy": str(serviceAssumeRolePolicy(service)), "tags": tags}
	if description != "" {
		roleInputs["description"] = str(description)
	}
	role := b.add(component.URN, "aws:iam/role:Role", name+"-role", true, roleInputs,
		map[string]any{"arn": "arn:aws:iam::" + AccountID + ":role/" + name + "-role-1a2b3c", "name": name + "-role-1a2b3c"})
	for _, arn := range policyArns {
		sum := sha1.Sum([]byte(arn.StringValue()))
		b.add(component.URN, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", name+"-"+hex.EncodeToString(sum[:])[:8], true,
			resource.PropertyMap{"policyArn": arn, "role": referenceTo(role)}, nil)
	}
	return role
}

// securityGroupRule is one aws.ec2.SecurityGroupRule of cluster.js or securitygroup.js.
type securityGroupRule struct {
	name, description, kind, protocol string
	fromPort, toPort                  float64
	toInternet, self                  bool
	// source is the security group allowed in, if any.
	source *graph.Registration
}

func (b *children) securityGroupRule(parent, component string, group graph.Registration, r securityGroupRule) {
	inputs := resource.PropertyMap{
		"description": str(r.description), "type": str(r.kind), "protocol": str(r.protocol),
		"fromPort": resource.NewProperty(r.fromPort), "toPort": resource.NewProperty(r.toPort), "securityGroupId": idOf(group),
	}
	if r.toInternet {
		inputs["cidrBlocks"] = strList("0.0.0.0/0")
	}
	if r.self {
		inputs["self"] = resource.NewProperty(true)
	}
	if r.source != nil {
		inputs["sourceSecurityGroupId"] = idOf(*r.source)
	}
	b.add(parent, "aws:ec2/securityGroupRule:SecurityGroupRule", component+"-"+r.name, true, inputs, nil)
}

// supportsConfigMap and supportsAccessEntries are authenticationMode.js's checks; no mode means CONFIG_MAP.
func supportsConfigMap(mode string) bool {
	return mode == "" || mode == "CONFIG_MAP" || mode == "API_AND_CONFIG_MAP"
}

func supportsAccessEntries(mode string) bool { return mode == "API" || mode == "API_AND_CONFIG_MAP" }

func (m *Monitor) constructCluster(c graph.Registration) ([]graph.Registration, error) {
	in := c.Inputs
	mode := ""
	if v := in["authenticationMode"]; v.IsString() {
		mode = v.StringValue()
	}
	// authenticationMode.js's validateAuthenticationMode, which fails the component's construction.
	if !supportsConfigMap(mode) && len(elements(in["instanceRoles"])) > 0 {
		return nil, fmt.Errorf("pulumi-eks: the 'instanceRoles' property does not support non-empty values when 'authenticationMode' is set to '%s'", mode)
	}
	if !supportsAccessEntries(mode) && !in["accessEntries"].IsNull() {
		return nil, errors.New("pulumi-eks: the 'accessEntries' property is not supported when 'authenticationMode' is not set")
	}
	b := &children{m: m}
	name, tags := c.Name, in["tags"]

	role := b.serviceRole(c.URN, name+"-eksRole", "eks.amazonaws.com", "Allows EKS to manage clusters on your behalf.",
		[]string{"AmazonEKSClusterPolicy"}, tags)

	clusterSG := b.add(c.URN, "aws:ec2/securityGroup:SecurityGroup", name+"-eksClusterSecurityGroup", true, resource.PropertyMap{
		"vpcId": in["vpcId"], "revokeRulesOnDelete": resource.NewProperty(true), "description": str(defaultSecurityGroupDescription),
		"tags": withTags(tags, map[string]string{"Name": name + "-eksClusterSecurityGroup"}),
	}, nil)
	b.securityGroupRule(c.URN, name, clusterSG, securityGroupRule{name: "eksClusterInternetEgressRule",
		description: "Allow internet access.", kind: "egress", protocol: "-1", toInternet: true})

	// A new stack's preview does not know the subnets' IDs yet, so neither does pulumi-eks's vpcConfig.
	subnetIDs := resource.NewProperty(append(slices.Clone(elements(in["publicSubnetIds"])), elements(in["privateSubnetIds"])...))
	if in["publicSubnetIds"].ContainsUnknowns() || in["privateSubnetIds"].ContainsUnknowns() {
		subnetIDs = computed()
	}
	clusterInputs := resource.PropertyMap{
		"name":    in["name"],
		"roleArn": output(role, "arn"),
		"vpcConfig": obj(map[string]resource.PropertyValue{
			"securityGroupIds":      resource.NewProperty([]resource.PropertyValue{idOf(clusterSG)}),
			"subnetIds":             subnetIDs,
			"endpointPrivateAccess": in["endpointPrivateAccess"],
			"endpointPublicAccess":  in["endpointPublicAccess"],
			"publicAccessCidrs":     in["publicAccessCidrs"],
		}),
		"version":                in["version"],
		"enabledClusterLogTypes": in["enabledClusterLogTypes"],
		"tags":                   withTags(tags, map[string]string{"Name": name + "-eksCluster"}),
	}
	if key := in["encryptionConfigKeyArn"]; !key.IsNull() {
		clusterInputs["encryptionConfig"] = derived(key, func() resource.PropertyValue {
			return obj(map[string]resource.PropertyValue{"provider": obj(map[string]resource.PropertyValue{"keyArn": key}), "resources": strList("secrets")})
		})
	}
	if mode != "" {
		clusterInputs["accessConfig"] = obj(map[string]resource.PropertyValue{
			"authenticationMode": str(mode), "bootstrapClusterCreatorAdminPermissions": resource.NewProperty(true),
		})
	}
	issuer := OIDCIssuer(m.region())
	cluster := b.add(c.URN, eksfacts.ClusterType, eksfacts.ClusterResourceName(name), true, clusterInputs, map[string]any{
		"arn":        "arn:aws:eks:" + m.region() + ":" + AccountID + ":cluster/" + in["name"].StringValue(),
		"endpoint":   "https://EXAMPLED539D4633E53DE1B71EXAMPLE.gr7." + m.region() + ".eks.amazonaws.com",
		"identities": []any{map[string]any{"oidcs": []any{map[string]any{"issuer": issuer}}}},
	})
	kubeconfig := derived(output(cluster, "endpoint"), func() resource.PropertyValue {
		return str(`{"apiVersion":"v1","kind":"Config","clusters":[{"name":"kubernetes","cluster":{"server":"` +
			output(cluster, "endpoint").StringValue() + `"}}]}`)
	})
	b.add(c.URN, "pulumi:providers:kubernetes", name+"-eks-k8s", true, resource.PropertyMap{"kubeconfig": kubeconfig}, nil)

	// cluster.js: instanceRoles, else instanceRole, else a role of its own for nodes (an empty list is set).
	var nodeInstanceRole *graph.Registration
	if in["instanceRoles"].IsNull() && in["instanceRole"].IsNull() {
		r := b.serviceRole(c.URN, name+"-instanceRole", "ec2.amazonaws.com", "", eksfacts.NodePolicies, tags)
		nodeInstanceRole = &r
	}
	if supportsConfigMap(mode) {
		b.add(c.URN, "kubernetes:core/v1:ConfigMap", name+"-nodeAccess", true, resource.PropertyMap{
			"metadata": obj(map[string]resource.PropertyValue{"name": str("aws-auth"), "namespace": str("kube-system")}),
			"data":     computed(),
		}, nil)
	}
	if supportsAccessEntries(mode) {
		if nodeInstanceRole != nil {
			b.add(c.URN, eksfacts.AccessEntryType, name+"-defaultNodeGroupInstanceRole", true, resource.PropertyMap{
				"clusterName": output(cluster, "name"), "principalArn": output(*nodeInstanceRole, "arn"), "type": str("EC2_LINUX"),
			}, nil)
		}
		b.accessEntries(c.URN, name, output(cluster, "name"), in["accessEntries"])
	}
	if v := in["useDefaultVpcCni"]; !v.IsBool() || !v.BoolValue() {
		b.add(c.URN, "eks:index:VpcCni", name+"-vpc-cni", true, resource.PropertyMap{"kubeconfig": computed()}, nil)
	}
	if v := in["createOidcProvider"]; v.IsBool() && v.BoolValue() {
		b.add(c.URN, eksfacts.OIDCProviderType, eksfacts.OIDCProviderName(name), true, resource.PropertyMap{
			"clientIdLists": strList("sts.amazonaws.com"),
			// cluster.js passes the issuer (https://...) as url; the AWS provider's state holds it without the
			// scheme, as IAM reports it.
			"url": derived(output(cluster, "identities"), func() resource.PropertyValue {
				return str(strings.TrimPrefix(issuer, "https://"))
			}),
			"thumbprintLists": strList(OIDCThumbprint),
		}, nil)
	}

	// securitygroup.js's createNodeGroupSecurityGroup, which createCluster calls even with no default node group.
	nodeSG := b.add(c.URN, "aws:ec2/securityGroup:SecurityGroup", name+"-nodeSecurityGroup", true, resource.PropertyMap{
		"vpcId": in["vpcId"], "revokeRulesOnDelete": resource.NewProperty(true), "description": str(defaultSecurityGroupDescription),
		"tags": derived(output(cluster, "name"), func() resource.PropertyValue {
			return withTags(tags, map[string]string{"Name": name + "-nodeSecurityGroup",
				"kubernetes.io/cluster/" + output(cluster, "name").StringValue(): "owned"})
		}),
	}, nil)
	for _, r := range []securityGroupRule{
		{name: "eksNodeIngressRule", description: "Allow nodes to communicate with each other", kind: "ingress", protocol: "-1", self: true},
		{name: "eksNodeClusterIngressRule", description: "Allow worker Kubelets and pods to receive communication from the cluster control plane",
			kind: "ingress", protocol: "tcp", fromPort: 1025, toPort: 65535, source: &clusterSG},
		{name: "eksExtApiServerClusterIngressRule", description: "Allow pods running extension API servers on port 443 to receive communication from cluster control plane",
			kind: "ingress", protocol: "tcp", fromPort: 443, toPort: 443, source: &clusterSG},
		{name: "eksNodeInternetEgressRule", description: "Allow internet access.", kind: "egress", protocol: "-1", toInternet: true},
	} {
		b.securityGroupRule(c.URN, name, nodeSG, r)
	}
	b.securityGroupRule(c.URN, name, clusterSG, securityGroupRule{name: "eksClusterIngressRule",
		description: "Allow pods to communicate with the cluster API Server", kind: "ingress", protocol: "tcp", fromPort: 443, toPort: 443,
		source: &nodeSG})
	b.add(c.URN, "pulumi:providers:kubernetes", name+"-provider", true, resource.PropertyMap{"kubeconfig": kubeconfig}, nil)
	return b.out, nil
}

// defaultSecurityGroupDescription is what @pulumi/aws sets when a security group is given no description.
const defaultSecurityGroupDescription = "Managed by Pulumi"

// OIDCThumbprint is the CA thumbprint pulumi-eks reads over TLS from the region's OIDC endpoint; the mocks and
// the fixture generator give this one.
const OIDCThumbprint = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"

// accessEntries is authenticationMode.js's createAccessEntries: one AccessEntry per key, and under it one
// AccessPolicyAssociation per access policy.
func (b *children) accessEntries(parent, component string, clusterName, entries resource.PropertyValue) {
	if !entries.IsObject() {
		return
	}
	keys := entries.ObjectValue().StableKeys()
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, key := range keys {
		e := entries.ObjectValue()[key]
		if !e.IsObject() {
			continue
		}
		entry := e.ObjectValue()
		inputs := resource.PropertyMap{"clusterName": clusterName, "principalArn": entry["principalArn"]}
		for _, k := range []resource.PropertyKey{"type", "kubernetesGroups"} {
			if v, ok := entry[k]; ok {
				inputs[k] = v
			}
		}
		if v, ok := entry["username"]; ok {
			inputs["userName"] = v
		}
		created := b.add(parent, eksfacts.AccessEntryType, component+"-"+string(key), true, inputs, nil)
		policies := entry["accessPolicies"]
		if !policies.IsObject() {
			continue
		}
		for _, pk := range policies.ObjectValue().StableKeys() {
			p := policies.ObjectValue()[pk]
			if !p.IsObject() {
				continue
			}
			b.add(created.URN, eksfacts.AccessPolicyType, component+"-"+string(key)+"-"+string(pk), true, resource.PropertyMap{
				"clusterName": clusterName, "principalArn": entry["principalArn"],
				"policyArn": p.ObjectValue()["policyArn"], "accessScope": p.ObjectValue()["accessScope"],
			}, nil)
		}
	}
}

// constructManagedNodeGroup is nodegroup.js's createManagedNodeGroupInternal: the aws:eks/nodeGroup:NodeGroup
// takes the component's name, the cluster's name and the role's ARN.
func (m *Monitor) constructManagedNodeGroup(c graph.Registration) ([]graph.Registration, error) {
	in := c.Inputs
	role, cluster := in["nodeRole"], in["cluster"]
	if role.IsNull() == in["nodeRoleArn"].IsNull() {
		return nil, errors.New("pulumi-eks: an IAM role, or role ARN must be provided to create a managed node group")
	}
	roleArn := in["nodeRoleArn"]
	if role.IsResourceReference() {
		roleArn = stateValue(m.stateOf(string(role.ResourceReferenceValue().URN)), "arn")
	}
	clusterName := in["clusterName"]
	if clusterName.IsNull() && cluster.IsResourceReference() {
		urn := string(cluster.ResourceReferenceValue().URN)
		clusterURN := urnOf(urn, eksfacts.ClusterType, eksfacts.ClusterResourceName(resourceName(urn)))
		clusterName = stateValue(m.stateOf(clusterURN), "name")
	}
	inputs := resource.PropertyMap{"clusterName": clusterName, "nodeRoleArn": roleArn}
	for _, k := range []resource.PropertyKey{"nodeGroupName", "subnetIds", "instanceTypes", "launchTemplate", "scalingConfig",
		"tags", "labels", "taints", "diskSize", "amiType", "capacityType", "version", "remoteAccess"} {
		if v, ok := in[k]; ok {
			inputs[k] = v
		}
	}
	b := &children{m: m}
	b.add(c.URN, eksfacts.NodeGroupType, c.Name, true, inputs, map[string]any{
		"arn": "arn:aws:eks:" + m.region() + ":" + AccountID + ":nodegroup/" + c.Name,
	})
	return b.out, nil
}

func stateValue(state resource.PropertyMap, key resource.PropertyKey) resource.PropertyValue {
	if v, ok := state[key]; ok {
		return v
	}
	return computed()
}

func resourceName(urn string) string { return resource.URN(urn).Name() }

// OIDCIssuer is the OIDC issuer URL EKS gives every mocked cluster in region.
func OIDCIssuer(region string) string {
	return "https://oidc.eks." + region + ".amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
}
