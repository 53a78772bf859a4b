package rollout

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

// syncBuffer is an io.Writer the test can read while Follow writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func canary(phase string, weight, failed int) *unstructured.Unstructured {
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
		"status": map[string]any{"phase": phase, "canaryWeight": int64(weight), "failedChecks": int64(failed)},
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

var eventSeq int

func (f *fakeCluster) event(msg string) {
	f.t.Helper()
	eventSeq++
	_, err := f.core.CoreV1().Events(CanaryNamespace).Create(context.Background(), &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "podinfo." + time.Now().Format("150405.000000000"), Namespace: CanaryNamespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Canary", Name: CanaryName, Namespace: CanaryNamespace},
		Message:        msg,
		LastTimestamp:  metav1.NewTime(time.Date(2026, 1, 1, 0, 0, eventSeq, 0, time.UTC)),
	}, metav1.CreateOptions{})
	require.NoError(f.t, err)
}

// follow runs Follow in the background and returns its output and exit code channel.
func follow(ctx context.Context, f *fakeCluster, timeout time.Duration) (*syncBuffer, <-chan int) {
	out := &syncBuffer{}
	code := make(chan int, 1)
	go func() { code <- Follow(ctx, f.src, NewPrinter(out), timeout) }()
	return out, code
}

// waitFor blocks until the output contains s, so each replayed state is seen before the next is written.
func waitFor(t *testing.T, out *syncBuffer, s string) {
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
	for _, phase := range []string{"Promoting", "Finalizing"} {
		f.set(canary(phase, 50, 0))
		waitFor(t, out, phase)
	}
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
	assert.Len(t, lines, 1+10+2+1+1, "one line per change: Initialized, ten weights, Promoting, Finalizing, Succeeded, verdict")
	phases := []string{"Initialized", "Progressing", "Promoting", "Finalizing", "Succeeded"}
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
	f.event("Canary failed! Scaling down podinfo.apps")
	f.set(canary("Failed", 0, 5))
	select {
	case c := <-code:
		assert.Equal(t, ExitFailed, c)
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return on Failed")
	}
	text := out.String()
	assert.Contains(t, text, "request duration 2.012s > 500ms", "the failing metric is shown while it fails")
	assert.Contains(t, text, "rollout failed after 5 failed checks: Canary failed! Scaling down podinfo.apps")
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
	f := newFakeCluster(t, canary("Progressing", 25, 2))
	f.event("Advance podinfo.apps canary weight 25")
	s, err := f.src.Get(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Snapshot{Phase: "Progressing", Weight: 25, MaxWeight: 50, FailedChecks: 2, Threshold: 5,
		Message: "Advance podinfo.apps canary weight 25"}, s)
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
