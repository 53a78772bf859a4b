package rollout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/progressive-delivery/platform/internal/syncbuf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func canary(phase string, weight, failed int) *unstructured.Unstructured {
	return canaryAt("rev-1", phase, weight, failed, "")
}

// canaryAt is a Canary as Flagger writes it: revision is status.lastAppliedSpec, reason the Promoted condition's
// message.
func canaryAt(revision, phase string, weight, failed int, reason string) *unstructured.Unstructured {
	status := map[string]any{"phase": phase, "canaryWeight": int64(weight), "failedChecks": int64(failed), "lastAppliedSpec": revision}
	if reason != "" {
		status["conditions"] = []any{map[string]any{"type": "Promoted", "status": "False", "reason": phase, "message": reason}}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "flagger.app/v1beta1",
		"kind":       "Canary",
		"metadata":   map[string]any{"name": CanaryName, "namespace": CanaryNamespace},
		"spec": map[string]any{
			"provider":  "gloo",
			"targetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
			"service":   map[string]any{"port": int64(9898)},
			"analysis":  map[string]any{"interval": "10s", "threshold": int64(5), "maxWeight": int64(50), "stepWeight": int64(5)},
		},
		"status": status,
	}}
}

// fakeCluster is a fake API server holding the podinfo Canary, as Flagger would update it.
type fakeCluster struct {
	t    *testing.T
	src  ClusterSource
	core *kubefake.Clientset
}

func newFakeCluster(t *testing.T, initial *unstructured.Unstructured) *fakeCluster {
	t.Helper()
	scheme := runtime.NewScheme()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme,
		map[schema.GroupVersionResource]string{CanaryResource: "CanaryList"}, initial)
	core := kubefake.NewClientset()
	return &fakeCluster{t: t, core: core,
		src: ClusterSource{Dynamic: dyn, Core: core, Namespace: CanaryNamespace, Name: CanaryName}}
}

func (f *fakeCluster) set(obj *unstructured.Unstructured) {
	f.t.Helper()
	_, err := f.src.Dynamic.Resource(CanaryResource).Namespace(CanaryNamespace).Update(context.Background(), obj, metav1.UpdateOptions{})
	require.NoError(f.t, err)
}

// eventSeq orders the events of the parallel tests; atomic, as they record at once.
var eventSeq atomic.Int64

func (f *fakeCluster) event(msg string) { f.t.Helper(); f.record(corev1.EventTypeNormal, msg) }

func (f *fakeCluster) warning(msg string) { f.t.Helper(); f.record(corev1.EventTypeWarning, msg) }

func (f *fakeCluster) record(eventType, msg string) {
	f.t.Helper()
	seq := eventSeq.Add(1)
	_, err := f.core.CoreV1().Events(CanaryNamespace).Create(context.Background(), &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "podinfo." + time.Now().Format("150405.000000000"), Namespace: CanaryNamespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Canary", Name: CanaryName, Namespace: CanaryNamespace},
		Message:        msg,
		Type:           eventType,
		LastTimestamp:  metav1.NewTime(time.Date(2026, 1, 1, 0, 0, int(seq), 0, time.UTC)),
	}, metav1.CreateOptions{})
	require.NoError(f.t, err)
}

// follow runs Follow in the background and returns its output and exit code channel.
func follow(ctx context.Context, f *fakeCluster, timeout time.Duration) (*syncbuf.Buffer, <-chan int) {
	return followWith(ctx, f, FollowOptions{Timeout: timeout})
}

func followWith(ctx context.Context, f *fakeCluster, o FollowOptions) (*syncbuf.Buffer, <-chan int) {
	out := &syncbuf.Buffer{}
	code := make(chan int, 1)
	go func() { code <- Follow(ctx, f.src, NewPrinter(out), o) }()
	return out, code
}

