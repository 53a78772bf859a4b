package rules

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/progressive-delivery/platform/internal/props"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	corev1 "k8s.io/api/core/v1"
	psapi "k8s.io/pod-security-admission/api"
	pspolicy "k8s.io/pod-security-admission/policy"
)

const (
	deployment = "kubernetes:apps/v1:Deployment"
	canary     = "kubernetes:flagger.app/v1beta1:Canary"
	pdb        = "kubernetes:policy/v1:PodDisruptionBudget"
)

// workloadTypes are the Kubernetes kinds that run pods.
var workloadTypes = []string{deployment, "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
	"kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob", "kubernetes:core/v1:Pod"}

// longRunning are the workload kinds whose containers need probes.
var longRunning = []string{deployment, "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet"}

// notSecurityRelevant are the pod template fields the Pod Security Standards never read, so a value there that is
// not known yet (an image from a registry being created) does not hold the check back.
var notSecurityRelevant = []string{"image", "env", "args", "command", "labels", "annotations", "name", "value"}

var digestOrTag = regexp.MustCompile(`(@sha256:[0-9a-f]{64}$)|(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$)`)

// rawTemplate is a workload's pod template as plain values.
func rawTemplate(r Resource) any {
	switch r.Type {
	case "kubernetes:core/v1:Pod":
		return map[string]any{"metadata": r.Props["metadata"], "spec": r.Props["spec"]}
	case "kubernetes:batch/v1:CronJob":
		return get(r.Props, "spec", "jobTemplate", "spec", "template")
	}
	return get(r.Props, "spec", "template")
}

