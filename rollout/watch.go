// Package rollout drives a podinfo release from the terminal: it runs the stack update through the Automation API
// and then follows the Flagger Canary until it succeeds, fails or times out.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
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

// Source is where Follow reads one Canary.
type Source interface {
	// ListerWatcher lists and watches the Canary (and passes on Flagger's warnings about it as the Canary again),
	// reporting each list or watch error while client-go retries.
	ListerWatcher(report func(error)) *cache.ListWatch
	// Events are Flagger's events about the Canary.
	Events(ctx context.Context) []corev1.Event
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
	// Service is the released service's name, for the commands a wait at its manual gate calls for.
	Service string
}

// Follow prints snapshots until the Canary succeeds (ExitSucceeded), fails (ExitFailed, after printing Flagger's
// reason), is deleted (ExitDeleted), the timeout passes (ExitTimeout) or ctx is cancelled (ExitInterrupted). It is
// one condition over client-go's watchtools.UntilWithSync, as kubectl's rollout status is.
func Follow(ctx context.Context, src Source, printer *Printer, o FollowOptions) int {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	f := &follower{ctx: ctx, src: src, printer: printer, o: o, code: -1}
	_, err := watchtools.UntilWithSync(ctx, listThenWatch{src.ListerWatcher(f.watchError)}, &unstructured.Unstructured{}, nil, f.observe)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.code >= 0:
		return f.code
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		msg := fmt.Sprintf("timed out after %s in phase %s", o.Timeout, phaseOrUnknown(f.last))
		if f.lastErr != nil {
			msg += "; last error: " + cause(f.lastErr)
		} else if d := reason(f.last); f.last.Phase != "" && d != "no reason reported" {
			msg += ": " + d
		}
		fmt.Fprintln(printer.Out, msg)
		return ExitTimeout
	case ctx.Err() != nil:
		fmt.Fprintln(printer.Out, "stopped watching; the rollout goes on in the cluster")
		return ExitInterrupted
	}
	// UntilWithSync ends by itself only when its watch is closed: the result is not known.
	fmt.Fprintf(printer.Out, "the watch ended in phase %s: %v\n", phaseOrUnknown(f.last), err)
	return ExitTimeout
}

// follower is Follow's state between the watch's events. The condition and the error reports of client-go's
// retries come from different goroutines, hence the lock.
type follower struct {
	ctx     context.Context
	src     Source
	printer *Printer
	o       FollowOptions

	mu      sync.Mutex
	code    int
	last    Snapshot
	lastErr error
	// waitingShown: the wait for Flagger to take up the new revision is said once; gateShown: the wait at a
	// manual gate too.
	waitingShown, gateShown bool
	// Flagger resets failedChecks when it marks the canary Failed, and its events may come late: keep what
	// this release showed.
	peakFailed int
	lastEvent  string
	// lastHalt is Flagger's last "Halt ... advancement" event: the check that failed, by name and value.
	lastHalt string
	// analysing is set once Flagger shows this release in a non-terminal phase: until then a terminal phase
	// equal to the one before the release is the previous result (see PreviousPhase and PreviousRevision).
	analysing bool
}

// observe is the one condition: it prints the Canary's state and decides whether the rollout has ended.
func (f *follower) observe(ev watch.Event) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.printer.Out
	if ev.Type == watch.Deleted {
		fmt.Fprintf(out, "the canary was deleted while it was followed (last phase %s): its result will never be "+
			"known; deleting a Canary also deletes what Flagger made for it (podinfo-primary, its Services and routes). "+
			"Run `pulumi up` to create it again\n", phaseOrUnknown(f.last))
		f.code = ExitDeleted
		return true, nil
	}
	obj, ok := ev.Object.(*unstructured.Unstructured)
	if !ok {
		return false, nil
	}
	s, err := SnapshotFrom(obj, f.src.Events(f.ctx))
	if err != nil {
		f.reportLocked(err)
		return false, nil
	}
	if f.lastErr != nil {
		fmt.Fprintln(out, "API server reachable again")
		f.lastErr = nil
	}
	o := f.o
	failedBefore := o.PreviousPhase == string(flaggerv1.CanaryPhaseFailed) && s.Phase == o.PreviousPhase
	if o.PreviousRevision != "" && !f.analysing && s.Terminal() && (s.Revision == o.PreviousRevision || failedBefore) {
		if !f.waitingShown {
			fmt.Fprintf(out, "waiting for Flagger to take up the new revision (the canary still shows the previous result, %s)\n", s.Phase)
			f.waitingShown = true
		}
		return false, nil
	}
	f.analysing = f.analysing || !s.Terminal()
	f.printer.Observe(s)
	if s.Phase == string(flaggerv1.CanaryPhaseWaitingPromotion) && !f.gateShown {
		fmt.Fprintf(out, "the release waits at its gate: go run ./cmd/rollout approve --service %s promotes it, "+
			"rollback --service %s rolls it back\n", f.o.Service, f.o.Service)
		f.gateShown = true
	}
	f.last = s
	f.peakFailed = max(f.peakFailed, s.FailedChecks)
	if s.Event != "" {
		f.lastEvent = s.Event
		if strings.HasPrefix(s.Event, "Halt ") {
			f.lastHalt = s.Event
		}
	}
	switch {
	case s.Phase == string(flaggerv1.CanaryPhaseSucceeded):
		fmt.Fprintln(out, "rollout succeeded")
		f.code = ExitSucceeded
	case s.Phase == string(flaggerv1.CanaryPhaseInitialized) && o.FirstRelease:
		fmt.Fprintln(out, "canary initialized: podinfo-primary serves this version; later releases are analysed")
		f.code = ExitSucceeded
	case s.Phase == string(flaggerv1.CanaryPhaseFailed):
		if s.Event == "" {
			s.Event = f.lastEvent
		}
		fmt.Fprintf(out, "rollout failed after %d failed checks: %s\n", f.peakFailed, reason(s))
		if f.lastHalt != "" && f.lastHalt != s.Event {
			fmt.Fprintf(out, "the last failed check: %s\n", f.lastHalt)
		}
		f.code = ExitFailed
	}
	return f.code >= 0, nil
}

// watchError is called by client-go's reflector with each list or watch error (nil when one succeeds).
func (f *follower) watchError(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reportLocked(err)
}

func (f *follower) reportLocked(err error) {
	if err == nil || f.ctx.Err() != nil || f.code >= 0 {
		return
	}
	if f.lastErr == nil || cause(err) != cause(f.lastErr) {
		fmt.Fprintf(f.printer.Out, "watch error (retrying): %s\n", cause(err))
	}
	f.lastErr = err
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
