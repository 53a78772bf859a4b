package rules

import (
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/internal/props"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func res(typ, name string, props map[string]any) Resource {
	return Resource{Type: typ, Name: name, URN: "urn:pulumi:prod::progressive-delivery::" + typ + "::" + name, ID: name + "-id", Props: props}
}

func m(kv ...any) map[string]any {
	out := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func l(items ...any) []any { return items }

func repo(mutability any, scan any, encryption any) Resource {
	return res(ecrRepository, "repo", m("name", "podinfo", "imageTagMutability", mutability,
		"imageScanningConfiguration", m("scanOnPush", scan), "encryptionConfigurations", l(m("encryptionType", encryption))))
}

var u = props.Unknown{}

// eksCluster is the aws:eks/cluster:Cluster pulumi-eks creates, with prod's settings, beside its OIDC provider.
func eksCluster(vpc map[string]any, props map[string]any) Resource {
	v := m("endpointPrivateAccess", true, "endpointPublicAccess", true, "publicAccessCidrs", l("203.0.113.0/24"))
	for k, val := range vpc {
		v[k] = val
	}
	base := m("name", "ps-eks-66", "version", "1.33", "vpcConfig", v,
		"encryptionConfig", m("provider", m("keyArn", "arn:aws:kms:key"), "resources", l("secrets")),
		"enabledClusterLogTypes", l("api", "audit", "authenticator", "controllerManager", "scheduler"))
	for k, val := range props {
		base[k] = val
	}
	r := res(eksfacts.ClusterType, "cluster-eks-eksCluster", base)
	r.Parent = "urn:pulumi:prod::progressive-delivery::eks:index:Cluster::cluster-eks"
	return r
}

func oidcProvider(parent string, url any) Resource {
	r := res(eksfacts.OIDCProviderType, "cluster-eks-oidcProvider", m("clientIdLists", l("sts.amazonaws.com"), "url", url))
	r.Parent = parent
	return r
}

func irsa(parent string, url any, issuer any) []Resource {
	c := eksCluster(nil, m("identities", l(m("oidcs", l(m("issuer", issuer))))))
	c.Parent = ""
	return []Resource{c, oidcProvider(parent, url)}
}

func containerSpec(extra map[string]any) map[string]any {
	c := m("name", "app", "image", "ghcr.io/x/app:1.2.3",
		"resources", m("requests", m("cpu", "100m", "memory", "64Mi"), "limits", m("cpu", "1", "memory", "128Mi")),
		"livenessProbe", m("exec", m("command", l("true"))), "readinessProbe", m("exec", m("command", l("true"))),
		"securityContext", m("runAsNonRoot", true, "allowPrivilegeEscalation", false, "capabilities", m("drop", l("ALL")),
			"seccompProfile", m("type", "RuntimeDefault"), "readOnlyRootFilesystem", true))
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func workload(ns any, c map[string]any) Resource {
	return res(deployment, "app", m("metadata", m("name", "app", "namespace", ns),
		"spec", m("template", m("metadata", m("labels", m("app", "app")), "spec", m("containers", l(c))))))
}

func launchTemplateOf(tokens any, hop any, encrypted any) Resource {
	return res("aws:ec2/launchTemplate:LaunchTemplate", "lt", m("metadataOptions", m("httpTokens", tokens, "httpPutResponseHopLimit", hop),
		"blockDeviceMappings", l(m("ebs", m("encrypted", encrypted)))))
}

func nodeGroup(props map[string]any) Resource {
	return res(eksfacts.NodeGroupType, "cluster-nodes", props)
}

// nodeSet is a node group, its role found by ARN, and the role's attachments.
func nodeSet(roleArn any, policies ...string) []Resource {
	role := res("aws:iam/role:Role", "node-role", m("name", "node-role-1a2b", "arn", "arn:aws:iam::111111111111:role/node-role-1a2b"))
	out := []Resource{role, nodeGroup(m("nodeRoleArn", roleArn, "launchTemplate", m("id", "lt-1")))}
	for _, p := range policies {
		out = append(out, res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "attach-"+p, m("role", "node-role-1a2b", "policyArn", "arn:aws:iam::aws:policy/"+p)))
	}
	return out
}

var nodePolicies = []string{"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}

func subnets(nodeSubnets any) []Resource {
	public := res("aws:ec2/subnet:Subnet", "public-a", m("mapPublicIpOnLaunch", true))
	private := res("aws:ec2/subnet:Subnet", "private-a", m())
	ids := nodeSubnets
	switch nodeSubnets {
	case "public":
		ids = l(public.ID)
	case "private":
		ids = l(private.ID)
	}
	return []Resource{public, private, nodeGroup(m("subnetIds", ids))}
}

func canaryWithPDB(selector any) []Resource {
	out := []Resource{res(canary, "canary", m("spec", m("targetRef", m("name", "podinfo"))))}
	if selector != nil {
		out = append(out, res(pdb, "pdb", m("spec", m("selector", m("matchLabels", m("app", selector))))))
	}
	return out
}

func lifecycle(repository any, status string) []Resource {
	return []Resource{repo("IMMUTABLE", true, "KMS"), res(ecrLifecycle, "lc", m("repository", repository,
		"policy", `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"`+status+`","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`))}
}

const eksParent = "urn:pulumi:prod::progressive-delivery::eks:index:Cluster::cluster-eks"

// cases holds, for every rule, resources it accepts, resources it rejects, and the rejected resources with the
// values it reads not known yet (a preview of a new stack), which it must not reject.
var cases = map[string]struct{ pass, fail, unknown []Resource }{
	"ecr-scan-on-push":   {[]Resource{repo("IMMUTABLE", true, "KMS")}, []Resource{repo("IMMUTABLE", false, "KMS")}, []Resource{repo("IMMUTABLE", u, "KMS")}},
	"ecr-immutable-tags": {[]Resource{repo("IMMUTABLE", true, "KMS")}, []Resource{repo("MUTABLE", true, "KMS")}, []Resource{repo(u, true, "KMS")}},
	"ecr-kms-encryption": {[]Resource{repo("IMMUTABLE", true, "KMS")}, []Resource{repo("IMMUTABLE", true, "AES256")}, []Resource{repo("IMMUTABLE", true, u)}},
	"ecr-lifecycle-keeps-tagged-images": {lifecycle("podinfo", "untagged"),
		append(lifecycle("podinfo", "any"), res(ecrRepository, "other", m("name", "other"))), lifecycle(u, "any")},
	"kms-key-rotation": {[]Resource{res("aws:kms/key:Key", "k", m("enableKeyRotation", true))},
		[]Resource{res("aws:kms/key:Key", "k", m("enableKeyRotation", false))}, []Resource{res("aws:kms/key:Key", "k", m("enableKeyRotation", u))}},
	"eks-secrets-encryption": {[]Resource{eksCluster(nil, nil)},
		[]Resource{eksCluster(nil, m("encryptionConfig", nil)), eksCluster(nil, m("encryptionConfig", m("provider", m("keyArn", ""), "resources", l("secrets"))))},
		[]Resource{eksCluster(nil, m("encryptionConfig", u))}},
	"eks-control-plane-logging": {[]Resource{eksCluster(nil, nil)},
		[]Resource{eksCluster(nil, m("enabledClusterLogTypes", l("api"))), eksCluster(nil, m("enabledClusterLogTypes", nil))},
		[]Resource{eksCluster(nil, m("enabledClusterLogTypes", u))}},
	"eks-private-endpoint": {[]Resource{eksCluster(nil, nil)},
		[]Resource{eksCluster(m("endpointPrivateAccess", false), nil), eksCluster(m("endpointPrivateAccess", nil), nil)},
		[]Resource{eksCluster(m("endpointPrivateAccess", u), nil)}},
	"eks-public-access-restricted": {[]Resource{eksCluster(nil, nil), eksCluster(m("endpointPublicAccess", false, "publicAccessCidrs", nil), nil)},
		[]Resource{eksCluster(m("publicAccessCidrs", l("0.0.0.0/0")), nil), eksCluster(m("publicAccessCidrs", nil), nil),
			eksCluster(m("endpointPublicAccess", nil, "publicAccessCidrs", nil), nil)},
		[]Resource{eksCluster(m("publicAccessCidrs", u), nil), eksCluster(m("endpointPublicAccess", u, "publicAccessCidrs", l("0.0.0.0/0")), nil)}},
	"eks-irsa": {append(irsa(eksParent, "https://oidc.eks/1", "other"), oidcProvider(eksParent, u)), irsa("", "https://oidc.eks/1", "https://oidc.eks/2"),
		irsa("", u, "https://oidc.eks/2")},
	"eks-supported-version": {[]Resource{eksCluster(nil, nil), eksCluster(nil, m("version", nil))},
		[]Resource{eksCluster(nil, m("version", "1.24"))}, []Resource{eksCluster(nil, m("version", u))}},
	"nodes-in-private-subnets": {subnets("private"), subnets("public"), subnets(u)},
	"private-subnets-no-public-ips": {[]Resource{res(subnet, "p", m("tags", m("kubernetes.io/role/internal-elb", "1")))},
		[]Resource{res(subnet, "p", m("tags", m("kubernetes.io/role/internal-elb", "1"), "mapPublicIpOnLaunch", true))},
		[]Resource{res(subnet, "p", m("tags", u, "mapPublicIpOnLaunch", true))}},
	"launch-template-imdsv2":            {[]Resource{launchTemplateOf("required", 1.0, "true")}, []Resource{launchTemplateOf("optional", 1.0, "true")}, []Resource{launchTemplateOf(u, 1.0, "true")}},
	"launch-template-hop-limit":         {[]Resource{launchTemplateOf("required", 1.0, "true")}, []Resource{launchTemplateOf("required", 2.0, "true")}, []Resource{launchTemplateOf("required", u, "true")}},
	"launch-template-encrypted-volumes": {[]Resource{launchTemplateOf("required", 1.0, "true")}, []Resource{launchTemplateOf("required", 1.0, "false")}, []Resource{launchTemplateOf("required", 1.0, u)}},
	"managed-nodes-use-launch-template": {[]Resource{nodeGroup(m("launchTemplate", m("id", "lt-1"))), nodeGroup(m("launchTemplate", m("id", u, "version", u)))},
		[]Resource{nodeGroup(m("diskSize", 100.0))}, []Resource{nodeGroup(m("launchTemplate", u))}},
	"node-role-minimal-policies": {nodeSet("arn:aws:iam::111111111111:role/node-role-1a2b", nodePolicies...),
		nodeSet("arn:aws:iam::111111111111:role/node-role-1a2b", append(nodePolicies, "AmazonS3FullAccess")...),
		nodeSet(u, append(nodePolicies, "AmazonS3FullAccess")...)},
	"iam-no-admin-or-s3-full-access": {[]Resource{res(policyAttachment, "a", m("policyArn", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"))},
		[]Resource{res(policyAttachment, "a", m("policyArn", "arn:aws:iam::aws:policy/AmazonS3FullAccess")),
			res(iamRole, "r", m("managedPolicyArns", l("arn:aws:iam::aws:policy/AdministratorAccess")))},
		[]Resource{res(policyAttachment, "a", m("policyArn", u))}},
	"k8s-pod-security-restricted": {[]Resource{workload("apps", containerSpec(nil)), workload("apps", containerSpec(m("image", u)))},
		[]Resource{workload("apps", containerSpec(m("securityContext", m("privileged", true)))), workload("apps", containerSpec(m("securityContext", nil)))},
		[]Resource{workload("apps", containerSpec(m("securityContext", u)))}},
	"k8s-resources": {
		[]Resource{workload("apps", containerSpec(nil)), workload("shop", containerSpec(m("resources", m()))), containerDefaults("shop", "Container")},
		[]Resource{workload("apps", containerSpec(m("resources", m("requests", m("cpu", "1"))))),
			workload("shop", containerSpec(m("resources", m()))), containerDefaults("shop", "Pod")},
		[]Resource{workload("apps", containerSpec(m("resources", m("requests", m("cpu", "1"), "limits", u)))),
			workload(u, containerSpec(m("resources", m()))), containerDefaults("shop", "Container")}},
	"k8s-probes": {[]Resource{workload("apps", containerSpec(nil))}, []Resource{workload("apps", containerSpec(m("livenessProbe", nil)))},
		[]Resource{workload("apps", containerSpec(m("livenessProbe", u)))}},
	"k8s-image-pinned": {[]Resource{workload("apps", containerSpec(nil)), workload("apps", containerSpec(m("image", "ghcr.io/x/app@sha256:"+repeat64())))},
		[]Resource{workload("apps", containerSpec(m("image", "ghcr.io/x/app:latest"))), workload("apps", containerSpec(m("image", "ghcr.io/x/app")))},
		[]Resource{workload("apps", containerSpec(m("image", u)))}},
	"k8s-no-default-namespace": {[]Resource{workload("apps", containerSpec(nil)), res("kubernetes:helm.sh/v3:Release", "r", m("namespace", "gloo-system"))},
		[]Resource{workload("default", containerSpec(nil)), workload("", containerSpec(nil)), res("kubernetes:helm.sh/v3:Release", "r", m())},
		[]Resource{workload(u, containerSpec(nil)), res("kubernetes:helm.sh/v3:Release", "r", m("namespace", u))}},
	"k8s-serving-pods-have-pdb": {canaryWithPDB("podinfo-primary"), canaryWithPDB("podinfo"), canaryWithPDB(u)},
	"security-group-no-open-ingress": {[]Resource{sgRule("ingress", "tcp", m("sourceSecurityGroupId", "sg-1")), sgRule("egress", "-1", nil)},
		[]Resource{sgRule("ingress", "tcp", m("cidrBlocks", l("0.0.0.0/0"))), sgRule("ingress", "-1", m("ipv6CidrBlocks", l("::/0")))},
		[]Resource{sgRule(u, "tcp", m("cidrBlocks", l("0.0.0.0/0")))}},
	"security-group-no-open-egress": {[]Resource{sgRule("egress", "tcp", m("cidrBlocks", l("0.0.0.0/0"))), sgRule("egress", "-1", m("cidrBlocks", l("10.0.0.0/16"))),
		sgRule("ingress", "-1", m("self", true))},
		[]Resource{sgRule("egress", "-1", m("cidrBlocks", l("0.0.0.0/0"))), sgRule("egress", "all", m("ipv6CidrBlocks", l("::/0")))},
		[]Resource{sgRule("egress", u, m("cidrBlocks", l("0.0.0.0/0")))}},
	"gateway-listener-hostname": {[]Resource{gatewayWith(m("name", "http", "hostname", "podinfo.example.com"))},
		[]Resource{gatewayWith(m("name", "http")), gatewayWith(m("name", "http", "hostname", "*.example.com"))},
		[]Resource{gatewayWith(m("name", "http", "hostname", u))}},
	"gateway-routes-from-selected-namespaces": {[]Resource{gatewayWith(m("name", "http", "allowedRoutes", m("namespaces", m("from", "Selector"))))},
		[]Resource{gatewayWith(m("name", "http", "allowedRoutes", m("namespaces", m("from", "All"))))},
		[]Resource{gatewayWith(m("name", "http", "allowedRoutes", m("namespaces", m("from", u))))}},
	"eks-team-access-namespaced": {
		[]Resource{teamAccess("AmazonEKSEditPolicy", m("type", "namespace", "namespaces", l("shop", "shop-pay")), true),
			teamAccess("AmazonEKSClusterAdminPolicy", m("type", "cluster"), false)},
		[]Resource{teamAccess("AmazonEKSEditPolicy", m("type", "cluster"), true), teamAccess("AmazonEKSViewPolicy", m("type", "cluster"), false),
			teamAccess("AmazonEKSAdminPolicy", m("type", "namespace", "namespaces", l()), true)},
		[]Resource{teamAccess("AmazonEKSEditPolicy", u, true), teamAccess(u, m("type", "cluster"), true)}},
	"k8s-team-namespace-guarded": {
		teamNamespace("shop", "shop", true, true, denyAll()),
		teamNamespace("shop", "shop", true, false, denyAll()),
		teamNamespace(u, "shop", true, true, denyAll())},
	"k8s-services-in-team-namespaces": {
		append(teamNamespace("shop", "shop", true, true, denyAll()), res(canary, "cart-canary", m("metadata", m("namespace", "shop")))),
		append(teamNamespace("shop", "shop", true, true, denyAll()), res(canary, "cart-canary", m("metadata", m("namespace", "default-apps")))),
		append(teamNamespace("shop", "shop", true, true, denyAll()), res(canary, "cart-canary", m("metadata", m("namespace", u))))},
	"gateway-api-crds-pinned": {[]Resource{res(configFile, "crds", m("file", "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.4.1/standard-install.yaml"))},
		[]Resource{res(configFile, "crds", m("file", "https://github.com/kubernetes-sigs/gateway-api/releases/latest/download/standard-install.yaml")),
			res(configFile, "crds", m("file", "https://raw.githubusercontent.com/kubernetes-sigs/gateway-api/main/config/crd/standard/gateway.networking.k8s.io_gateways.yaml"))},
		[]Resource{res(configFile, "crds", m("file", u))}},
}

// teamAccess is an access policy association, a team's (child of a Team component) or not.
func teamAccess(policy any, scope any, ofTeam bool) Resource {
	if p, ok := policy.(string); ok {
		policy = "arn:aws:eks::aws:cluster-access-policy/" + p
	}
	r := res("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "assoc", m("policyArn", policy, "accessScope", scope))
	if ofTeam {
		r.Parent = "urn:pulumi:prod::progressive-delivery::progressive-delivery:workloads:Team::shop"
	}
	return r
}

// containerDefaults is a LimitRange in namespace whose item of the given type sets every default.
func containerDefaults(namespace, itemType string) Resource {
	both := m("cpu", "100m", "memory", "64Mi")
	return res("kubernetes:core/v1:LimitRange", "defaults", m("metadata", m("namespace", namespace),
		"spec", m("limits", l(m("type", itemType, "defaultRequest", both, "default", both)))))
}

func denyAll() map[string]any {
	return m("podSelector", m(), "policyTypes", l("Ingress"))
}

// teamNamespace is a namespace of team shop with, in namespace guarded, a quota, a LimitRange (when limits) and
// a NetworkPolicy of the given spec.
func teamNamespace(name any, guarded string, quota, limits bool, policy map[string]any) []Resource {
	out := []Resource{res("kubernetes:core/v1:Namespace", "shop-ns", m("metadata", m("name", name, "labels", m("progressive-delivery/team", "shop"))))}
	if quota {
		out = append(out, res("kubernetes:core/v1:ResourceQuota", "shop-quota", m("metadata", m("namespace", guarded))))
	}
	if limits {
		out = append(out, res("kubernetes:core/v1:LimitRange", "shop-limits", m("metadata", m("namespace", guarded))))
	}
	return append(out, res("kubernetes:networking.k8s.io/v1:NetworkPolicy", "shop-deny", m("metadata", m("namespace", guarded), "spec", policy)),
		res("kubernetes:core/v1:Namespace", "gloo-ns", m("metadata", m("name", "gloo-system"))))
}

func sgRule(kind, protocol any, extra map[string]any) Resource {
	p := m("type", kind, "protocol", protocol, "fromPort", 0.0, "toPort", 0.0, "securityGroupId", "sg-2")
	for k, v := range extra {
		p[k] = v
	}
	return res(securityGroupRule, "rule", p)
}

func gatewayWith(listener map[string]any) Resource {
	return res(gatewayType, "gateway", m("spec", m("listeners", l(listener))))
}

func repeat64() string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func violationsOf(rule Rule, rs []Resource) []string {
	var out []string
	if rule.Check != nil {
		for _, r := range rs {
			out = append(out, rule.Check(r)...)
		}
	}
	if rule.CheckStack != nil {
		for _, v := range rule.CheckStack(rs) {
			out = append(out, v.Message)
		}
	}
	return out
}

func TestRules_PassAndFail(t *testing.T) {
	t.Parallel()
	require.GreaterOrEqual(t, len(All), 20, "at least 20 rules")
	for _, rule := range All {
		t.Run(rule.Name, func(t *testing.T) {
			t.Parallel()
			c, ok := cases[rule.Name]
			require.True(t, ok, "rule %s has test cases", rule.Name)
			assert.NotEmpty(t, rule.Source, "the rule names its source")
			assert.NotEmpty(t, rule.Description)
			assert.True(t, (rule.Check == nil) != (rule.CheckStack == nil), "exactly one of Check and CheckStack")
			assert.Empty(t, violationsOf(rule, c.pass), "passing fixture")
			require.NotEmpty(t, c.unknown, "rule %s has a fixture with values not known yet", rule.Name)
			if rule.CheckStack != nil {
				assert.NotEmpty(t, violationsOf(rule, c.fail), "failing fixture")
				assert.Empty(t, violationsOf(rule, c.unknown), "a value not known yet is no violation")
				return
			}
			for _, r := range c.fail {
				assert.NotEmpty(t, violationsOf(rule, []Resource{r}), "failing fixture %v", r.Props)
			}
			for _, r := range c.unknown {
				assert.Empty(t, violationsOf(rule, []Resource{r}), "a value not known yet is no violation: %v", r.Props)
			}
		})
	}
	assert.Len(t, cases, len(All), "no test case for a rule that does not exist")
}

func TestRules_PodSecurityNamesTheFailedCheck(t *testing.T) {
	t.Parallel()
	var rule Rule
	for _, r := range All {
		if r.Name == "k8s-pod-security-restricted" {
			rule = r
		}
	}
	msgs := rule.Check(workload("apps", containerSpec(m("securityContext", m("runAsNonRoot", true)))))
	require.NotEmpty(t, msgs)
	joined := ""
	for _, s := range msgs {
		joined += s + "\n"
	}
	assert.Contains(t, joined, "allowPrivilegeEscalation != false")
	assert.Contains(t, joined, "unrestricted capabilities")
	assert.Contains(t, joined, "seccompProfile")
}

func TestWaived_MatchesStackAndResource(t *testing.T) {
	t.Parallel()
	urn := "urn:pulumi:dev::progressive-delivery::progressive-delivery:infra:Cluster$eks:index:Cluster$aws:eks/cluster:Cluster::cluster-eks-eksCluster"
	_, ok := Waived("eks-supported-version", urn)
	assert.True(t, ok)
	_, ok = Waived("eks-supported-version", strings.Replace(urn, ":dev::", ":prod::", 1))
	assert.False(t, ok, "waivers are per stack")
	_, ok = Waived("eks-supported-version", "urn:pulumi:dev::progressive-delivery::progressive-delivery:infra:Cluster$eks:index:Cluster::cluster-eks")
	assert.False(t, ok, "waivers are on the resource that carries the value, not the pulumi-eks component")
	_, ok = Waived("eks-secrets-encryption", urn)
	assert.False(t, ok, "waivers are per rule")
}

func TestPack_BuildsEveryRule(t *testing.T) {
	t.Parallel()
	pack, err := Pack()
	require.NoError(t, err)
	assert.Equal(t, PackName, pack.Name())
	assert.Len(t, pack.Policies(), len(All))
	for _, p := range pack.Policies() {
		assert.Contains(t, p.Description(), "[", "%s description carries its source", p.Name())
	}
}

// TestNodeRole_RefreshedRoleCountsEachPolicyOnce: after `pulumi refresh` the AWS provider reads the attached
// policies back into the role's managedPolicyArns, beside the RolePolicyAttachments that attached them.
func TestNodeRole_RefreshedRoleCountsEachPolicyOnce(t *testing.T) {
	t.Parallel()
	refreshed := nodeSet("arn:aws:iam::111111111111:role/node-role-1a2b", nodePolicies...)
	arns := l()
	for _, p := range nodePolicies {
		arns = append(arns, "arn:aws:iam::aws:policy/"+p)
	}
	refreshed[0].Props["managedPolicyArns"] = arns
	assert.Empty(t, checkNodeRoles(refreshed), "each policy counted once")
	refreshed[0].Props["managedPolicyArns"] = append(arns, "arn:aws:iam::aws:policy/AmazonS3FullAccess")
	assert.NotEmpty(t, checkNodeRoles(refreshed), "a policy only the role lists is still found")
}

// TestIRSA_MatchesTheProviderURLAsAWSStoresIt: the OIDC provider's url has no scheme, the issuer has https://.
func TestIRSA_MatchesTheProviderURLAsAWSStoresIt(t *testing.T) {
	t.Parallel()
	const issuer = "https://oidc.eks.us-west-1.amazonaws.com/id/ABC"
	assert.Empty(t, checkIRSA(irsa("", "oidc.eks.us-west-1.amazonaws.com/id/ABC", issuer)))
	assert.NotEmpty(t, checkIRSA(irsa("", "oidc.eks.us-west-1.amazonaws.com/id/OTHER", issuer)))
}
