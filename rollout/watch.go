// Package rollout drives a podinfo release from the terminal: it runs the stack update through the Automation API
// and then follows the Flagger Canary until it succeeds, fails or times out.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// CanaryResource is the Flagger Canary API resource.
var CanaryResource = schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}

// Exit codes of a watched rollout.
const (
	ExitSucceeded = 0
	ExitFailed    = 1
	// ExitTimeout and ExitDeleted: the rollout's result is not known, because the time ran out or the Canary was
	// deleted while it was followed.
	ExitTimeout = 2
	ExitDeleted = 2
	// ExitInterrupted is returned when the user stops watching (Ctrl-C); the rollout goes on in the cluster.
	ExitInterrupted = 130
)

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
	// PreviousPhase is the Canary's phase before this release. On a Failed canary Flagger first writes the new
	// revision with the phase still Failed (v1.36.1 shouldAdvance: "sync lastAppliedSpec even if the canary is
	// in a failed state"), then starts the analysis: that Failed is the previous result too.
	PreviousPhase string
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
	// analysing is set once Flagger shows this release in a non-terminal phase: until then a terminal phase
	// equal to the one before the release is the previous result (see PreviousPhase and PreviousRevision).
	analysing := false
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
			failedBefore := o.PreviousPhase == string(flaggerv1.CanaryPhaseFailed) && s.Phase == o.PreviousPhase
			if o.PreviousRevision != "" && !analysing && s.Terminal() && (s.Revision == o.PreviousRevision || failedBefore) {
				if !waitingShown {
					fmt.Fprintf(printer.Out, "waiting for Flagger to take up the new revision (the canary still shows the previous result, %s)\n", s.Phase)
					waitingShown = true
				}
				continue
			}
			if s.Phase == PhaseDeleted {
				fmt.Fprintf(printer.Out, "the canary was deleted while it was followed (last phase %s): its result will never be "+
					"known; deleting a Canary also deletes what Flagger made for it (podinfo-primary, its Services and routes). "+
					"Run `pulumi up` to create it again\n", phaseOrUnknown(last))
				return ExitDeleted
			}
			analysing = analysing || !s.Terminal()
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
			if err != nil && (lastErr == nil || cause(err) != cause(lastErr)) {
				fmt.Fprintf(printer.Out, "watch error (retrying): %s\n", cause(err))
			}
			lastErr = err
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				msg := fmt.Sprintf("timed out after %s in phase %s", o.Timeout, phaseOrUnknown(last))
				if lastErr != nil {
					msg += "; last error: " + cause(lastErr)
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

// cause is what a watch error says without the request's URL, which changes with every retry.
func cause(err error) string {
	if u := (*url.Error)(nil); errors.As(err, &u) {
		return u.Err.Error()
	}
	return err.Error()
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