// waitFor blocks until the output contains s, so each replayed state is seen before the next is written.
func waitFor(t *testing.T, out *syncbuf.Buffer, s string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("output never showed %q:\n%s", s, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFollow_Promotion(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canary("Initialized", 0, 0))
	out, code := follow(context.Background(), f, time.Minute)
	waitFor(t, out, "Initialized")
	for w := 5; w <= 50; w += 5 {
		f.set(canary("Progressing", w, 0))
		waitFor(t, out, "Progressing")
		waitFor(t, out, fmt.Sprintf(" %3d%%/50%%", w))
	}
	f.event("Copying podinfo.apps template spec to podinfo-primary.apps")
	// Flagger zeroes canaryWeight on Promoting; the routes still carry maxWeight until Finalising.
	f.set(canary("Promoting", 0, 0))
	waitFor(t, out, "Promoting")
	f.set(canary("Finalising", 0, 0))
	waitFor(t, out, "Finalising")
	f.event("Promotion completed! Scaling down podinfo.apps")
	f.set(canary("Succeeded", 0, 0))
	select {
	case c := <-code:
		assert.Equal(t, ExitSucceeded, c)
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return on Succeeded")
	}
	text := out.String()
	assert.Contains(t, text, "rollout succeeded")
	assert.Contains(t, text, "Promotion completed! Scaling down podinfo.apps", "Flagger's latest event is shown")
	assert.Contains(t, text, "failed checks 0/5")
	lines := strings.Split(strings.TrimSpace(text), "\n")
	assert.Len(t, lines, 1+10+2+1+1, "one line per change: Initialized, ten weights, Promoting, Finalising, Succeeded, verdict")
	assert.Contains(t, lines[11], " 50%/50%", "Promoting shows the traffic the canary still gets: %s", lines[11])
	assert.Contains(t, lines[12], "  0%/50%", "Finalising routes everything back to the primary: %s", lines[12])
	phases := []string{"Initialized", "Progressing", "Promoting", "Finalising", "Succeeded"}
	last := -1
	for _, p := range phases {
		i := strings.Index(text, p)
		assert.Greater(t, i, last, "%s comes in order", p)
		last = i
	}
}

func TestFollow_Rollback(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canary("Progressing", 10, 0))
	out, code := follow(context.Background(), f, time.Minute)
	waitFor(t, out, "failed checks 0/5")
	for failed := 1; failed <= 5; failed++ {
		f.event("Halt podinfo.apps advancement request duration 2.012s > 500ms")
		f.set(canary("Progressing", 10, failed))
		waitFor(t, out, fmt.Sprintf("failed checks %d/5", failed))
	}
	f.event("Rolling back podinfo.apps failed checks threshold reached 5")
	// Flagger's last events may be dropped by client-go's rate limit: the verdict is the status condition.
	f.set(canaryAt("rev-1", "Failed", 0, 5, "Canary analysis failed, Deployment scaled to zero."))
	select {
	case c := <-code:
		assert.Equal(t, ExitFailed, c)
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return on Failed")
	}
	text := out.String()
	assert.Contains(t, text, "request duration 2.012s > 500ms", "the failing metric is shown while it fails")
	assert.Contains(t, text, "rollout failed after 5 failed checks: Canary analysis failed, Deployment scaled to zero. "+
		"(last event: Rolling back podinfo.apps failed checks threshold reached 5)")
	assert.Contains(t, text, "the last failed check: Halt podinfo.apps advancement request duration 2.012s > 500ms",
		"the verdict names the check that failed")
}

func TestFollow_Timeout(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canary("Progressing", 5, 0))
	out, code := follow(context.Background(), f, 200*time.Millisecond)
	select {
	case c := <-code:
		assert.Equal(t, ExitTimeout, c)
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not time out")
	}
	assert.Contains(t, out.String(), "timed out after 200ms in phase Progressing")
}

func TestFollow_InterruptStopsWatchingOnly(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canary("Progressing", 5, 0))
	ctx, cancel := context.WithCancel(context.Background())
	out, code := follow(ctx, f, time.Minute)
	waitFor(t, out, "Progressing")
	cancel()
	select {
	case c := <-code:
		assert.Equal(t, ExitInterrupted, c)
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not stop on cancel")
	}
	assert.Contains(t, out.String(), "stopped watching; the rollout goes on in the cluster")
	obj, err := f.src.Dynamic.Resource(CanaryResource).Namespace(CanaryNamespace).Get(context.Background(), CanaryName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "Progressing", obj.Object["status"].(map[string]any)["phase"], "the Canary is left as it was")
}

