package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// state is what `up` leaves in --state-dir for `down` and a second `up` to find.
type state struct {
	PID          int    `json:"pid"`
	Ready        bool   `json:"ready"`
	Gateway      string `json:"gateway,omitempty"`
	Instructions string `json:"instructions,omitempty"`
}

func statePath(dir string) string { return filepath.Join(dir, "state.json") }

// readRunning returns the state of a demo whose process is alive.
func readRunning(dir string) (state, bool) {
	var st state
	b, err := os.ReadFile(statePath(dir))
	if err != nil || json.Unmarshal(b, &st) != nil || st.PID <= 0 {
		return st, false
	}
	return st, syscall.Kill(st.PID, 0) == nil
}

func writeState(dir string, st state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(dir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, statePath(dir))
}

// up starts `serve` in the background, in a session of its own so that the terminal's Ctrl-C does not reach it,
// and returns once the cluster is up and podinfo 6.0.0 deployed.
func up(ctx context.Context, o options, out io.Writer) error {
	if st, running := readRunning(o.stateDir); running {
		return fmt.Errorf("a demo is already running (pid %d); use it, or stop it with: make demo-down", st.PID)
	}
	if _, err := tools(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.stateDir, 0o700); err != nil {
		return err
	}
	_ = os.Remove(statePath(o.stateDir))
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := filepath.Join(o.stateDir, "demo.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(self, "serve", "--repo", o.repo, "--state-dir", o.stateDir,
		"--canary-threshold", fmt.Sprint(o.threshold), "--flagger-proxy-port", fmt.Sprint(o.proxyPort))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Fprintf(out, "starting the demo in the background (pid %d, log %s); it builds the program, deploys podinfo 6.0.0 and waits for Flagger\n", cmd.Process.Pid, logPath)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("the demo stopped before it was ready (%v):\n%s", err, tail(string(log), 3000))
		case <-ctx.Done():
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
			<-exited
			return errors.New("interrupted; the background demo was stopped")
		case <-tick.C:
			if st, running := readRunning(o.stateDir); running && st.Ready {
				fmt.Fprintf(out, "demo up: podinfo 6.0.0 deployed, canary Initialized.\n%sstop it with: make demo-down\n", st.Instructions)
				return nil
			}
		}
	}
}

// serve is the background side of up: it runs a session until SIGTERM (down) or SIGINT, then tears it down.
func serve(ctx context.Context, o options, out io.Writer) error {
	if err := writeState(o.stateDir, state{PID: os.Getpid()}); err != nil {
		return err
	}
	defer os.Remove(statePath(o.stateDir))
	t, err := tools()
	if err != nil {
		return err
	}
	s, err := startSession(ctx, t, o, filepath.Join(o.stateDir, "session"), out)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "tearing down")
		if err := s.close(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintln(out, "teardown:", err)
		}
	}()
	if code, _, err := s.release(ctx, "6.0.0"); err != nil || code != 0 {
		return fmt.Errorf("deploying podinfo 6.0.0: exit %d, %v", code, err)
	}
	if err := writeState(o.stateDir, state{PID: os.Getpid(), Ready: true, Gateway: s.gateway,
		Instructions: s.handInstructions()}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// down stops the background demo and waits until it has torn everything down.
func down(o options, out io.Writer) error {
	st, running := readRunning(o.stateDir)
	if !running {
		_ = os.Remove(statePath(o.stateDir))
		fmt.Fprintln(out, "no demo is running")
		return nil
	}
	if err := syscall.Kill(st.PID, syscall.SIGTERM); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for syscall.Kill(st.PID, 0) == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("the demo (pid %d) did not stop within 2 minutes; see %s", st.PID, filepath.Join(o.stateDir, "demo.log"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintf(out, "demo stopped (pid %d); every process it started is gone\n", st.PID)
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}
