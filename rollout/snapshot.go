package rollout

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/lipgloss"
	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
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
	sort.SliceStable(sorted, func(i, j int) bool { return eventTime(sorted[i]).Before(eventTime(sorted[j])) })
	newest := sorted[len(sorted)-1]
	if eventTime(newest).Truncate(time.Second).Before(since.Truncate(time.Second)) {
		return ""
	}
	return strings.TrimPrefix(newest.Message, "(combined from similar events): ")
}

// eventTime is when an event last happened, from whichever of its times its recorder set.
func eventTime(e corev1.Event) time.Time {
	for _, t := range []time.Time{e.LastTimestamp.Time, e.EventTime.Time, e.FirstTimestamp.Time, e.CreationTimestamp.Time} {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// phaseStyle colours the phases that end a rollout.
var (
	phaseStyle = map[string]lipgloss.Style{
		string(flaggerv1.CanaryPhaseSucceeded): lipgloss.NewStyle().Foreground(lipgloss.Color("2")).Bold(true),
		string(flaggerv1.CanaryPhaseFailed):    lipgloss.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
	}
	dim = lipgloss.NewStyle().Faint(true)
)

// Printer renders snapshots as concise progress lines, printing only what changed.
type Printer struct {
	Out  io.Writer
	bar  progress.Model
	last *Snapshot
}

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

// JSON renders a snapshot for `status --json`.
func (s Snapshot) JSON() (string, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	return string(b), err
}