func TestSnapshot_ReadsStatusAndAnalysis(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canaryAt("5f6c7d", "Progressing", 25, 2, "New revision detected, progressing canary analysis."))
	f.event("Advance podinfo.apps canary weight 25")
	s, err := f.src.Get(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Snapshot{Phase: "Progressing", Weight: 25, MaxWeight: 50, FailedChecks: 2, Threshold: 5, Revision: "5f6c7d",
		Reason: "New revision detected, progressing canary analysis.", Event: "Advance podinfo.apps canary weight 25"}, s)
	js, err := s.JSON()
	require.NoError(t, err)
	assert.Contains(t, js, `"canaryWeight": 25`)
	assert.Contains(t, js, `"phase": "Progressing"`)
}

func TestPrinter_ProgressBarTracksWeight(t *testing.T) {
	t.Parallel()
	p := NewPrinter(&bytes.Buffer{})
	half := p.Line(Snapshot{Phase: "Progressing", Weight: 25, MaxWeight: 50, Threshold: 5})
	full := p.Line(Snapshot{Phase: "Progressing", Weight: 50, MaxWeight: 50, Threshold: 5})
	assert.Contains(t, half, " 25%/50%")
	assert.Contains(t, full, " 50%/50%")
	assert.Less(t, strings.Count(half, "█"), strings.Count(full, "█"), "the bar fills with the weight")
}

// TestFollow_IgnoresThePreviousResult replays what Flagger does right after a new image is applied: the Canary
// still shows the previous release's Succeeded (its revision unchanged) for up to one interval. That must not be
// reported as this release's result.
func TestFollow_IgnoresThePreviousResult(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canaryAt("rev-601", "Succeeded", 0, 0, "Canary analysis completed successfully, promotion finished."))
	out, code := followWith(context.Background(), f, FollowOptions{Timeout: time.Minute, PreviousRevision: "rev-601"})
	waitFor(t, out, "waiting for Flagger to take up the new revision")
	assertStillFollowing(t, code, out, "the previous release's result")
	f.set(canaryAt("rev-602", "Progressing", 0, 0, "New revision detected, progressing canary analysis."))
	waitFor(t, out, "Progressing")
	f.set(canaryAt("rev-602", "Progressing", 5, 1, "New revision detected, progressing canary analysis."))
	waitFor(t, out, "failed checks 1/5")
	f.set(canaryAt("rev-602", "Failed", 0, 5, "Canary analysis failed, Deployment scaled to zero."))
	assertEndsWith(t, code, ExitFailed)
	assert.NotContains(t, out.String(), "rollout succeeded")
	assert.Contains(t, out.String(), "rollout failed after 5 failed checks: Canary analysis failed")
}

// TestFollow_IgnoresFlaggersSyncOfAFailedCanary replays Flagger v1.36.1 on a release right after a rollback: it
// first writes the new revision with the phase still Failed (shouldAdvance syncs lastAppliedSpec on a failed
// canary), then starts the analysis. That Failed is not this release's result; seen on the simulated cluster,
// where the command reported "rollout failed after 0 failed checks" 10 s after the release.
func TestFollow_IgnoresFlaggersSyncOfAFailedCanary(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canaryAt("rev-602", "Failed", 0, 0, "Canary analysis failed, Deployment scaled to zero."))
	out, code := followWith(context.Background(), f, FollowOptions{Timeout: time.Minute, PreviousRevision: "rev-602", PreviousPhase: "Failed"})
	waitFor(t, out, "waiting for Flagger to take up the new revision")
	f.set(canaryAt("rev-610", "Failed", 0, 0, "Canary analysis failed, Deployment scaled to zero."))
	assertStillFollowing(t, code, out, "Flagger's sync of the failed canary")
	f.set(canaryAt("rev-610", "Progressing", 0, 0, "New revision detected! Scaling up podinfo.apps"))
	waitFor(t, out, "Progressing")
	f.set(canaryAt("rev-610", "Failed", 0, 3, "Canary analysis failed, Deployment scaled to zero."))
	assertEndsWith(t, code, ExitFailed)
	assert.Contains(t, out.String(), "rollout failed after 3 failed checks")
}

// assertStillFollowing checks that Follow has not returned within 300 ms (it is waiting for this release).
func assertStillFollowing(t *testing.T, code <-chan int, out fmt.Stringer, what string) {
	t.Helper()
	select {
	case c := <-code:
		t.Fatalf("Follow returned %d on %s:\n%s", c, what, out.String())
	case <-time.After(300 * time.Millisecond):
	}
}

