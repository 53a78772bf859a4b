// Package rollout drives a podinfo release from the terminal: it runs the stack update through the Automation API
// and then follows the Flagger Canary until it succeeds, fails or times out.
package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/lipgloss"
	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/klog/v2"
)

// CanaryResource is the Flagger Canary API resource.
var CanaryResource = schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}

// Exit codes of a watched rollout.
const (
	ExitSucceeded = 0
	ExitFailed    = 1
	ExitTimeout   = 2
	// ExitInterrupted is returned when the user stops watching (Ctrl-C); the rollout goes on in the cluster.
	ExitInterrupted = 130
)

// Snapshot is what the terminal shows of a Canary at one moment.
type Snapshot struct {
	Phase        string `json:"phase"`
	Weight       int    `json:"canaryWeight"`
	MaxWeight    int    `json:"maxWeight"`
	FailedChecks int    `json:"failedChecks"`
	Threshold    int    `json:"threshold"`
	// LastTransition is the time of Flagger's last status change.
	LastTransition string `json:"lastTransitionTime,omitempty"`
	// Revision is Flagger's hash of the target's pod template (status.lastAppliedSpec). It changes when Flagger
	// takes up a new release, so it tells this release's result from the previous one's.
	Revision string `json:"revision,omitempty"`
	// Reason is the message of Flagger's Promoted condition, Flagger's own account of the state
	// ("Canary analysis failed, Deployment scaled to zero.").
	Reason string `json:"reason,omitempty"`
	// Event is Flagger's latest event about the Canary (the failing metric, the weight advanced). client-go may
	// drop events under its per-object rate limit, so it is detail, never the verdict.
	Event string `json:"event,omitempty"`
}

// Terminal reports whether the phase ends a rollout.
func (s Snapshot) Terminal() bool {
	return s.Phase == string(flaggerv1.CanaryPhaseSucceeded) || s.Phase == string(flaggerv1.CanaryPhaseFailed)
}

// SnapshotFrom reads a Canary object (as the API server returns it) and Flagger's events about it.
func SnapshotFrom(obj *unstructured.Unstructured, events []corev1.Event) (Snapshot, error) {
	var c flaggerv1.Canary
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &c); err != nil {
		return Snapshot{}, fmt.Errorf("reading canary %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	s := Snapshot{
		Phase:        string(c.Status.Phase),
		Weight:       c.Status.CanaryWeight,
		FailedChecks: c.Status.FailedChecks,
		Revision:     c.Status.LastAppliedSpec,
		Event:        latestEvent(events, c.Status.LastTransitionTime.Time),
	}
	if a := c.GetAnalysis(); a != nil {
		s.MaxWeight, s.Threshold = a.MaxWeight, a.Threshold
	}
	if !c.Status.LastTransitionTime.IsZero() {
		s.LastTransition = c.Status.LastTransitionTime.UTC().Format(time.RFC3339)
	}
	for _, cond := range c.Status.Conditions {
		if cond.Type == flaggerv1.PromotedType {
			s.Reason = cond.Message
		}
	}
	if s.Phase == "" {
		s.Phase = "Pending"
	}
	return s, nil
}

// latestEvent is the message of the newest event not older than the status (Flagger writes the status of a step
// before its event, so an older event belongs to an earlier step), without client-go's aggregation prefix.
func latestEvent(events []corev1.Event, since time.Time) string {
	if len(events) == 0 {
		return ""
	}
	sorted := append([]corev1.Event(nil), events...)
	when := func(e corev1.Event) time.Time {
		for _, t := range []time.Time{e.LastTimestamp.Time, e.EventTime.Time, e.FirstTimestamp.Time, e.CreationTimestamp.Time} {
			if !t.IsZero() {
				return t
			}
		}
		return time.Time{}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return when(sorted[i]).Before(when(sorted[j])) })
	newest := sorted[len(sorted)-1]
	if when(newest).Truncate(time.Second).Before(since.Truncate(time.Second)) {
		return ""
	}
	return strings.TrimPrefix(newest.Message, "(combined from similar events): ")
}

// Printer renders snapshots as concise progress lines, printing only what changed.
type Printer struct {
	Out  io.Writer
	bar  progress.Model
	last *Snapshot
}

var (
	phaseStyle = map[string]lipgloss.Style{
		string(flaggerv1.CanaryPhaseSucceeded): lipgloss.NewStyle().Foreground(lipgloss.Color("2")).Bold(true),
		string(flaggerv1.CanaryPhaseFailed):    lipgloss.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
	}
	dim = lipgloss.NewStyle().Faint(true)
)

// NewPrinter writes to out.
func NewPrinter(out io.Writer) *Printer {
	return &Printer{Out: out, bar: progress.New(progress.WithWidth(20), progress.WithoutPercentage(), progress.WithSolidFill("6"))}
}

// Line formats one snapshot.
func (p *Printer) Line(s Snapshot) string {
	phase := s.Phase
	if st, ok := phaseStyle[phase]; ok {
		phase = st.Render(phase)
	}
	parts := []string{fmt.Sprintf("%-11s", phase)}
	if s.MaxWeight > 0 {
		weight := s.Weight
		// Flagger zeroes status.canaryWeight on Promoting, while the routes still send maxWeight to the canary
		// until Finalising: show the traffic, not the field.
		if s.Phase == string(flaggerv1.CanaryPhasePromoting) {
			weight = s.MaxWeight
		}
		ratio := float64(weight) / float64(s.MaxWeight)
		parts = append(parts, fmt.Sprintf("%s %3d%%/%d%%", p.bar.ViewAs(min(max(ratio, 0), 1)), weight, s.MaxWeight))
	}
	if s.Threshold > 0 {
		parts = append(parts, fmt.Sprintf("failed checks %d/%d", s.FailedChecks, s.Threshold))
	}
	// The condition's message stays the same through a whole analysis; it is worth a line only at the end.
	detail := s.Event
	if detail == "" && s.Phase != string(flaggerv1.CanaryPhaseProgressing) {
		detail = s.Reason
	}
	if detail != "" {
		parts = append(parts, dim.Render(detail))
	}
	return strings.Join(parts, "  ")
}

