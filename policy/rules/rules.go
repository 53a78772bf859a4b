// Package rules holds the policy pack's rules as pure functions over a resource's properties, the waivers the dev
// stack takes for fidelity with the walkthrough, and the adapter to Pulumi's policyx package.
package rules

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/progressive-delivery/platform/infra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	corev1 "k8s.io/api/core/v1"
	psapi "k8s.io/pod-security-admission/api"
	pspolicy "k8s.io/pod-security-admission/policy"
)

// Resource is what a rule sees of one resource: its type token, names and properties as plain Go values.
type Resource struct {
	Type, Name, URN, ID string
	Props               map[string]any
}

// Violation is one rule's finding on one resource.
type Violation struct {
	Policy, URN, Message string
}

// Rule is one policy. Exactly one of Check (per resource) and CheckStack (across resources) is set.
type Rule struct {
	Name        string
	Description string
	// Source is the benchmark or guide the rule comes from.
	Source     string
	Level      policyx.EnforcementLevel
	Check      func(Resource) []string
	CheckStack func([]Resource) []Violation
}

// get walks keys and list indexes through plain values.
func get(v any, path ...any) any {
	for _, step := range path {
		switch s := step.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[s]
		case int:
			l, ok := v.([]any)
			if !ok || s >= len(l) {
				return nil
			}
			v = l[s]
		}
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return b == "true"
	}
	return false
}

