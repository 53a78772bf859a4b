//go:build e2e

package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/progressive-delivery/platform/internal/syncbuf"
	"github.com/progressive-delivery/platform/rollout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// TestSimCluster_RolloutBadInput follows three canaries the real Flagger cannot complete: one whose targetRef
// names no Deployment, one that no traffic reaches (so the Flagger chart's Prometheus has no samples for it), and
// one whose new pods never become ready (podinfo's own --unready, seen by the pods' readiness probes). The rollout
// watch ends each with Flagger's own words and a non-zero exit, within its --timeout.
func TestSimCluster_RolloutBadInput(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	const ns = "bad-input"
	const progressDeadline = 30
	// createCanary's analysis: 10 s intervals, one step, one failed check allowed.
	clock := canaryClock{interval: 10 * time.Second, steps: 1, threshold: 1}
	// The unready canary: detected, then not ready until its progress deadline, then rolled back.
	// The deadline is seen at the first tick after it.
	unreadyEnd := clock.intervals(4, "offset, detect, the tick after the deadline, roll back").plus(scaled(progressDeadline*time.Second, "progress deadline"))
	ctx, cluster := inNewNamespace(t, tools, clock.initialization().plus(clock.initialization()).plus(clock.rollback()).plus(unreadyEnd), ns)

	createCanary(ctx, t, cluster, ns, "ghost", "no-such-deployment", 0)
	createDeployment(ctx, t, cluster, ns, "metricless", "ghcr.io/stefanprodan/podinfo:6.0.0")
	createCanary(ctx, t, cluster, ns, "metricless", "metricless", 0)
	createDeployment(ctx, t, cluster, ns, "unready", "ghcr.io/stefanprodan/podinfo:6.0.0")
	createCanary(ctx, t, cluster, ns, "unready", "unready", progressDeadline)

	type result struct {
		code    int
		out     string
		elapsed time.Duration
	}
	follow := func(name string, o rollout.FollowOptions) <-chan result {
		done := make(chan result, 1)
		go func() {
			out := &syncbuf.Buffer{}
			src := rollout.ClusterSource{Dynamic: cluster.Dynamic, Core: cluster.Core, Namespace: ns, Name: name}
			start := time.Now()
			code := rollout.Follow(ctx, src, rollout.NewPrinter(out), o)
			done <- result{code, out.String(), time.Since(start)}
		}()
		return done
	}

	// Flagger's complaint about the missing Deployment comes at the job's second run: the control loop's pass,
	// the first run (Initializing), the run that finds no Deployment, its status written. --timeout is that, whole
	// seconds, so the command ends at it with the complaint in hand. One tick more for a stall of the shared API
	// server under the suite's load: at 9a1a39d its TLS handshakes timed out (10 s) in that minute, and Flagger
	// still said Initializing at 4 ticks.
	ghostBound := clock.intervals(5, "control loop, first run, the run that finds no Deployment, its status, an API server stall")
	ghostTimeout := ghostBound.d.Round(time.Second)
	ghost := follow("ghost", rollout.FollowOptions{Timeout: ghostTimeout})

	// initializedRevision waits for a canary to be Initialized and returns its revision.
	initializedRevision := func(name string) string {
		var revision string
		require.Eventually(t, func() bool {
			obj, err := cluster.Dynamic.Resource(rollout.CanaryResource).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || phaseOf(obj) != string(flaggerv1.CanaryPhaseInitialized) {
				return false
			}
			revision, _, _ = unstructured.NestedString(obj.Object, "status", "lastAppliedSpec")
			return true
		}, clock.initialization().d, 500*time.Millisecond, "canary %s initialized within %s", name, clock.initialization())
		return revision
	}

	// The metricless canary initializes (no analysis needed for that), then a new image starts an analysis
	// whose every check finds no samples.
	revision := initializedRevision("metricless")
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"ghcr.io/stefanprodan/podinfo:6.0.1"}]}}}}`)
	_, err := cluster.Core.AppsV1().Deployments(ns).Patch(ctx, "metricless", types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
	// --timeout twice each bound, so that Flagger's result ends the command, not the timeout.
	metricless := follow("metricless", rollout.FollowOptions{Timeout: 2 * clock.rollback().d, PreviousRevision: revision})

	// The unready canary initializes on a ready podinfo, then its new revision runs podinfo --unready.
	revision = initializedRevision("unready")
	patch = []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"ghcr.io/stefanprodan/podinfo:6.0.1","args":["--unready"]}]}}}}`)
	_, err = cluster.Core.AppsV1().Deployments(ns).Patch(ctx, "unready", types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
	unready := follow("unready", rollout.FollowOptions{Timeout: 2 * unreadyEnd.d, PreviousRevision: revision})

	g := <-ghost
	t.Logf("canary with no target (%s):\n%s", g.elapsed.Round(time.Second), g.out)
	assert.Equal(t, rollout.ExitTimeout, g.code)
	verdict := g.out[max(0, strings.LastIndex(g.out, fmt.Sprintf("timed out after %s in phase ", ghostTimeout))):]
	assert.Contains(t, verdict, `"no-such-deployment" not found`, "Flagger's complaint is the message within %s: %s", ghostBound, verdict)
	grace := scaled(5*time.Second, "one last read after --timeout")
	assert.Less(t, g.elapsed, ghostTimeout+grace.d, "no hang past --timeout (grace %s)", grace)

	m := <-metricless
	t.Logf("canary whose metrics have no samples (%s):\n%s", m.elapsed.Round(time.Second), m.out)
	assert.Equal(t, rollout.ExitFailed, m.code)
	assert.Contains(t, m.out, "rollout failed after 1 failed checks: Canary analysis failed, Deployment scaled to zero.")
	assert.Contains(t, m.out, "no values found", "the failing check's reason is shown while it fails")

	u := <-unready
	t.Logf("canary whose pods never become ready (%s):\n%s", u.elapsed.Round(time.Second), u.out)
	assert.Equal(t, rollout.ExitFailed, u.code)
	assert.Contains(t, u.out, "canary deployment unready.bad-input not ready: waiting for rollout to finish: 0 of 1",
		"Flagger's reason is shown while it waits")
	assert.Less(t, u.elapsed, unreadyEnd.d, "it fails at the progress deadline (%d s), not at --timeout: within %s", progressDeadline, unreadyEnd)
	pods, err := cluster.Core.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=unready-primary"})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items)
	assert.True(t, podReady(&pods.Items[0]), "the primary's pods, on podinfo without --unready, are ready")
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func createDeployment(ctx context.Context, t *testing.T, cluster *testCluster, ns, name, image string) {
	t.Helper()
	labels := map[string]string{"app": name}
	_, err := cluster.Core.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: image, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 9898}},
					// podinfo's readiness endpoint, which --unready keeps failing.
					ReadinessProbe: &corev1.Probe{PeriodSeconds: 2, ProbeHandler: corev1.ProbeHandler{
						HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(9898)}}},
				}}},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

