package rollout

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// ClusterSource watches one Canary through the API server.
type ClusterSource struct {
	Dynamic         dynamic.Interface
	Core            kubernetes.Interface
	Namespace, Name string
}

// Get reads the Canary once.
func (c ClusterSource) Get(ctx context.Context) (Snapshot, error) {
	obj, err := c.Dynamic.Resource(CanaryResource).Namespace(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading canary %s/%s: %w", c.Namespace, c.Name, err)
	}
	return SnapshotFrom(obj, c.Events(ctx))
}

// Events lists Flagger's events about the Canary; none when they cannot be read (they are detail, never the
// verdict).
func (c ClusterSource) Events(ctx context.Context) []corev1.Event {
	list, err := c.Core.CoreV1().Events(c.Namespace).List(ctx, metav1.ListOptions{FieldSelector: c.eventSelector()})
	if err != nil {
		return nil
	}
	return list.Items
}

// ListerWatcher lists and watches the one Canary, for client-go's informer-backed watch (watchtools.UntilWithSync,
// as kubectl wait does), which re-lists and re-watches by itself when the server ends a watch or goes away. Its
// watch also passes on Flagger's warning events, as the Canary again: Flagger reports some problems (a missing
// target, a failing check) only as a warning, with no status change. report gets each list or watch error while
// client-go retries.
func (c ClusterSource) ListerWatcher(report func(error)) *cache.ListWatch {
	res := c.Dynamic.Resource(CanaryResource).Namespace(c.Namespace)
	byName := fields.OneTermEqualSelector("metadata.name", c.Name).String()
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = byName
			list, err := res.List(ctx, o)
			report(err)
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = byName
			canary, err := res.Watch(ctx, o)
			report(err)
			if err != nil {
				return nil, err
			}
			events, err := c.watchEvents(ctx)
			if err != nil {
				// The Canary alone still decides the release; warnings then show with its next change.
				report(err)
				return canary, nil
			}
			return newWarningWatch(canary, events, func() (runtime.Object, error) {
				return res.Get(ctx, c.Name, metav1.GetOptions{})
			}), nil
		},
	}
}

// watchEvents watches the Canary's events from now: a list gives the version to start at, so the events that
// exist already are not replayed.
func (c ClusterSource) watchEvents(ctx context.Context) (watch.Interface, error) {
	about := c.eventSelector()
	list, err := c.Core.CoreV1().Events(c.Namespace).List(ctx, metav1.ListOptions{FieldSelector: about, Limit: 1})
	if err != nil {
		return nil, err
	}
	return c.Core.CoreV1().Events(c.Namespace).Watch(ctx, metav1.ListOptions{FieldSelector: about, ResourceVersion: list.ResourceVersion})
}

// RefusedPods is why the API server last refused to create the new version's pods since a time (a quota, the Pod
// Security admission), or empty. Flagger sees only a canary that never gets ready; the reason is in the
// ReplicaSet controller's FailedCreate events, on the ReplicaSets of the Deployment Flagger scales up.
func (c ClusterSource) RefusedPods(ctx context.Context, since time.Time) string {
	sets, err := c.Core.AppsV1().ReplicaSets(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return ""
	}
	canary := map[string]bool{}
	for _, rs := range sets.Items {
		if owner := metav1.GetControllerOf(&rs); owner != nil && owner.Kind == "Deployment" && owner.Name == c.Name {
			canary[rs.Name] = true
		}
	}
	events, err := c.Core.CoreV1().Events(c.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.kind": "ReplicaSet", "reason": "FailedCreate"}.String()})
	if err != nil {
		return ""
	}
	var latest corev1.Event
	for _, e := range events.Items {
		// The reason again: the field selector is the API server's; a client that ignores it (client-go's fake
		// clientset) lists every event.
		if e.Reason == "FailedCreate" && canary[e.InvolvedObject.Name] && !eventTime(e).Before(since.Truncate(time.Second)) && eventTime(e).After(eventTime(latest)) {
			latest = e
		}
	}
	return strings.TrimPrefix(latest.Message, "(combined from similar events): ")
}

func (c ClusterSource) eventSelector() string {
	return fields.Set{"involvedObject.kind": "Canary", "involvedObject.name": c.Name}.String()
}

// warningWatch is the Canary's watch with each new warning event about it sent as the Canary once more
// (Modified, the last state sent), so the one condition over the watch sees warnings too.
type warningWatch struct {
	canary, events watch.Interface
	// current reads the Canary when a warning comes before any change of it was sent.
	current func() (runtime.Object, error)
	out     chan watch.Event
	stop    chan struct{}
	once    sync.Once
}

func newWarningWatch(canary, events watch.Interface, current func() (runtime.Object, error)) *warningWatch {
	w := &warningWatch{canary: canary, events: events, current: current, out: make(chan watch.Event), stop: make(chan struct{})}
	go w.run()
	return w
}

func (w *warningWatch) ResultChan() <-chan watch.Event { return w.out }

func (w *warningWatch) Stop() { w.once.Do(func() { close(w.stop) }) }

func (w *warningWatch) run() {
	defer close(w.out)
	defer w.canary.Stop()
	defer w.events.Stop()
	var last runtime.Object
	canaryEvents, eventEvents := w.canary.ResultChan(), w.events.ResultChan()
	for {
		var send watch.Event
		select {
		case ev, ok := <-canaryEvents:
			if !ok {
				// The reflector watches again, with a new warningWatch.
				return
			}
			if ev.Type == watch.Added || ev.Type == watch.Modified {
				last = ev.Object
			}
			send = ev
		case ev, ok := <-eventEvents:
			if !ok {
				eventEvents = nil
				continue
			}
			if e, isEvent := ev.Object.(*corev1.Event); !isEvent || ev.Type == watch.Deleted || e.Type != corev1.EventTypeWarning {
				continue
			}
			if last == nil {
				obj, err := w.current()
				if err != nil {
					continue
				}
				last = obj
			}
			send = watch.Event{Type: watch.Modified, Object: last.DeepCopyObject()}
		case <-w.stop:
			return
		}
		select {
		case w.out <- send:
		case <-w.stop:
			return
		}
	}
}

// SilenceClientGoLogs stops client-go's own logging of list and watch retries: the watch reports them itself,
// once, in the progress output.
func SilenceClientGoLogs() {
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
}

// listThenWatch makes the reflector list, then watch, instead of asking for a streamed watch-list: servers with
// the WatchList feature off refuse that first (an error the user would see), fakes cannot serve it, and one
// object gains nothing from streaming.
type listThenWatch struct{ *cache.ListWatch }

// IsWatchListSemanticsUnSupported tells client-go's reflector not to try a watch-list.
func (listThenWatch) IsWatchListSemanticsUnSupported() bool { return true }