// assertEndsWith checks that Follow returns want within 5 s.
func assertEndsWith(t *testing.T, code <-chan int, want int) {
	t.Helper()
	select {
	case c := <-code:
		assert.Equal(t, want, c)
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return on this release's result")
	}
}

// TestFollow_FirstReleaseEndsAtInitialized: a Canary that did not exist before is initialized without analysis.
func TestFollow_FirstReleaseEndsAtInitialized(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canaryAt("", "", 0, 0, ""))
	out, code := followWith(context.Background(), f, FollowOptions{Timeout: time.Minute, FirstRelease: true})
	waitFor(t, out, "Pending")
	f.set(canaryAt("rev-600", "Initialized", 0, 0, "Deployment initialization completed."))
	select {
	case c := <-code:
		assert.Equal(t, ExitSucceeded, c)
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return on Initialized")
	}
	assert.Contains(t, out.String(), "canary initialized")
}

// TestFollow_TimeoutNamesWhatFlaggerSaid: a canary Flagger cannot start (its target is missing) ends at the
// timeout with Flagger's complaint, not a bare "timed out".
func TestFollow_TimeoutNamesWhatFlaggerSaid(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canaryAt("", "", 0, 0, ""))
	f.event(`podinfo.apps deployment podinfo.apps get query error: deployments.apps "podinfo" not found`)
	out, code := follow(context.Background(), f, 300*time.Millisecond)
	select {
	case c := <-code:
		assert.Equal(t, ExitTimeout, c)
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not time out")
	}
	assert.Contains(t, out.String(), `timed out after 300ms in phase Pending: podinfo.apps deployment podinfo.apps get query error: deployments.apps "podinfo" not found`)
}

// TestFollow_ShowsWarningsThatChangeNoStatus: Flagger reports a missing target only as a warning event, with no
// status change; the watch still shows it, live.
func TestFollow_ShowsWarningsThatChangeNoStatus(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canaryAt("", "Initializing", 0, 0, ""))
	out, code := follow(context.Background(), f, time.Minute)
	waitFor(t, out, "Initializing")
	f.warning(`deployment ghost.apps get query error: deployments.apps "ghost" not found`)
	// The warning comes through the watch, not a poll: waitFor's 5 s are more than enough.
	waitFor(t, out, `"ghost" not found`)
	select {
	case c := <-code:
		t.Fatalf("a warning is not a verdict, yet Follow returned %d", c)
	default:
	}
}

func TestFollow_ShowsEachWatchErrorCauseOnce(t *testing.T) {
	t.Parallel()
	refused := func(timeout int) error {
		return &url.Error{Op: "Get", URL: fmt.Sprintf("https://127.0.0.1:6443/apis?timeoutSeconds=%d&watch=true", timeout),
			Err: errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")}
	}
	src := &scriptedErrors{errs: []error{refused(362), refused(581), refused(436)}}
	out := &bytes.Buffer{}
	// client-go's reflector retries a failed list after 0.8 s, then 1.6 s: 3 s see at least two attempts.
	code := Follow(context.Background(), src, NewPrinter(out), FollowOptions{Timeout: 3 * time.Second})
	assert.Equal(t, ExitTimeout, code)
	assert.GreaterOrEqual(t, src.calls.Load(), int64(2), "the watch retried")
	assert.Equal(t, 1, strings.Count(out.String(), "watch error (retrying)"), "retries of one outage are one line:\n%s", out)
	assert.Contains(t, out.String(), "watch error (retrying): dial tcp 127.0.0.1:6443: connect: connection refused\n")
	assert.Contains(t, out.String(), "timed out after 3s in phase unknown (no canary seen); last error: dial tcp 127.0.0.1:6443: connect: connection refused")
	assert.NotContains(t, out.String(), "timeoutSeconds", "no request URL")
}

// scriptedErrors fails every list with errs, in order (the last one again once they are used up), as an API
// server that is away.
type scriptedErrors struct {
	errs  []error
	calls atomic.Int64
}

func (s *scriptedErrors) ListerWatcher(report func(error)) *cache.ListWatch {
	fail := func() error {
		n := int(s.calls.Add(1)) - 1
		err := s.errs[min(n, len(s.errs)-1)]
		report(err)
		return err
	}
	return &cache.ListWatch{
		ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) { return nil, fail() },
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) {
			return nil, fail()
		},
	}
}

