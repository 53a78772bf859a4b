package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Canary coordinates of the platform program (SPEC §4).
const (
	CanaryNamespace = "apps"
	CanaryName      = "podinfo"
)

// CheckVersion accepts only a tag that the stack mirrors into ECR.
func CheckVersion(version string, mirrored []string) error {
	if version == "" {
		return fmt.Errorf("--version: required, one of the mirrored tags %v", mirrored)
	}
	if !slices.Contains(mirrored, version) {
		return fmt.Errorf("--version: %q is not mirrored by this stack; want one of %v", version, mirrored)
	}
	return nil
}

// MirroredTags reads the stack's podinfoTags (a JSON list), or returns def when the stack does not set them.
func MirroredTags(ctx context.Context, stack auto.Stack, def []string) ([]string, error) {
	v, err := stack.GetConfig(ctx, "podinfoTags")
	if err != nil || v.Value == "" {
		return def, nil
	}
	var tags []string
	if err := json.Unmarshal([]byte(v.Value), &tags); err != nil {
		return nil, fmt.Errorf("reading the stack's podinfoTags: %w", err)
	}
	return tags, nil
}

// FormatEvent turns an engine event into one concise progress line, or reports false for events not worth a line.
func FormatEvent(e events.EngineEvent) (string, bool) {
	switch {
	case e.ResOutputsEvent != nil:
		m := e.ResOutputsEvent.Metadata
		if m.Op == apitype.OpSame || m.Type == "pulumi:pulumi:Stack" {
			return "", false
		}
		line := fmt.Sprintf("%s %s %s", opSymbol(m.Op), m.Op, resource.URN(m.URN).Name())
		if len(m.Diffs) > 0 {
			line += " (" + strings.Join(m.Diffs, ", ") + ")"
		}
		return line, true
	case e.ResOpFailedEvent != nil:
		m := e.ResOpFailedEvent.Metadata
		return fmt.Sprintf("x %s %s failed", m.Op, resource.URN(m.URN).Name()), true
	case e.DiagnosticEvent != nil:
		d := e.DiagnosticEvent
		if d.Severity != "warning" && d.Severity != "error" || d.Ephemeral {
			return "", false
		}
		return fmt.Sprintf("%s: %s", d.Severity, strings.TrimSpace(d.Message)), true
	case e.SummaryEvent != nil:
		s := e.SummaryEvent
		var counts []string
		for op, n := range s.ResourceChanges {
			if op != apitype.OpSame && n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n, op))
			}
		}
		sort.Strings(counts)
		if len(counts) == 0 {
			counts = []string{"no changes"}
		}
		return fmt.Sprintf("update %s in %ds: %s", s.Result, s.DurationSeconds, strings.Join(counts, ", ")), true
	}
	return "", false
}

func opSymbol(op apitype.OpType) string {
	switch op {
	case apitype.OpCreate:
		return "+"
	case apitype.OpDelete:
		return "-"
	case apitype.OpReplace, apitype.OpCreateReplacement, apitype.OpDeleteReplaced:
		return "+-"
	}
	return "~"
}

// ReleaseOptions configures a release.
type ReleaseOptions struct {
	Stack, Version, WorkDir string
	Timeout                 time.Duration
	// DefaultTags are the mirrored tags when the stack does not set podinfoTags.
	DefaultTags []string
	Out         io.Writer
}

// Release sets the stack's podinfo version, runs `pulumi up` with its events streamed as progress lines, then
// follows the Canary. It returns the exit code of Follow.
func Release(ctx context.Context, o ReleaseOptions) (int, error) {
	stack, err := auto.SelectStackLocalSource(ctx, o.Stack, o.WorkDir)
	if err != nil {
		return ExitFailed, fmt.Errorf("selecting stack %s in %s: %w", o.Stack, o.WorkDir, err)
	}
	tags, err := MirroredTags(ctx, stack, o.DefaultTags)
	if err != nil {
		return ExitFailed, err
	}
	if err := CheckVersion(o.Version, tags); err != nil {
		return ExitFailed, err
	}
	if err := stack.SetConfig(ctx, "podinfoVersion", auto.ConfigValue{Value: o.Version}); err != nil {
		return ExitFailed, fmt.Errorf("setting podinfoVersion: %w", err)
	}
	fmt.Fprintf(o.Out, "podinfoVersion=%s on stack %s; running pulumi up\n", o.Version, o.Stack)

	stream := make(chan events.EngineEvent)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for e := range stream {
			if line, ok := FormatEvent(e); ok {
				fmt.Fprintln(o.Out, "  "+line)
			}
		}
	}()
	// Ctrl-C must not touch the stack: cancelling the update would interrupt Pulumi and, 10 s later, kill it
	// mid-operation. So the update runs to its end; a first Ctrl-C only means "do not watch afterwards", and a
	// second one restores the default and exits, leaving pulumi (in its own process group) to finish.
	upDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			fmt.Fprintln(o.Out, "pulumi up runs to its end so the stack is not left half-updated; Ctrl-C again exits now and leaves it running")
			signal.Reset(os.Interrupt, syscall.SIGTERM)
		case <-upDone:
		}
	}()
	_, err = stack.Up(context.WithoutCancel(ctx), optup.EventStreams(stream))
	close(upDone)
	<-printed
	if err != nil {
		return ExitFailed, fmt.Errorf("pulumi up: %w", err)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(o.Out, "update done; not watching the canary (interrupted)")
		return ExitInterrupted, nil
	}
	src, err := SourceFromStack(ctx, stack)
	if err != nil {
		return ExitFailed, err
	}
	fmt.Fprintf(o.Out, "watching canary %s/%s (Ctrl-C stops watching; the rollout goes on)\n", CanaryNamespace, CanaryName)
	return Follow(ctx, src, NewPrinter(o.Out), o.Timeout), nil
}

// SourceFromStack builds a ClusterSource from the stack's kubeconfig output.
func SourceFromStack(ctx context.Context, stack auto.Stack) (ClusterSource, error) {
	outputs, err := stack.Outputs(ctx)
	if err != nil {
		return ClusterSource{}, fmt.Errorf("reading stack outputs: %w", err)
	}
	kubeconfig, _ := outputs["kubeconfig"].Value.(string)
	if kubeconfig == "" {
		return ClusterSource{}, fmt.Errorf("stack %s has no kubeconfig output; run pulumi up first", stack.Name())
	}
	return SourceFromKubeconfig([]byte(kubeconfig))
}

// SourceFromKubeconfig builds a ClusterSource for the platform's Canary.
func SourceFromKubeconfig(kubeconfig []byte) (ClusterSource, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return ClusterSource{}, fmt.Errorf("reading kubeconfig: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return ClusterSource{}, err
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return ClusterSource{}, err
	}
	return ClusterSource{Dynamic: dyn, Core: core, Namespace: CanaryNamespace, Name: CanaryName}, nil
}