// createCanary creates a Canary written with Flagger's own types: the gloo provider and the built-in checks,
// one failed check allowed, and a progress deadline in seconds (0: Flagger's default).
func createCanary(ctx context.Context, t *testing.T, cluster *testCluster, ns, name, target string, progressDeadline int32) {
	t.Helper()
	c := flaggerv1.Canary{
		TypeMeta:   metav1.TypeMeta{APIVersion: "flagger.app/v1beta1", Kind: "Canary"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: flaggerv1.CanarySpec{
			Provider:  "gloo",
			TargetRef: flaggerv1.LocalObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target},
			ProgressDeadlineSeconds: func() *int32 {
				if progressDeadline == 0 {
					return nil
				}
				return &progressDeadline
			}(),
			Service: flaggerv1.CanaryService{Port: 9898},
			Analysis: &flaggerv1.CanaryAnalysis{
				Interval: "10s", Threshold: 1, MaxWeight: 10, StepWeight: 10,
				Metrics: []flaggerv1.CanaryMetric{{Name: "request-success-rate", Interval: "1m",
					ThresholdRange: &flaggerv1.CanaryThresholdRange{Min: ptr.To(99.0)}}},
			},
		},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&c)
	require.NoError(t, err)
	_, err = cluster.Dynamic.Resource(rollout.CanaryResource).Namespace(ns).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
	require.NoError(t, err)
}
