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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
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
	// Message is Flagger's latest event message about the Canary (why it halted, failed or promoted), or the
	// status condition's message when there is no event.
	Message string `json:"message,omitempty"`
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
	}
	if a := c.GetAnalysis(); a != nil {
		s.MaxWeight, s.Threshold = a.MaxWeight, a.Threshold
	}
	if !c.Status.LastTransitionTime.IsZero() {
		s.LastTransition = c.Status.LastTransitionTime.UTC().Format(time.RFC3339)
	}
	for _, cond := range c.Status.Conditions {
		if cond.Message != "" {
			s.Message = cond.Message
		}
	}
	if m := latestEvent(events); m != "" {
		s.Message = m
	}
	if s.Phase == "" {
		s.Phase = "Pending"
	}
	return s, nil
}

func latestEvent(events []corev1.Event) string {
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
	return sorted[len(sorted)-1].Message
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
		ratio := float64(s.Weight) / float64(s.MaxWeight)
		parts = append(parts, fmt.Sprintf("%s %3d%%/%d%%", p.bar.ViewAs(min(max(ratio, 0), 1)), s.Weight, s.MaxWeight))
	}
	if s.Threshold > 0 {
		parts = append(parts, fmt.Sprintf("failed checks %d/%d", s.FailedChecks, s.Threshold))
	}
	if s.Message != "" {
		parts = append(parts, dim.Render(s.Message))
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

// Source yields Canary snapshots as they change, until the context ends.
type Source interface {
	Snapshots(ctx context.Context) (<-chan Snapshot, <-chan error)
}

// Follow prints snapshots until the Canary succeeds (ExitSucceeded), fails (ExitFailed, after printing Flagger's
// reason), the timeout passes (ExitTimeout) or ctx is cancelled (ExitInterrupted).
func Follow(ctx context.Context, src Source, printer *Printer, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	snapshots, errs := src.Snapshots(ctx)
	var last Snapshot
	for {
		select {
		case s, ok := <-snapshots:
			if !ok {
				snapshots = nil
				continue
			}
			printer.Observe(s)
			last = s
			if s.Phase == string(flaggerv1.CanaryPhaseSucceeded) {
				fmt.Fprintln(printer.Out, "rollout succeeded")
				return ExitSucceeded
			}
			if s.Phase == string(flaggerv1.CanaryPhaseFailed) {
				reason := s.Message
				if reason == "" {
					reason = "no reason reported"
				}
				fmt.Fprintf(printer.Out, "rollout failed after %d failed checks: %s\n", s.FailedChecks, reason)
				return ExitFailed
			}
		case err := <-errs:
			if err != nil {
				fmt.Fprintf(printer.Out, "watch error: %v\n", err)
			}
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				fmt.Fprintf(printer.Out, "timed out after %s in phase %s\n", timeout, last.Phase)
				return ExitTimeout
			}
			fmt.Fprintln(printer.Out, "stopped watching; the rollout goes on in the cluster")
			return ExitInterrupted
		}
	}
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
		FieldSelector: "involvedObject.kind=Canary,involvedObject.name=" + c.Name,
	})
	if err != nil {
		return nil
	}
	return list.Items
}

// Snapshots sends the current state, then every change the watch reports.
func (c ClusterSource) Snapshots(ctx context.Context) (<-chan Snapshot, <-chan error) {
	out := make(chan Snapshot)
	errs := make(chan error, 1)
	go func() {
		defer close(out)
		res := c.Dynamic.Resource(CanaryResource).Namespace(c.Namespace)
		for ctx.Err() == nil {
			obj, err := res.Get(ctx, c.Name, metav1.GetOptions{})
			if err != nil {
				sendErr(ctx, errs, err)
				if !sleep(ctx, 2*time.Second) {
					return
				}
				continue
			}
			if !c.send(ctx, out, obj) {
				return
			}
			w, err := res.Watch(ctx, metav1.ListOptions{
				FieldSelector:   "metadata.name=" + c.Name,
				ResourceVersion: obj.GetResourceVersion(),
			})
			if err != nil {
				sendErr(ctx, errs, err)
				if !sleep(ctx, 2*time.Second) {
					return
				}
				continue
			}
			c.drain(ctx, w, out)
			w.Stop()
		}
	}()
	return out, errs
}

// drain forwards watch events until the watch closes (the server ends watches now and then; the caller re-lists).
func (c ClusterSource) drain(ctx context.Context, w watch.Interface, out chan<- Snapshot) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			obj, isObj := ev.Object.(*unstructured.Unstructured)
			if !isObj || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			if !c.send(ctx, out, obj) {
				return
			}
		}
	}
}

func (c ClusterSource) send(ctx context.Context, out chan<- Snapshot, obj *unstructured.Unstructured) bool {
	s, err := SnapshotFrom(obj, c.events(ctx))
	if err != nil {
		return true
	}
	select {
	case out <- s:
		return true
	case <-ctx.Done():
		return false
	}
}

func sendErr(ctx context.Context, errs chan<- error, err error) {
	select {
	case errs <- err:
	case <-ctx.Done():
	default:
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// JSON renders a snapshot for `status --json`.
func (s Snapshot) JSON() (string, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	return string(b), err
}
