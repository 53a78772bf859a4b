package rules

import (
	"testing"

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

func repo(mutability string, scan bool, encryption string) Resource {
	return res("aws:ecr/repository:Repository", "repo", m("name", "podinfo", "imageTagMutability", mutability,
		"imageScanningConfiguration", m("scanOnPush", scan), "encryptionConfigurations", l(m("encryptionType", encryption))))
}

func eksComp(props map[string]any) Resource {
	base := m("version", "1.33", "encryptionConfigKeyArn", "arn:aws:kms:key", "enabledClusterLogTypes",
		l("api", "audit", "authenticator", "controllerManager", "scheduler"), "endpointPrivateAccess", true,
		"endpointPublicAccess", true, "publicAccessCidrs", l("203.0.113.0/24"), "createOidcProvider", true)
	for k, v := range props {
		base[k] = v
	}
	return res(eksComponent, "cluster-eks", base)
}

func container(extra map[string]any) map[string]any {
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

func workload(ns string, c map[string]any) Resource {
	return res(deployment, "app", m("metadata", m("name", "app", "namespace", ns),
		"spec", m("template", m("metadata", m("labels", m("app", "app")), "spec", m("containers", l(c))))))
}

func launchTemplate(tokens string, hop float64, encrypted string) Resource {
	return res("aws:ec2/launchTemplate:LaunchTemplate", "lt", m("metadataOptions", m("httpTokens", tokens, "httpPutResponseHopLimit", hop),
		"blockDeviceMappings", l(m("ebs", m("encrypted", encrypted)))))
}

func nodeSet(policies ...string) []Resource {
	role := res("aws:iam/role:Role", "node-role", m("name", "node-role"))
	out := []Resource{role, res(ngComponent, "nodes", m("nodeRole", role.URN))}
	for _, p := range policies {
		out = append(out, res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "attach-"+p, m("role", "node-role", "policyArn", "arn:aws:iam::aws:policy/"+p)))
	}
	return out
}

func subnets(publicNodes bool) []Resource {
	public := res("aws:ec2/subnet:Subnet", "public-a", m("mapPublicIpOnLaunch", true))
	private := res("aws:ec2/subnet:Subnet", "private-a", m())
	use := private.ID
	if publicNodes {
		use = public.ID
	}
	return []Resource{public, private, res(ngComponent, "nodes", m("subnetIds", l(use)))}
}

func canaryWithPDB(selector string) []Resource {
	out := []Resource{res("kubernetes:flagger.app/v1beta1:Canary", "canary", m("spec", m("targetRef", m("name", "podinfo"))))}
	if selector != "" {
		out = append(out, res("kubernetes:policy/v1:PodDisruptionBudget", "pdb", m("spec", m("selector", m("matchLabels", m("app", selector))))))
	}
	return out
}

func lifecycle(status string) []Resource {
	return []Resource{repo("IMMUTABLE", true, "KMS"), res("aws:ecr/lifecyclePolicy:LifecyclePolicy", "lc", m("repository", "podinfo",
		"policy", `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"`+status+`","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`))}
}

// cases holds, for every rule, resources it accepts and resources it rejects.
var cases = map[string]struct{ pass, fail []Resource }{
	"ecr-scan-on-push":                  {[]Resource{repo("IMMUTABLE", true, "KMS")}, []Resource{repo("IMMUTABLE", false, "KMS")}},
	"ecr-immutable-tags":                {[]Resource{repo("IMMUTABLE", true, "KMS")}, []Resource{repo("MUTABLE", true, "KMS")}},
	"ecr-kms-encryption":                {[]Resource{repo("IMMUTABLE", true, "KMS")}, []Resource{repo("IMMUTABLE", true, "AES256")}},
	"ecr-lifecycle-keeps-tagged-images": {lifecycle("untagged"), lifecycle("any")},
	"kms-key-rotation": {[]Resource{res("aws:kms/key:Key", "k", m("enableKeyRotation", true))},
		[]Resource{res("aws:kms/key:Key", "k", m("enableKeyRotation", false))}},
	"eks-secrets-encryption": {[]Resource{eksComp(nil), res(eksCluster, "c", m("encryptionConfig", m("resources", l("secrets"))))},
		[]Resource{eksComp(m("encryptionConfigKeyArn", nil)), res(eksCluster, "c", m())}},
	"eks-control-plane-logging": {[]Resource{eksComp(nil)}, []Resource{eksComp(m("enabledClusterLogTypes", l("api")))}},
	"eks-private-endpoint": {[]Resource{eksComp(nil), res(eksCluster, "c", m("vpcConfig", m("endpointPrivateAccess", true)))},
		[]Resource{eksComp(m("endpointPrivateAccess", false))}},
	"eks-public-access-restricted": {[]Resource{eksComp(nil), eksComp(m("endpointPublicAccess", false, "publicAccessCidrs", nil))},
		[]Resource{eksComp(m("publicAccessCidrs", l("0.0.0.0/0"))), eksComp(m("publicAccessCidrs", nil))}},
	"eks-irsa":                 {[]Resource{eksComp(nil)}, []Resource{eksComp(m("createOidcProvider", false))}},
	"eks-supported-version":    {[]Resource{eksComp(nil)}, []Resource{eksComp(m("version", "1.24"))}},
	"nodes-in-private-subnets": {subnets(false), subnets(true)},
	"private-subnets-no-public-ips": {[]Resource{res("aws:ec2/subnet:Subnet", "p", m("tags", m("kubernetes.io/role/internal-elb", "1")))},
		[]Resource{res("aws:ec2/subnet:Subnet", "p", m("tags", m("kubernetes.io/role/internal-elb", "1"), "mapPublicIpOnLaunch", true))}},
	"launch-template-imdsv2":            {[]Resource{launchTemplate("required", 1, "true")}, []Resource{launchTemplate("optional", 1, "true")}},
	"launch-template-hop-limit":         {[]Resource{launchTemplate("required", 1, "true")}, []Resource{launchTemplate("required", 2, "true")}},
	"launch-template-encrypted-volumes": {[]Resource{launchTemplate("required", 1, "true")}, []Resource{launchTemplate("required", 1, "false")}},
	"managed-nodes-use-launch-template": {[]Resource{res(ngComponent, "n", m("launchTemplate", m("id", "lt-1")))},
		[]Resource{res(ngComponent, "n", m("diskSize", 100.0))}},
	"node-role-minimal-policies": {nodeSet("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"),
		nodeSet("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly", "AmazonS3FullAccess")},
	"iam-no-admin-or-s3-full-access": {[]Resource{res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", m("policyArn", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"))},
		[]Resource{res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", m("policyArn", "arn:aws:iam::aws:policy/AmazonS3FullAccess")),
			res("aws:iam/role:Role", "r", m("managedPolicyArns", l("arn:aws:iam::aws:policy/AdministratorAccess")))}},
	"k8s-pod-security-restricted": {[]Resource{workload("apps", container(nil))},
		[]Resource{workload("apps", container(m("securityContext", m("privileged", true)))), workload("apps", container(m("securityContext", nil)))}},
	"k8s-resources": {[]Resource{workload("apps", container(nil))}, []Resource{workload("apps", container(m("resources", m("requests", m("cpu", "1")))))}},
	"k8s-probes":    {[]Resource{workload("apps", container(nil))}, []Resource{workload("apps", container(m("livenessProbe", nil)))}},
	"k8s-image-pinned": {[]Resource{workload("apps", container(nil)), workload("apps", container(m("image", "ghcr.io/x/app@sha256:"+repeat64())))},
		[]Resource{workload("apps", container(m("image", "ghcr.io/x/app:latest"))), workload("apps", container(m("image", "ghcr.io/x/app")))}},
	"k8s-no-default-namespace": {[]Resource{workload("apps", container(nil)), res("kubernetes:helm.sh/v3:Release", "r", m("namespace", "gloo-system"))},
		[]Resource{workload("default", container(nil)), workload("", container(nil)), res("kubernetes:helm.sh/v3:Release", "r", m())}},
	"k8s-serving-pods-have-pdb": {canaryWithPDB("podinfo-primary"), canaryWithPDB("podinfo")},
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
			if rule.CheckStack != nil {
				assert.NotEmpty(t, violationsOf(rule, c.fail), "failing fixture")
				return
			}
			for _, r := range c.fail {
				assert.NotEmpty(t, violationsOf(rule, []Resource{r}), "failing fixture %v", r.Props)
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
	msgs := rule.Check(workload("apps", container(m("securityContext", m("runAsNonRoot", true)))))
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
	urn := "urn:pulumi:dev::progressive-delivery::progressive-delivery:infra:Cluster$eks:index:Cluster::cluster-eks"
	_, ok := Waived("eks-supported-version", urn)
	assert.True(t, ok)
	_, ok = Waived("eks-supported-version", "urn:pulumi:prod::progressive-delivery::progressive-delivery:infra:Cluster$eks:index:Cluster::cluster-eks")
	assert.False(t, ok, "waivers are per stack")
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
