//go:build e2e

package tests

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestSimCluster_PodWaitsForItsConfigMap: a pod whose ConfigMap volume does not exist yet waits, saying why, and
// starts once the ConfigMap is created, as the kubelet retries a pod's sync. The same retry brings back a pod whose
// service-account token could not be had while the API server was away (the faults tests' case, where a canary
// pod given up then stayed Pending and its canary never finished).
func TestSimCluster_PodWaitsForItsConfigMap(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	admitted := scaled(refPodsReady, "the namespace's default service account")
	waiting := scaled(refPodsReady, "the pod scheduled and prepared")
	// The retries back off to 10 s, as the kubelet's do (to minutes there).
	started := scaled(10*time.Second+refPodsReady, "the last retry's 10 s + pods ready")
	ctx, cluster := inNewNamespace(t, tools, admitted.plus(waiting).plus(started), "late-config")
	ns := cluster.ns

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: ns},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "app", Image: "ghcr.io/stefanprodan/podinfo:6.0.0",
				Args:         []string{"--config-path=/etc/late-config"},
				Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 9898}},
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/late-config"}},
				ReadinessProbe: &corev1.Probe{PeriodSeconds: 2, ProbeHandler: corev1.ProbeHandler{
					HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(9898)}}},
			}},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "late"}}}}},
		},
	}
	// Admission refuses pods until the namespace's default service account exists.
	require.Eventually(t, func() bool {
		_, err := cluster.Core.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		return err == nil
	}, admitted.d, 200*time.Millisecond, "the pod is admitted within %s", admitted)

	state := func() (waiting *corev1.ContainerStateWaiting, ready bool) {
		p, err := cluster.Core.CoreV1().Pods(ns).Get(ctx, "podinfo", metav1.GetOptions{})
		require.NoError(t, err)
		for _, cs := range p.Status.ContainerStatuses {
			waiting = cs.State.Waiting
		}
		return waiting, podReady(p)
	}
	require.Eventually(t, func() bool {
		w, _ := state()
		return w != nil && w.Reason == "CreateContainerConfigError"
	}, waiting.d, 200*time.Millisecond, "the pod waits for its ConfigMap within %s", waiting)
	w, ready := state()
	require.Contains(t, w.Message, `configmaps "late" not found`, "the pod says what it waits for")
	require.False(t, ready)

	_, err := cluster.Core.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: ns}, Data: map[string]string{"message": "here now"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	created := time.Now()
	require.Eventually(t, func() bool {
		w, ready := state()
		return w == nil && ready
	}, started.d, 200*time.Millisecond, "the pod starts once its ConfigMap exists, within %s", started)
	t.Logf("the pod was Ready %s after its ConfigMap was created", time.Since(created).Round(100*time.Millisecond))
}