func (s *scriptedErrors) Events(context.Context) []corev1.Event { return nil }

// TestFollow_DeletedCanaryEndsWithExit2: a Canary deleted while it is followed has no result to wait for; the
// command says so and exits 2 at once, not at --timeout.
func TestFollow_DeletedCanaryEndsWithExit2(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canary("Progressing", 10, 0))
	out, code := follow(context.Background(), f, time.Minute)
	waitFor(t, out, "Progressing")
	require.NoError(t, f.src.Dynamic.Resource(CanaryResource).Namespace(CanaryNamespace).Delete(context.Background(), CanaryName, metav1.DeleteOptions{}))
	select {
	case c := <-code:
		assert.Equal(t, ExitDeleted, c)
		assert.Equal(t, 2, c)
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return when the Canary was deleted")
	}
	assert.Contains(t, out.String(), "the canary was deleted while it was followed (last phase Progressing): its result will never be known")
	assert.NotContains(t, out.String(), "watch error")
}

// TestFollow_ManualGateSaysWhatToRun: a release waiting at its manual gate names the commands that end the wait,
// once, and is followed on to its result.
func TestFollow_ManualGateSaysWhatToRun(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canary("Progressing", 0, 0))
	out, code := followWith(context.Background(), f, FollowOptions{Timeout: time.Minute, Service: "cart"})
	waitFor(t, out, "Progressing")
	f.event("Halt cart.shop advancement waiting for promotion approval approval")
	f.set(canary("WaitingPromotion", 0, 0))
	waitFor(t, out, "approve --service cart")
	f.event("Rollback hook rollback not signaling a rollback")
	f.set(canary("WaitingPromotion", 0, 0))
	waitFor(t, out, "not signaling a rollback")
	f.set(canary("Promoting", 0, 0))
	f.set(canary("Succeeded", 0, 0))
	select {
	case c := <-code:
		assert.Equal(t, ExitSucceeded, c)
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return on Succeeded")
	}
	assert.Equal(t, 1, strings.Count(out.String(), "go run ./cmd/rollout approve --service cart promotes it, rollback --service cart rolls it back"))
}

// TestRefusedPods_TheLatestRefusalOfTheCanarysPods: of the FailedCreate events since the release, those of the
// ReplicaSets of the Deployment Flagger scales up, not the primary's, and the newest.
func TestRefusedPods_TheLatestRefusalOfTheCanarysPods(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, canary("Progressing", 0, 0))
	ctx := context.Background()
	for rs, deployment := range map[string]string{"podinfo-5d8f": CanaryName, "podinfo-primary-7c9b": CanaryName + "-primary"} {
		_, err := f.core.AppsV1().ReplicaSets(CanaryNamespace).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
			Name: rs, Namespace: CanaryNamespace,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: deployment, Controller: ptr.To(true)}},
		}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	release := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i, e := range []struct{ rs, reason, msg string }{
		{"podinfo-5d8f", "FailedCreate", "before the release"},
		{"podinfo-5d8f", "FailedCreate", `Error creating: pods "podinfo-5d8f-" is forbidden: exceeded quota: team-quota`},
		{"podinfo-primary-7c9b", "FailedCreate", "the primary's"},
		{"podinfo-5d8f", "SuccessfulCreate", "Created pod: podinfo-5d8f-x"},
	} {
		_, err := f.core.CoreV1().Events(CanaryNamespace).Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("rs.%d", i), Namespace: CanaryNamespace},
			InvolvedObject: corev1.ObjectReference{Kind: "ReplicaSet", Name: e.rs, Namespace: CanaryNamespace},
			Reason:         e.reason, Message: e.msg, Type: corev1.EventTypeWarning,
			LastTimestamp: metav1.NewTime(release.Add(time.Duration(i-1) * time.Minute)),
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	assert.Equal(t, `Error creating: pods "podinfo-5d8f-" is forbidden: exceeded quota: team-quota`, f.src.RefusedPods(ctx, release))
	assert.Empty(t, f.src.RefusedPods(ctx, release.Add(time.Hour)), "nothing since then")
}
