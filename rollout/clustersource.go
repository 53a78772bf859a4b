package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
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
	return SnapshotFrom(obj, c.events(ctx))
}

func (c ClusterSource) events(ctx context.Context) []corev1.Event {
	list, err := c.Core.CoreV1().Events(c.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.kind": "Canary", "involvedObject.name": c.Name}.String(),
	})
	if err != nil {
		return nil
	}
	return list.Items
}

// Snapshots sends the current state, then every change, through client-go's informer-backed watch
// (watchtools.UntilWithSync, as kubectl wait does): it re-lists and re-watches by itself when the server ends a
// watch or goes away. List and watch errors are passed on while it retries.
func (c ClusterSource) Snapshots(ctx context.Context) (<-chan Snapshot, <-chan error) {
	out := make(chan Snapshot)
	errs := make(chan error, 1)
	report := func(err error) {
		if err == nil || ctx.Err() != nil {
			return
		}
		select {
		case errs <- err:
		default:
		}
	}
	res := c.Dynamic.Resource(CanaryResource).Namespace(c.Namespace)
	byName := fields.OneTermEqualSelector("metadata.name", c.Name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = byName
			list, err := res.List(ctx, o)
			report(err)
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = byName
			w, err := res.Watch(ctx, o)
			report(err)
			return w, err
		},
	}
	objs := make(chan watch.Event)
	go func() {
		defer close(objs)
		_, err := watchtools.UntilWithSync(ctx, listThenWatch{lw}, &unstructured.Unstructured{}, nil, func(ev watch.Event) (bool, error) {
			if _, ok := ev.Object.(*unstructured.Unstructured); !ok {
				return false, nil
			}
			select {
			case objs <- ev:
				// A deleted Canary ends the watch: there is nothing more to follow.
				return ev.Type == watch.Deleted, nil
			case <-ctx.Done():
				return true, nil
			}
		})
		if !errors.Is(err, watchtools.ErrWatchClosed) {
			report(err)
		}
	}()
	go func() {
		defer close(out)
		// Flagger's warnings (a missing target, a failing check) often change no status field, so the events
		// are also polled: a new warning re-sends the current state with it.
		poll := time.NewTicker(warningPoll)
		defer poll.Stop()
		var last *Snapshot
		for {
			var next Snapshot
			select {
			case ev, ok := <-objs:
				if !ok {
					return
				}
				if ev.Type == watch.Deleted {
					next = Snapshot{Phase: PhaseDeleted}
					break
				}
				s, err := SnapshotFrom(ev.Object.(*unstructured.Unstructured), c.events(ctx))
				if err != nil {
					report(err)
					continue
				}
				next = s
			case <-poll.C:
				if last == nil {
					continue
				}
				w := newestWarning(c.events(ctx), last.LastTransition)
				if w == "" || w == last.Event {
					continue
				}
				next = *last
				next.Event = w
			case <-ctx.Done():
				return
			}
			last = &next
			select {
			case out <- next:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errs
}

// warningPoll is how often the watch looks for new warning events.
const warningPoll = 3 * time.Second

// newestWarning is the newest Warning event not older than the status transition (RFC 3339, may be empty).
func newestWarning(events []corev1.Event, since string) string {
	var warnings []corev1.Event
	for _, e := range events {
		if e.Type == corev1.EventTypeWarning {
			warnings = append(warnings, e)
		}
	}
	t, _ := time.Parse(time.RFC3339, since)
	return latestEvent(warnings, t)
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
