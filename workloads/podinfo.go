package workloads

import (
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PodinfoName names the podinfo Deployment, its HPA and the Canary; Flagger derives podinfo-primary and the
// podinfo, podinfo-canary and podinfo-primary Services from it.
const PodinfoName = "podinfo"

// LoadTesterName names the load tester Deployment and Service.
const LoadTesterName = "flagger-loadtester"

// PodinfoCommand is podinfo's command line as the walkthrough runs it.
var PodinfoCommand = []string{
	"./podinfo", "--port=9898", "--port-metrics=9797", "--grpc-port=9999", "--grpc-service-name=podinfo",
	"--level=info", "--random-delay=false", "--random-error=false",
}

// restricted is the container security context of the Pod Security Standards "restricted" profile: non-root,
// no privilege escalation, no capabilities, the runtime's default seccomp profile, a read-only root filesystem.
func restricted(uid int) *corev1.SecurityContextArgs {
	return &corev1.SecurityContextArgs{
		RunAsNonRoot:             pulumi.Bool(true),
		RunAsUser:                pulumi.Int(uid),
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

// podinfoUID is the image's own "app" user (alpine adduser -S), so file ownership in the image still holds.
const podinfoUID = 100

func execProbe(path string) *corev1.ProbeArgs {
	return &corev1.ProbeArgs{
		Exec:                &corev1.ExecActionArgs{Command: pulumi.ToStringArray([]string{"podcli", "check", "http", "localhost:9898/" + path})},
		InitialDelaySeconds: pulumi.Int(5),
		TimeoutSeconds:      pulumi.Int(5),
	}
}

// PodinfoDeployment is the walkthrough's podinfo Deployment. It has no replicas field (the HPA and Flagger own the
// count) and skips Pulumi's readiness wait: once Flagger takes over it scales this Deployment to zero and serves
// from podinfo-primary, so its pods are never the thing to wait for.
func PodinfoDeployment(namespace pulumi.StringInput, image pulumi.StringInput) *appsv1.DeploymentArgs {
	labels := pulumi.StringMap{"app": pulumi.String(PodinfoName)}
	return &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String(PodinfoName),
			Namespace:   namespace,
			Labels:      labels,
			Annotations: pulumi.StringMap{"pulumi.com/skipAwait": pulumi.String("true")},
		},
		Spec: &appsv1.DeploymentSpecArgs{
			MinReadySeconds:         pulumi.Int(5),
			RevisionHistoryLimit:    pulumi.Int(5),
			ProgressDeadlineSeconds: pulumi.Int(60),
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type:          pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxUnavailable: pulumi.Int(1)},
			},
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels: labels,
					Annotations: pulumi.StringMap{
						"prometheus.io/scrape": pulumi.String("true"),
						"prometheus.io/port":   pulumi.Sprintf("%d", podinfoMetricsPort),
					},
				},
				Spec: &corev1.PodSpecArgs{
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String("podinfod"),
						Image:           image,
						ImagePullPolicy: pulumi.String("IfNotPresent"),
						Ports: corev1.ContainerPortArray{
							corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(podinfoHTTPPort), Protocol: pulumi.String("TCP")},
							corev1.ContainerPortArgs{Name: pulumi.String("http-metrics"), ContainerPort: pulumi.Int(podinfoMetricsPort), Protocol: pulumi.String("TCP")},
							corev1.ContainerPortArgs{Name: pulumi.String("grpc"), ContainerPort: pulumi.Int(podinfoGRPCPort), Protocol: pulumi.String("TCP")},
						},
						Command: pulumi.ToStringArray(PodinfoCommand),
						Env: corev1.EnvVarArray{
							corev1.EnvVarArgs{Name: pulumi.String("PODINFO_UI_COLOR"), Value: pulumi.String("#34577c")},
						},
						LivenessProbe:  execProbe("healthz"),
						ReadinessProbe: execProbe("readyz"),
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("100m"), "memory": pulumi.String("64Mi")},
							Limits:   pulumi.StringMap{"cpu": pulumi.String("2000m"), "memory": pulumi.String("512Mi")},
						},
						SecurityContext: restricted(podinfoUID),
						VolumeMounts:    corev1.VolumeMountArray{tmpVolumeMount},
					}},
					Volumes: corev1.VolumeArray{tmpVolume},
				},
			},
		},
	}
}

// PodinfoHPA scales podinfo between 2 and 4 replicas at 99 % CPU. Flagger copies it as podinfo-primary's HPA.
func PodinfoHPA(namespace pulumi.StringInput, target *appsv1.Deployment) *autoscalingv2.HorizontalPodAutoscalerArgs {
	return &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(PodinfoName), Namespace: namespace},
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
			ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
				ApiVersion: pulumi.String("apps/v1"),
				Kind:       pulumi.String("Deployment"),
				Name:       target.Metadata.Name().Elem(),
			},
			MinReplicas: pulumi.Int(2),
			MaxReplicas: pulumi.Int(4),
			Metrics: autoscalingv2.MetricSpecArray{autoscalingv2.MetricSpecArgs{
				Type: pulumi.String("Resource"),
				Resource: &autoscalingv2.ResourceMetricSourceArgs{
					Name: pulumi.String("cpu"),
					Target: &autoscalingv2.MetricTargetArgs{
						Type:               pulumi.String("Utilization"),
						AverageUtilization: pulumi.Int(99),
					},
				},
			}},
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

// PodinfoPDB keeps one serving pod through voluntary disruptions (node drains, upgrades). Once Flagger takes
// over, the pods that serve are podinfo-primary's (label app=podinfo-primary), so that is what it selects.
func PodinfoPDB(namespace pulumi.StringInput) *policyv1.PodDisruptionBudgetArgs {
	return &policyv1.PodDisruptionBudgetArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(PodinfoName), Namespace: namespace},
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MinAvailable: pulumi.Int(1),
			Selector:     &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String(PodinfoName + "-primary")}},
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
