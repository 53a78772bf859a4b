package workloads

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/progressive-delivery/platform/manifests"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// LoadTesterName names the load tester Deployment and Service of a namespace.
const LoadTesterName = "flagger-loadtester"

// Workload is what a service's Deployment runs, besides its image and its release (manifests.Service).
type Workload struct {
	// ContainerName names the one container; default the service's name.
	ContainerName string
	// MetricsPort is scraped by Prometheus; equal to the service's port, it adds no port of its own.
	MetricsPort int32
	// ExtraPorts are further named container ports.
	ExtraPorts map[string]int32
	// ReadinessPath and LivenessPath are the probes' HTTP paths. With ProbeCommand the probes run that command
	// with localhost:<port><path> appended, instead of an HTTP GET.
	ReadinessPath, LivenessPath string
	ProbeCommand                []string
	// Command and Args replace the image's entrypoint and arguments when set.
	Command, Args []string
	Env           map[string]string
	// RunAsUser is the container's user; 0 keeps the image's own (which must be non-root).
	RunAsUser int
	// Requests and Limits are cpu and memory quantities.
	Requests, Limits map[string]string
	// MinReplicas, MaxReplicas and CPUUtilization are the HPA's.
	MinReplicas, MaxReplicas, CPUUtilization int
	// MaxUnavailable is the rolling update's.
	MaxUnavailable int
}

// ProgressDeadlineSeconds is how long a service's Deployment may make no progress before the deployment controller
// reports it stuck; Flagger then rolls back a canary whose pods never start (a quota refusing them, say) at once.
const ProgressDeadlineSeconds = 60

// restricted is the container security context of the Pod Security Standards "restricted" profile: non-root,
// no privilege escalation, no capabilities, the runtime's default seccomp profile, a read-only root filesystem.
// A uid of 0 keeps the image's own user, which runAsNonRoot still requires not to be root.
func restricted(uid int) *corev1.SecurityContextArgs {
	var user pulumi.IntPtrInput
	if uid != 0 {
		user = pulumi.IntPtr(uid)
	}
	return &corev1.SecurityContextArgs{
		RunAsNonRoot:             pulumi.Bool(true),
		RunAsUser:                user,
		AllowPrivilegeEscalation: pulumi.Bool(false),
		ReadOnlyRootFilesystem:   pulumi.Bool(true),
		Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.ToStringArray([]string{"ALL"})},
		SeccompProfile:           &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

// tmpVolume is a writable /tmp on an otherwise read-only root filesystem.
var (
	tmpVolume      = corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}}
	tmpVolumeMount = corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")}
)

// probe is a readiness or liveness check of the service's HTTP port: an HTTP GET, or the workload's probe
// command (podinfo's podcli) given the same address.
func (w *Workload) probe(port int32, path string) *corev1.ProbeArgs {
	p := &corev1.ProbeArgs{InitialDelaySeconds: pulumi.Int(5), TimeoutSeconds: pulumi.Int(5)}
	if len(w.ProbeCommand) > 0 {
		cmd := append(slices.Clone(w.ProbeCommand), fmt.Sprintf("localhost:%d%s", port, path))
		p.Exec = &corev1.ExecActionArgs{Command: pulumi.ToStringArray(cmd)}
	} else {
		p.HttpGet = &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.Int(int(port))}
	}
	return p
}

// ports are the container's ports: http, http-metrics when metrics have a port of their own, then the extra
// ports by name.
func (w *Workload) ports(port int32) corev1.ContainerPortArray {
	tcp := func(name string, n int32) corev1.ContainerPortArgs {
		return corev1.ContainerPortArgs{Name: pulumi.String(name), ContainerPort: pulumi.Int(int(n)), Protocol: pulumi.String("TCP")}
	}
	out := corev1.ContainerPortArray{tcp("http", port)}
	if w.MetricsPort != 0 && w.MetricsPort != port {
		out = append(out, tcp("http-metrics", w.MetricsPort))
	}
	for _, name := range slices.Sorted(maps.Keys(w.ExtraPorts)) {
		out = append(out, tcp(name, w.ExtraPorts[name]))
	}
	return out
}

// ServiceDeployment is a service's Deployment. It has no replicas field (the HPA and Flagger own the count) and
// skips Pulumi's readiness wait: once Flagger takes over it scales this Deployment to zero and serves from
// <name>-primary, so its pods are never the thing to wait for.
func ServiceDeployment(s *manifests.Service, w *Workload, namespace, image pulumi.StringInput) *appsv1.DeploymentArgs {
	labels := pulumi.StringMap{"app": pulumi.String(s.Name)}
	var env corev1.EnvVarArray
	for _, k := range slices.Sorted(maps.Keys(w.Env)) {
		env = append(env, corev1.EnvVarArgs{Name: pulumi.String(k), Value: pulumi.String(w.Env[k])})
	}
	metricsPort := cmp.Or(w.MetricsPort, s.Port)
	container := corev1.ContainerArgs{
		Name:            pulumi.String(cmp.Or(w.ContainerName, s.Name)),
		Image:           image,
		ImagePullPolicy: pulumi.String("IfNotPresent"),
		Ports:           w.ports(s.Port),
		Env:             env,
		LivenessProbe:   w.probe(s.Port, w.LivenessPath),
		ReadinessProbe:  w.probe(s.Port, w.ReadinessPath),
		Resources: &corev1.ResourceRequirementsArgs{
			Requests: pulumi.ToStringMap(w.Requests),
			Limits:   pulumi.ToStringMap(w.Limits),
		},
		SecurityContext: restricted(w.RunAsUser),
		VolumeMounts:    corev1.VolumeMountArray{tmpVolumeMount},
	}
	if len(w.Command) > 0 {
		container.Command = pulumi.ToStringArray(w.Command)
	}
	if len(w.Args) > 0 {
		container.Args = pulumi.ToStringArray(w.Args)
	}
	return &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String(s.Name),
			Namespace:   namespace,
			Labels:      labels,
			Annotations: pulumi.StringMap{"pulumi.com/skipAwait": pulumi.String("true")},
		},
		Spec: &appsv1.DeploymentSpecArgs{
			MinReadySeconds:         pulumi.Int(5),
			RevisionHistoryLimit:    pulumi.Int(5),
			ProgressDeadlineSeconds: pulumi.Int(ProgressDeadlineSeconds),
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type:          pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxUnavailable: pulumi.Int(w.MaxUnavailable)},
			},
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels: labels,
					Annotations: pulumi.StringMap{
						"prometheus.io/scrape": pulumi.String("true"),
						"prometheus.io/port":   pulumi.Sprintf("%d", metricsPort),
					},
				},
				Spec: &corev1.PodSpecArgs{
					Containers: corev1.ContainerArray{container},
					Volumes:    corev1.VolumeArray{tmpVolume},
				},
			},
		},
	}
}