// podTemplate decodes a workload's pod template into Kubernetes' own types, values not known yet left out.
func podTemplate(r Resource) (*corev1.PodTemplateSpec, error) {
	b, err := json.Marshal(withoutUnknowns(rawTemplate(r)))
	if err != nil {
		return nil, err
	}
	var t corev1.PodTemplateSpec
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

func withoutUnknowns(v any) any {
	switch t := v.(type) {
	case props.Unknown:
		return nil
	case map[string]any:
		out := map[string]any{}
		for k, e := range t {
			out[k] = withoutUnknowns(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = withoutUnknowns(e)
		}
		return out
	}
	return v
}

// unknownOutside reports a value not known yet under a key other than the given ones.
func unknownOutside(v any, key string, keys []string) bool {
	switch t := v.(type) {
	case props.Unknown:
		return !slices.Contains(keys, key)
	case map[string]any:
		for k, e := range t {
			if !slices.Contains(keys, k) && unknownOutside(e, k, keys) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if unknownOutside(e, key, keys) {
				return true
			}
		}
	}
	return false
}

// container is one container of a pod template, typed, with its plain values beside it.
type container struct {
	corev1.Container
	raw any
}

func containers(r Resource) []container {
	t, err := podTemplate(r)
	if err != nil {
		return nil
	}
	spec := get(rawTemplate(r), "spec")
	var out []container
	for i, c := range t.Spec.InitContainers {
		out = append(out, container{c, get(spec, "initContainers", i)})
	}
	for i, c := range t.Spec.Containers {
		out = append(out, container{c, get(spec, "containers", i)})
	}
	return out
}

// podSecurity is the evaluator the API server's PodSecurity admission runs, with its default checks.
var podSecurity = sync.OnceValues(func() (pspolicy.Evaluator, error) {
	return pspolicy.NewEvaluator(pspolicy.DefaultChecks(), nil)
})

var kubernetesRules = []Rule{
	{
		Name: "k8s-pod-security-restricted", Source: "Pod Security Standards: restricted (k8s.io/pod-security-admission)", Level: policyx.EnforcementLevelMandatory,
		Description: "Workloads meet the restricted Pod Security Standard, checked by the API server's own evaluator.",
		Check:       forTypes(only(workloadTypes...), checkPodSecurity),
	},
	{
		Name: "k8s-resources", Source: "CKV_K8S_10, CKV_K8S_11, CKV_K8S_12, CKV_K8S_13", Level: policyx.EnforcementLevelMandatory,
		Description: "Every container requests and limits CPU and memory, itself or through its namespace's LimitRange defaults.",
		CheckStack:  checkContainerResources,
	},
	{
		Name: "k8s-probes", Source: "CKV_K8S_8, CKV_K8S_9", Level: policyx.EnforcementLevelMandatory,
		Description: "Every long-running container has liveness and readiness probes.",
		Check: forTypes(only(longRunning...), func(r Resource) []string {
			var out []string
			for _, c := range containers(r) {
				if !unknown(get(c.raw, "livenessProbe"), get(c.raw, "readinessProbe")) && (c.LivenessProbe == nil || c.ReadinessProbe == nil) {
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
				if unknown(get(c.raw, "image")) {
					continue
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
			// A ConfigFile is a component; what it installs here (CRDs) is cluster-scoped.
			if !strings.HasPrefix(r.Type, "kubernetes:") || r.Type == "kubernetes:core/v1:Namespace" || r.Type == configFile ||
				strings.Contains(r.Type, "CustomResourceDefinition") || strings.Contains(r.Type, ":ClusterRole") {
				return nil
			}
			ns := get(r.Props, "metadata", "namespace")
			if r.Type == "kubernetes:helm.sh/v3:Release" {
				ns = r.Props["namespace"]
			}
			return when(!unknown(ns) && (str(ns) == "" || ns == "default"), "in the default namespace")
		},
	},
	{
		Name: "k8s-serving-pods-have-pdb", Source: "EKS Best Practices Guide, reliability (PodDisruptionBudgets)", Level: policyx.EnforcementLevelMandatory,
		Description: "The pods Flagger serves from (podinfo-primary) are covered by a PodDisruptionBudget.",
		CheckStack:  checkCanaryPDBs,
	},
}

func checkPodSecurity(r Resource) []string {
	if unknownOutside(rawTemplate(r), "", notSecurityRelevant) {
		return nil
	}
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
}

// checkCanaryPDBs requires a PodDisruptionBudget selecting app=<target>-primary for each Canary.
func checkCanaryPDBs(rs []Resource) []Violation {
	var covered []any
	for _, r := range ofType(rs, pdb) {
		covered = append(covered, get(r.Props, "spec", "selector", "matchLabels", "app"))
	}
	if unknown(covered...) {
		return nil
	}
	var out []Violation
	for _, c := range ofType(rs, canary) {
		target := get(c.Props, "spec", "targetRef", "name")
		if unknown(target) {
			continue
		}
		if primary := str(target) + "-primary"; !slices.Contains(covered, any(primary)) {
			out = append(out, Violation{URN: c.URN, Message: "no PodDisruptionBudget selects app=" + primary})
		}
	}
	return out
}

// checkContainerResources finds containers without a CPU or memory request or limit. What a container leaves out,
// the API server sets at admission from its namespace's LimitRange (a Container item's defaultRequest and default),
// and a missing request from the container's own limit, so only what neither gives is a violation.
func checkContainerResources(rs []Resource) []Violation {
	defaults := map[string]map[string]bool{}
	for _, lr := range ofType(rs, limitRange) {
		ns, items := get(lr.Props, "metadata", "namespace"), get(lr.Props, "spec", "limits")
		if unknown(ns, items) {
			return nil
		}
		for _, item := range asList(items) {
			if str(get(item, "type")) != "Container" {
				continue
			}
			for kind, field := range map[string]string{"requests": "defaultRequest", "limits": "default"} {
				for _, res := range []string{"cpu", "memory"} {
					if get(item, field, res) != nil {
						if defaults[str(ns)] == nil {
							defaults[str(ns)] = map[string]bool{}
						}
						defaults[str(ns)][kind+"."+res] = true
					}
				}
			}
		}
	}
	var out []Violation
	for _, r := range rs {
		if !slices.Contains(workloadTypes, r.Type) {
			continue
		}
		ns := get(r.Props, "metadata", "namespace")
		for _, c := range containers(r) {
			if unknown(get(c.raw, "resources")) {
				continue
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				_, lim := c.Resources.Limits[res]
				_, req := c.Resources.Requests[res]
				if (lim || defaults[str(ns)]["limits."+string(res)]) && (req || lim || defaults[str(ns)]["requests."+string(res)]) {
					continue
				}
				if unknown(ns) {
					continue
				}
				out = append(out, Violation{URN: r.URN, Message: "container " + c.Name + " lacks a " + string(res) +
					" request or limit, and its namespace " + str(ns) + " has no LimitRange default for it"})
			}
		}
	}
	return out
}