// Observe prints s if it differs from the previous snapshot.
func (p *Printer) Observe(s Snapshot) {
	if p.last != nil && *p.last == s {
		return
	}
	p.last = &s
	fmt.Fprintln(p.Out, p.Line(s))
}

// Source yields Canary snapshots as they change, until the context ends. Errors are reported on the second
// channel while the source keeps trying (an API server that is away for a while).
type Source interface {
	Snapshots(ctx context.Context) (<-chan Snapshot, <-chan error)
}

// FollowOptions configures Follow.
type FollowOptions struct {
	// Timeout ends the watch with ExitTimeout.
	Timeout time.Duration
	// PreviousRevision is the Canary's revision (status.lastAppliedSpec) before this release. Flagger leaves
	// the previous result (Succeeded, Failed) on the Canary until it notices the new revision, up to one
	// interval later: a terminal phase of this revision is that previous result, not this release's.
	PreviousRevision string
	// FirstRelease is set when the Canary did not exist before: Flagger initializes it without analysis, so
	// Initialized ends the rollout.
	FirstRelease bool
}

// Follow prints snapshots until the Canary succeeds (ExitSucceeded), fails (ExitFailed, after printing Flagger's
// reason), the timeout passes (ExitTimeout) or ctx is cancelled (ExitInterrupted).
func Follow(ctx context.Context, src Source, printer *Printer, o FollowOptions) int {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	snapshots, errs := src.Snapshots(ctx)
	var last Snapshot
	var lastErr error
	waitingShown := false
	// Flagger resets failedChecks when it marks the canary Failed, and its events may come late: keep what
	// this release showed.
	peakFailed, lastEvent := 0, ""
	for {
		select {
		case s, ok := <-snapshots:
			if !ok {
				snapshots = nil
				continue
			}
			if lastErr != nil {
				fmt.Fprintln(printer.Out, "API server reachable again")
				lastErr = nil
			}
			if o.PreviousRevision != "" && s.Revision == o.PreviousRevision && s.Terminal() {
				if !waitingShown {
					fmt.Fprintf(printer.Out, "waiting for Flagger to take up the new revision (the canary still shows the previous result, %s)\n", s.Phase)
					waitingShown = true
				}
				continue
			}
			printer.Observe(s)
			last = s
			peakFailed = max(peakFailed, s.FailedChecks)
			if s.Event != "" {
				lastEvent = s.Event
			}
			switch {
			case s.Phase == string(flaggerv1.CanaryPhaseSucceeded):
				fmt.Fprintln(printer.Out, "rollout succeeded")
				return ExitSucceeded
			case s.Phase == string(flaggerv1.CanaryPhaseInitialized) && o.FirstRelease:
				fmt.Fprintln(printer.Out, "canary initialized: podinfo-primary serves this version; later releases are analysed")
				return ExitSucceeded
			case s.Phase == string(flaggerv1.CanaryPhaseFailed):
				if s.Event == "" {
					s.Event = lastEvent
				}
				fmt.Fprintf(printer.Out, "rollout failed after %d failed checks: %s\n", peakFailed, reason(s))
				return ExitFailed
			}
		case err := <-errs:
			if err != nil && (lastErr == nil || err.Error() != lastErr.Error()) {
				fmt.Fprintf(printer.Out, "watch error (retrying): %v\n", err)
			}
			lastErr = err
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				msg := fmt.Sprintf("timed out after %s in phase %s", o.Timeout, phaseOrUnknown(last))
				if lastErr != nil {
					msg += "; last error: " + lastErr.Error()
				} else if d := reason(last); last.Phase != "" && d != "no reason reported" {
					msg += ": " + d
				}
				fmt.Fprintln(printer.Out, msg)
				return ExitTimeout
			}
			fmt.Fprintln(printer.Out, "stopped watching; the rollout goes on in the cluster")
			return ExitInterrupted
		}
	}
}

func phaseOrUnknown(s Snapshot) string {
	if s.Phase == "" {
		return "unknown (no canary seen)"
	}
	return s.Phase
}

// reason is Flagger's verdict, with the latest event when it adds to it.
func reason(s Snapshot) string {
	switch {
	case s.Reason != "" && s.Event != "" && s.Event != s.Reason:
		return fmt.Sprintf("%s (last event: %s)", s.Reason, s.Event)
	case s.Reason != "":
		return s.Reason
	case s.Event != "":
		return s.Event
	}
	return "no reason reported"
}

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
	objs := make(chan *unstructured.Unstructured)
	go func() {
		defer close(objs)
		_, err := watchtools.UntilWithSync(ctx, listThenWatch{lw}, &unstructured.Unstructured{}, nil, func(ev watch.Event) (bool, error) {
			obj, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				return false, nil
			}
			if ev.Type == watch.Deleted {
				report(fmt.Errorf("canary %s/%s was deleted", c.Namespace, c.Name))
				return false, nil
			}
			select {
			case objs <- obj:
				return false, nil
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
			case obj, ok := <-objs:
				if !ok {
					return
				}
				s, err := SnapshotFrom(obj, c.events(ctx))
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

// JSON renders a snapshot for `status --json`.
func (s Snapshot) JSON() (string, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	return string(b), err
}