// ServiceHPA scales a service between its minimum and maximum replicas at its CPU target. Flagger copies it as
// <name>-primary's HPA.
func ServiceHPA(s *manifests.Service, w *Workload, namespace pulumi.StringInput, target *appsv1.Deployment) *autoscalingv2.HorizontalPodAutoscalerArgs {
	return &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(s.Name), Namespace: namespace},
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
			ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
				ApiVersion: pulumi.String("apps/v1"),
				Kind:       pulumi.String("Deployment"),
				Name:       target.Metadata.Name().Elem(),
			},
			MinReplicas: pulumi.Int(w.MinReplicas),
			MaxReplicas: pulumi.Int(w.MaxReplicas),
			Metrics: autoscalingv2.MetricSpecArray{autoscalingv2.MetricSpecArgs{
				Type: pulumi.String("Resource"),
				Resource: &autoscalingv2.ResourceMetricSourceArgs{
					Name: pulumi.String("cpu"),
					Target: &autoscalingv2.MetricTargetArgs{
						Type:               pulumi.String("Utilization"),
						AverageUtilization: pulumi.Int(w.CPUUtilization),
					},
				},
			}},
		},
	}
}

// ServicePDB keeps one serving pod through voluntary disruptions (node drains, upgrades). Once Flagger takes
// over, the pods that serve are <name>-primary's (label app=<name>-primary), so that is what it selects.
func ServicePDB(s *manifests.Service, namespace pulumi.StringInput) *policyv1.PodDisruptionBudgetArgs {
	return &policyv1.PodDisruptionBudgetArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(s.Name), Namespace: namespace},
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MinAvailable: pulumi.Int(1),
			Selector:     &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String(s.Name + "-primary")}},
		},
	}
}

// LoadTesterDeployment is Flagger's load tester, which runs the Canary's webhooks.
func LoadTesterDeployment(namespace pulumi.StringInput, image string) *appsv1.DeploymentArgs {
	labels := pulumi.StringMap{"app": pulumi.String(LoadTesterName)}
	probe := func() *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			Exec: &corev1.ExecActionArgs{Command: pulumi.ToStringArray([]string{
				"wget", "--quiet", "--tries=1", "--timeout=4", "--spider", "http://localhost:8080/healthz",
			})},
			TimeoutSeconds: pulumi.Int(5),
		}
	}
	return &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(LoadTesterName), Namespace: namespace, Labels: labels},
		Spec: &appsv1.DeploymentSpecArgs{
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels: labels,
					// As the walkthrough's tester: Prometheus scrapes its metrics on the HTTP port.
					Annotations: pulumi.StringMap{"prometheus.io/scrape": pulumi.String("true"), "prometheus.io/port": pulumi.String("8080")},
				},
				Spec: &corev1.PodSpecArgs{
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String("loadtester"),
						Image:           pulumi.String(image),
						ImagePullPolicy: pulumi.String("IfNotPresent"),
						Ports: corev1.ContainerPortArray{
							corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(8080)},
						},
						Command:        pulumi.ToStringArray([]string{"./loadtester", "-port=8080", "-log-level=info", "-timeout=1h"}),
						LivenessProbe:  probe(),
						ReadinessProbe: probe(),
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("10m"), "memory": pulumi.String("32Mi")},
							Limits:   pulumi.StringMap{"cpu": pulumi.String("1000m"), "memory": pulumi.String("512Mi")},
						},
						SecurityContext: restricted(10001),
						VolumeMounts:    corev1.VolumeMountArray{tmpVolumeMount},
					}},
					Volumes: corev1.VolumeArray{tmpVolume},
				},
			},
		},
	}
}

// LoadTesterService exposes the load tester at http://flagger-loadtester.<namespace>/.
func LoadTesterService(namespace pulumi.StringInput) *corev1.ServiceArgs {
	return &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(LoadTesterName),
			Namespace: namespace,
			Labels:    pulumi.StringMap{"app": pulumi.String(LoadTesterName)},
		},
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: pulumi.StringMap{"app": pulumi.String(LoadTesterName)},
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name:       pulumi.String("http"),
				Port:       pulumi.Int(80),
				Protocol:   pulumi.String("TCP"),
				TargetPort: pulumi.String("http"),
			}},
		},
	}
}
