package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/progressive-delivery/platform/rollout"
)

// releaseResult is one line of the summary.
type releaseResult struct {
	version, phase string
	code           int
	wall           time.Duration
}

// expected is the walkthrough's outcome: 6.0.0 initialized, 6.0.1 promoted, 6.0.2 rolled back.
var expected = []releaseResult{{version: "6.0.0", code: 0}, {version: "6.0.1", code: 0}, {version: "6.0.2", code: 1}}

// runDemo goes through the walkthrough's demonstration start to end and tears everything down, also on Ctrl-C.
func runDemo(ctx context.Context, o options, out io.Writer) (err error) {
	if st, running := readRunning(o.stateDir); running {
		return fmt.Errorf("a demo started by `make demo-up` is running (pid %d); stop it first with: make demo-down", st.PID)
	}
	t, err := tools()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "progressive-delivery-demo-")
	if err != nil {
		return err
	}
	start := time.Now()
	s, err := startSession(ctx, t, o, dir, out)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "tearing down: pulumi destroy, then every process the demo started")
		closeErr := s.close(context.WithoutCancel(ctx))
		if closeErr == nil {
			fmt.Fprintf(out, "torn down; nothing left running (%s in all)\n", time.Since(start).Round(time.Second))
		}
		err = errors.Join(err, closeErr)
	}()

	var results []releaseResult
	for _, step := range expected {
		if ctx.Err() != nil {
			return errors.New("interrupted")
		}
		stopErrors := func() {}
		if step.version == "6.0.2" {
			fmt.Fprintf(out, "\nduring 6.0.2's analysis the demo sends, five times a second, what the walkthrough's\n"+
				"  watch curl -H 'Host: podinfo.example.com' http://%s/status/500\nsends: podinfo answers 500, Prometheus counts it, Flagger rolls back\n", s.gateway)
			stopErrors = sendErrors(ctx, s.gateway)
		}
		fmt.Fprintf(out, "\n== release %s\n", step.version)
		code, wall, err := s.release(ctx, step.version)
		stopErrors()
		if err != nil {
			return err
		}
		phase := "unknown"
		if snap, err := (rollout.ClusterSource{Dynamic: s.cluster.Dynamic, Core: s.cluster.Core,
			Namespace: rollout.CanaryNamespace, Name: rollout.CanaryName}).Get(ctx); err == nil {
			phase = snap.Phase
		}
		results = append(results, releaseResult{version: step.version, phase: phase, code: code, wall: wall})
		if code == rollout.ExitInterrupted {
			return errors.New("interrupted")
		}
	}
	fmt.Fprint(out, summary(results, o.threshold, s.primaryImage(ctx)))
	for i, r := range results {
		if r.code != expected[i].code {
			return fmt.Errorf("release %s ended with exit %d, the walkthrough expects %d", r.version, r.code, expected[i].code)
		}
	}
	return nil
}

func summary(results []releaseResult, threshold int, primary string) string {
	s := fmt.Sprintf("\nsummary (canaryThreshold %d):\n  %-8s %-12s %-5s %s\n", threshold, "release", "phase", "exit", "wall time")
	for _, r := range results {
		s += fmt.Sprintf("  %-8s %-12s %-5d %s\n", r.version, r.phase, r.code, r.wall.Round(time.Second))
	}
	return s + fmt.Sprintf("  podinfo-primary runs %s\n", primary)
}

// sendErrors requests /status/500 through the gateway five times a second until the returned function is called.
func sendErrors(ctx context.Context, gateway string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+gateway+"/status/500", nil)
			if err != nil {
				return
			}
			req.Host = "podinfo.example.com"
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
	return func() { cancel(); <-done }
}