func strings_(v any) []string {
	var out []string
	for _, e := range asList(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func only(types ...string) func(Resource) bool {
	return func(r Resource) bool { return slices.Contains(types, r.Type) }
}

// forTypes limits a per-resource check to the given types.
func forTypes(match func(Resource) bool, check func(Resource) []string) func(Resource) []string {
	return func(r Resource) []string {
		if !match(r) {
			return nil
		}
		return check(r)
	}
}

func when(bad bool, msg string, args ...any) []string {
	if bad {
		return []string{fmt.Sprintf(msg, args...)}
	}
	return nil
}

const (
	eksComponent = "eks:index:Cluster"
	eksCluster   = "aws:eks/cluster:Cluster"
	ngComponent  = "eks:index:ManagedNodeGroup"
	ngResource   = "aws:eks/nodeGroup:NodeGroup"
	deployment   = "kubernetes:apps/v1:Deployment"
)

// workloadTypes are the Kubernetes kinds that run pods.
var workloadTypes = []string{deployment, "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
	"kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob", "kubernetes:core/v1:Pod"}

// eksSetting reads a cluster setting from either the pulumi-eks component's inputs or the AWS resource it makes.
func eksSetting(r Resource, component []any, resource []any) any {
	if r.Type == eksComponent {
		return get(r.Props, component...)
	}
	return get(r.Props, resource...)
}

var isEKS = only(eksComponent, eksCluster)

// podTemplate returns a workload's pod template, decoded into Kubernetes' own types.
func podTemplate(r Resource) (*corev1.PodTemplateSpec, error) {
	raw := get(r.Props, "spec", "template")
	if r.Type == "kubernetes:core/v1:Pod" {
		raw = map[string]any{"metadata": r.Props["metadata"], "spec": r.Props["spec"]}
	}
	if r.Type == "kubernetes:batch/v1:CronJob" {
		raw = get(r.Props, "spec", "jobTemplate", "spec", "template")
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var t corev1.PodTemplateSpec
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// podSecurity is the evaluator the API server's PodSecurity admission runs, with its default checks.
var podSecurity = sync.OnceValues(func() (pspolicy.Evaluator, error) {
	return pspolicy.NewEvaluator(pspolicy.DefaultChecks(), nil)
})

func containers(r Resource) []corev1.Container {
	t, err := podTemplate(r)
	if err != nil {
		return nil
	}
	return append(append([]corev1.Container{}, t.Spec.InitContainers...), t.Spec.Containers...)
}

var digestOrTag = regexp.MustCompile(`(@sha256:[0-9a-f]{64}$)|(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$)`)

// All is the policy pack's rule set.
var All = []Rule{
	{
		Name: "ecr-scan-on-push", Source: "CKV_AWS_163", Level: policyx.EnforcementLevelMandatory,
		Description: "ECR repositories scan every pushed image for known vulnerabilities.",
		Check: forTypes(only("aws:ecr/repository:Repository"), func(r Resource) []string {
			return when(!truthy(get(r.Props, "imageScanningConfiguration", "scanOnPush")), "scanOnPush is off")
		}),
	},
	{
		Name: "ecr-immutable-tags", Source: "CKV_AWS_51", Level: policyx.EnforcementLevelMandatory,
		Description: "ECR image tags are immutable, so a tag always names the image that was reviewed.",
		Check: forTypes(only("aws:ecr/repository:Repository"), func(r Resource) []string {
			return when(str(r.Props["imageTagMutability"]) != "IMMUTABLE", "imageTagMutability is %q", str(r.Props["imageTagMutability"]))
		}),
	},
	{
		Name: "ecr-kms-encryption", Source: "CKV_AWS_136", Level: policyx.EnforcementLevelMandatory,
		Description: "ECR repositories are encrypted with KMS.",
		Check: forTypes(only("aws:ecr/repository:Repository"), func(r Resource) []string {
			return when(str(get(r.Props, "encryptionConfigurations", 0, "encryptionType")) != "KMS", "encryption type is not KMS")
		}),
	},
	{
		Name: "ecr-lifecycle-keeps-tagged-images", Source: "Amazon ECR User Guide, lifecycle policies", Level: policyx.EnforcementLevelMandatory,
		Description: "Every ECR repository has a lifecycle policy, and it expires only untagged images.",
		CheckStack: func(rs []Resource) []Violation {
			var out []Violation
			policies := map[string][]string{}
			for _, r := range rs {
				if r.Type == "aws:ecr/lifecyclePolicy:LifecyclePolicy" {
					var doc struct {
						Rules []struct {
							Selection struct {
								TagStatus string `json:"tagStatus"`
							} `json:"selection"`
						} `json:"rules"`
					}
					_ = json.Unmarshal([]byte(str(r.Props["policy"])), &doc)
					for _, rule := range doc.Rules {
						policies[str(r.Props["repository"])] = append(policies[str(r.Props["repository"])], rule.Selection.TagStatus)
					}
				}
			}
			for _, r := range rs {
				if r.Type != "aws:ecr/repository:Repository" {
					continue
				}
				statuses, ok := policies[str(r.Props["name"])]
				switch {
				case !ok:
					out = append(out, Violation{URN: r.URN, Message: "no lifecycle policy"})
				case slices.ContainsFunc(statuses, func(s string) bool { return s != "untagged" }):
					out = append(out, Violation{URN: r.URN, Message: "the lifecycle policy can expire tagged images"})
				}
			}
			return out
		},
	},
	{
		Name: "kms-key-rotation", Source: "CKV_AWS_7", Level: policyx.EnforcementLevelMandatory,
		Description: "Customer-managed KMS keys rotate yearly.",
		Check: forTypes(only("aws:kms/key:Key"), func(r Resource) []string {
			return when(!truthy(r.Props["enableKeyRotation"]), "enableKeyRotation is off")
		}),
	},
	{
		Name: "eks-secrets-encryption", Source: "CIS EKS 5.3.1, CKV_AWS_58", Level: policyx.EnforcementLevelMandatory,
		Description: "EKS envelope-encrypts Kubernetes secrets with a KMS key.",
		Check: forTypes(isEKS, func(r Resource) []string {
			set := eksSetting(r, []any{"encryptionConfigKeyArn"}, []any{"encryptionConfig", "resources"})
			return when(set == nil || set == "" || (r.Type == eksCluster && !slices.Contains(strings_(set), "secrets")),
				"secrets are not envelope-encrypted")
		}),
	},
	{
		Name: "eks-control-plane-logging", Source: "CIS EKS 2.1.1, CKV_AWS_37", Level: policyx.EnforcementLevelMandatory,
		Description: "EKS sends all five control-plane log types to CloudWatch.",
		Check: forTypes(isEKS, func(r Resource) []string {
			var missing []string
			for _, t := range infra.AllLogTypes {
				if !slices.Contains(strings_(r.Props["enabledClusterLogTypes"]), t) {
					missing = append(missing, t)
				}
			}
			return when(len(missing) > 0, "log types not enabled: %v", missing)
		}),
	},
	{
		Name: "eks-private-endpoint", Source: "CIS EKS 5.4.2", Level: policyx.EnforcementLevelMandatory,
		Description: "The EKS API endpoint is reachable privately, so nodes talk to it inside the VPC.",
		Check: forTypes(isEKS, func(r Resource) []string {
			return when(!truthy(eksSetting(r, []any{"endpointPrivateAccess"}, []any{"vpcConfig", "endpointPrivateAccess"})),
				"endpointPrivateAccess is off")
		}),
	},
	{
		Name: "eks-public-access-restricted", Source: "CKV_AWS_38, CIS EKS 5.4.2", Level: policyx.EnforcementLevelMandatory,
		Description: "The public EKS endpoint, when on, is limited to known CIDRs, not 0.0.0.0/0.",
		Check: forTypes(isEKS, func(r Resource) []string {
			public := eksSetting(r, []any{"endpointPublicAccess"}, []any{"vpcConfig", "endpointPublicAccess"})
			if public != nil && !truthy(public) {
				return nil
			}
			cidrs := strings_(eksSetting(r, []any{"publicAccessCidrs"}, []any{"vpcConfig", "publicAccessCidrs"}))
			return when(len(cidrs) == 0 || slices.Contains(cidrs, "0.0.0.0/0"), "public endpoint open to %v", cidrs)
		}),
	},
	{
		Name: "eks-irsa", Source: "EKS Best Practices Guide, IAM (IRSA)", Level: policyx.EnforcementLevelMandatory,
		Description: "The cluster has an OIDC provider, so pods get AWS permissions through IRSA, not the node role.",
		CheckStack: func(rs []Resource) []Violation {
			hasProvider := slices.ContainsFunc(rs, func(r Resource) bool { return r.Type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider" })
			var out []Violation
			for _, r := range rs {
				if r.Type == eksComponent && !truthy(r.Props["createOidcProvider"]) && !hasProvider {
					out = append(out, Violation{URN: r.URN, Message: "no OIDC provider for IRSA"})
				}
			}
			return out
		},
	},
	{
		Name: "eks-supported-version", Source: "EKS Best Practices Guide, cluster upgrades; CKV_AWS_339", Level: policyx.EnforcementLevelMandatory,
		Description: "The Kubernetes version is still supported by EKS (standard or extended support).",
		Check: forTypes(isEKS, func(r Resource) []string {
			w := infra.SupportWarning(str(r.Props["version"]), time.Now())
			return when(strings.Contains(w, "past EKS extended support"), "%s", w)
		}),
	},
	{
		Name: "nodes-in-private-subnets", Source: "CIS EKS 5.4.3", Level: policyx.EnforcementLevelMandatory,
		Description: "Worker nodes run in private subnets only.",
		CheckStack: func(rs []Resource) []Violation {
			public := map[string]string{}
			for _, r := range rs {
				if r.Type == "aws:ec2/subnet:Subnet" && truthy(r.Props["mapPublicIpOnLaunch"]) && r.ID != "" {
					public[r.ID] = r.Name
				}
			}
			var out []Violation
			for _, r := range rs {
				if r.Type != ngComponent && r.Type != ngResource {
					continue
				}
				for _, id := range strings_(r.Props["subnetIds"]) {
					if name, ok := public[id]; ok {
						out = append(out, Violation{URN: r.URN, Message: "nodes in public subnet " + name})
					}
				}
			}
			return out
		},
	},
	{
		Name: "private-subnets-no-public-ips", Source: "CKV_AWS_130", Level: policyx.EnforcementLevelMandatory,
		Description: "Private (internal-elb) subnets do not give instances public IPs.",
		Check: forTypes(only("aws:ec2/subnet:Subnet"), func(r Resource) []string {
			private := get(r.Props, "tags", "kubernetes.io/role/internal-elb") != nil
			return when(private && truthy(r.Props["mapPublicIpOnLaunch"]), "private subnet maps public IPs")
		}),
	},
	{
		Name: "launch-template-imdsv2", Source: "CKV_AWS_79", Level: policyx.EnforcementLevelMandatory,
		Description: "Launch templates require IMDSv2 session tokens.",
		Check: forTypes(only("aws:ec2/launchTemplate:LaunchTemplate"), func(r Resource) []string {
			return when(str(get(r.Props, "metadataOptions", "httpTokens")) != "required", "httpTokens is not required")
		}),
	},
	{
		Name: "launch-template-hop-limit", Source: "EKS Best Practices Guide, restrict the instance metadata service", Level: policyx.EnforcementLevelMandatory,
		Description: "The IMDS hop limit is 1, so pods cannot reach the node role's credentials.",
		Check: forTypes(only("aws:ec2/launchTemplate:LaunchTemplate"), func(r Resource) []string {
			limit, _ := get(r.Props, "metadataOptions", "httpPutResponseHopLimit").(float64)
			return when(limit != 1, "httpPutResponseHopLimit is %v", limit)
		}),
	},
	{
		Name: "launch-template-encrypted-volumes", Source: "CKV_AWS_8", Level: policyx.EnforcementLevelMandatory,
		Description: "Node root volumes are encrypted.",
		Check: forTypes(only("aws:ec2/launchTemplate:LaunchTemplate"), func(r Resource) []string {
			var bad []string
			for i, m := range asList(r.Props["blockDeviceMappings"]) {
				if !truthy(get(m, "ebs", "encrypted")) {
					bad = append(bad, fmt.Sprint(i))
				}
			}
			return when(len(bad) > 0, "unencrypted block device mappings %v", bad)
		}),
	},
	{
		Name: "managed-nodes-use-launch-template", Source: "EKS Best Practices Guide, restrict the instance metadata service", Level: policyx.EnforcementLevelMandatory,
		Description: "Managed node groups take their metadata and volume settings from a launch template.",
		Check: forTypes(only(ngComponent, ngResource), func(r Resource) []string {
			return when(get(r.Props, "launchTemplate", "id") == nil && get(r.Props, "launchTemplate", "name") == nil, "no launch template")
		}),
	},
	{
		Name: "node-role-minimal-policies", Source: "EKS Best Practices Guide, IAM (least privilege node role)", Level: policyx.EnforcementLevelMandatory,
		Description: "The node role has exactly AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy and AmazonEC2ContainerRegistryReadOnly.",
		CheckStack: func(rs []Resource) []Violation {
			byURN := map[string]Resource{}
			for _, r := range rs {
				byURN[r.URN] = r
			}
			var out []Violation
			for _, ng := range rs {
				if ng.Type != ngComponent {
					continue
				}
				role, ok := byURN[str(ng.Props["nodeRole"])]
				if !ok {
					continue
				}
				var policies []string
				for _, a := range rs {
					if a.Type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment" && str(a.Props["role"]) == str(role.Props["name"]) {
						arn := str(a.Props["policyArn"])
						policies = append(policies, arn[strings.LastIndex(arn, "/")+1:])
					}
				}
				policies = append(policies, strings_(role.Props["managedPolicyArns"])...)
				slices.Sort(policies)
				want := slices.Sorted(slices.Values(infra.NodePolicies))
				if !slices.Equal(policies, want) {
					out = append(out, Violation{URN: role.URN, Message: fmt.Sprintf("node role policies %v, want exactly %v", policies, want)})
				}
			}
			return out
		},
	},
	{
		Name: "iam-no-admin-or-s3-full-access", Source: "CKV_AWS_274", Level: policyx.EnforcementLevelMandatory,
		Description: "No role gets AdministratorAccess or AmazonS3FullAccess.",
		Check: forTypes(only("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/role:Role"), func(r Resource) []string {
			arns := append(strings_(r.Props["managedPolicyArns"]), str(r.Props["policyArn"]))
			var bad []string
			for _, arn := range arns {
				if strings.HasSuffix(arn, "/AdministratorAccess") || strings.HasSuffix(arn, "/AmazonS3FullAccess") {
					bad = append(bad, arn)
				}
			}
			return when(len(bad) > 0, "over-broad policies %v", bad)
		}),
	},
	{
		Name: "k8s-pod-security-restricted", Source: "Pod Security Standards: restricted (k8s.io/pod-security-admission)", Level: policyx.EnforcementLevelMandatory,
		Description: "Workloads meet the restricted Pod Security Standard, checked by the API server's own evaluator.",
		Check: forTypes(only(workloadTypes...), func(r Resource) []string {
			t, err := podTemplate(r)
			if err != nil {
				return []string{"pod template unreadable: " + err.Error()}
			}
			evaluator, err := podSecurity()
			if err != nil {
				return []string{"pod security evaluator unavailable: " + err.Error()}
			}
			var out []string
			level := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
			for _, res := range evaluator.EvaluatePod(level, &t.ObjectMeta, &t.Spec) {
				if !res.Allowed {
					out = append(out, res.ForbiddenReason+": "+res.ForbiddenDetail)
				}
			}
			return out
		}),
	},
	{
		Name: "k8s-resources", Source: "CKV_K8S_10, CKV_K8S_11, CKV_K8S_12, CKV_K8S_13", Level: policyx.EnforcementLevelMandatory,
		Description: "Every container requests and limits CPU and memory.",
		Check: forTypes(only(workloadTypes...), func(r Resource) []string {
			var out []string
			for _, c := range containers(r) {
				for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					_, req := c.Resources.Requests[res]
					_, lim := c.Resources.Limits[res]
					if !req || !lim {
						out = append(out, fmt.Sprintf("container %s lacks a %s request or limit", c.Name, res))
					}
				}
			}
			return out
		}),
	},
	{
		Name: "k8s-probes", Source: "CKV_K8S_8, CKV_K8S_9", Level: policyx.EnforcementLevelMandatory,
		Description: "Every long-running container has liveness and readiness probes.",
		Check: forTypes(only(deployment, "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet"), func(r Resource) []string {
			var out []string
			for _, c := range containers(r) {
				if c.LivenessProbe == nil || c.ReadinessProbe == nil {
					out = append(out, "container "+c.Name+" lacks a liveness or readiness probe")
				}
			}
			return out
		}),
	},
	{
		Name: "k8s-image-pinned", Source: "CKV_K8S_14", Level: policyx.EnforcementLevelMandatory,
		Description: "Container images carry an explicit tag or digest other than latest.",
		Check: forTypes(only(workloadTypes...), func(r Resource) []string {
			var out []string
			for _, c := range containers(r) {
				if c.Image == "" {
					continue // unknown during preview
				}
				if !digestOrTag.MatchString(c.Image) || strings.HasSuffix(c.Image, ":latest") {
					out = append(out, "container "+c.Name+" image "+c.Image+" is not pinned")
				}
			}
			return out
		}),
	},
	{
		Name: "k8s-no-default-namespace", Source: "CKV_K8S_21", Level: policyx.EnforcementLevelMandatory,
		Description: "Namespaced objects and Helm releases are not in the default namespace.",
		Check: func(r Resource) []string {
			if !strings.HasPrefix(r.Type, "kubernetes:") || r.Type == "kubernetes:core/v1:Namespace" ||
				strings.Contains(r.Type, "CustomResourceDefinition") || strings.Contains(r.Type, ":ClusterRole") {
				return nil
			}
			ns := str(get(r.Props, "metadata", "namespace"))
			if r.Type == "kubernetes:helm.sh/v3:Release" {
				ns = str(r.Props["namespace"])
			}
			return when(ns == "" || ns == "default", "in the default namespace")
		},
	},
	{
		Name: "k8s-serving-pods-have-pdb", Source: "EKS Best Practices Guide, reliability (PodDisruptionBudgets)", Level: policyx.EnforcementLevelMandatory,
		Description: "The pods Flagger serves from (podinfo-primary) are covered by a PodDisruptionBudget.",
		CheckStack: func(rs []Resource) []Violation {
			canaries := 0
			var covered []string
			for _, r := range rs {
				switch r.Type {
				case "kubernetes:flagger.app/v1beta1:Canary":
					canaries++
				case "kubernetes:policy/v1:PodDisruptionBudget":
					covered = append(covered, str(get(r.Props, "spec", "selector", "matchLabels", "app")))
				}
			}
			var out []Violation
			for _, r := range rs {
				if r.Type != "kubernetes:flagger.app/v1beta1:Canary" {
					continue
				}
				primary := str(get(r.Props, "spec", "targetRef", "name")) + "-primary"
				if !slices.Contains(covered, primary) {
					out = append(out, Violation{URN: r.URN, Message: "no PodDisruptionBudget selects app=" + primary})
				}
			}
			return out
		},
	},
}
