package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/progressive-delivery/platform/manifests"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// Canary coordinates of the platform program: the Canary podinfo, in namespace apps unless the stack sets
// appNamespace.
const (
	CanaryNamespace = manifests.AppNamespace
	CanaryName      = manifests.AppName
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

// MirroredTags reads the stack's podinfoTags (a JSON list), else the default Pulumi.yaml declares for it, else
// def (an inline program's project declares none).
func MirroredTags(ctx context.Context, stack auto.Stack, def []string) ([]string, error) {
	if v, err := stack.GetConfig(ctx, "podinfoTags"); err == nil && v.Value != "" {
		var tags []string
		if err := json.Unmarshal([]byte(v.Value), &tags); err != nil {
			return nil, fmt.Errorf("reading the stack's podinfoTags: %w", err)
		}
		return tags, nil
	}
	if project, err := stack.Workspace().ProjectSettings(ctx); err == nil {
		if tags := declaredTags(project); tags != nil {
			return tags, nil
		}
	}
	return def, nil
}

// declaredTags is podinfoTags' default in the project file, or nil.
func declaredTags(project *workspace.Project) []string {
	declared, ok := project.Config["podinfoTags"].Default.([]any)
	if !ok {
		return nil
	}
	tags := make([]string, 0, len(declared))
	for _, t := range declared {
		tags = append(tags, fmt.Sprint(t))
	}
	return tags
}

// ReleaseOptions configures a release.
type ReleaseOptions struct {
	Stack, Version, WorkDir string
	Timeout                 time.Duration
	// SecondInterruptExits restores the default signal handling once the first Ctrl-C arrived during pulumi
	// up, so that a second one ends the process (the command's behaviour); a caller with its own clean-up
	// leaves it false.
	SecondInterruptExits bool
	// Workspace are options of the stack's workspace (environment, CLI). Optional; the ambient ones by default.
	Workspace []auto.LocalWorkspaceOption
	// DefaultTags are the mirrored tags when neither the stack nor Pulumi.yaml sets podinfoTags (an inline
	// program). Optional.
	DefaultTags []string
	Out         io.Writer
}

// Release sets the stack's podinfo version, runs `pulumi up` with its events streamed as progress lines, then
// follows the Canary. It returns the exit code of Follow.
func Release(ctx context.Context, o ReleaseOptions) (int, error) {
	// The pulumi on PATH in a process group of its own; a CLI among the caller's options comes later and wins.
	var opts []auto.LocalWorkspaceOption
	if cli, err := NewCLI(""); err == nil {
		opts = append(opts, auto.Pulumi(cli))
	}
	stack, err := auto.SelectStackLocalSource(ctx, o.Stack, o.WorkDir, append(opts, o.Workspace...)...)
	if err != nil {
		return ExitFailed, fmt.Errorf("selecting stack %s in %s: %w", o.Stack, o.WorkDir, err)
	}
	return ReleaseOn(ctx, stack, o)
}

// ReleaseOn is Release on a stack already selected (o.Stack and o.WorkDir are not used).
func ReleaseOn(ctx context.Context, stack auto.Stack, o ReleaseOptions) (int, error) {
	tags, err := MirroredTags(ctx, stack, o.DefaultTags)
	if err != nil {
		return ExitFailed, err
	}
	if err := CheckVersion(o.Version, tags); err != nil {
		return ExitFailed, err
	}
	// What the cluster holds before the update, when the stack has been deployed: the Canary's revision tells
	// this release's result from the previous one's, the Deployment's pod template whether there is a new revision
	// at all.
	src, srcErr := SourceFromStack(ctx, stack)
	var before clusterState
	if srcErr == nil {
		before = src.state(ctx)
	}
	if err := stack.SetConfig(ctx, "podinfoVersion", auto.ConfigValue{Value: o.Version}); err != nil {
		return ExitFailed, fmt.Errorf("setting podinfoVersion: %w", err)
	}
	fmt.Fprintf(o.Out, "podinfoVersion=%s on stack %s; running pulumi up\n", o.Version, stack.Name())

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
	// mid-operation. So the update runs to its end; a first Ctrl-C only means "do not watch afterwards", and,
	// for the command, a second one restores the default and exits, leaving pulumi (in its own process group)
	// to finish.
	upDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			if o.SecondInterruptExits {
				fmt.Fprintln(o.Out, "pulumi up runs to its end so the stack is not left half-updated; Ctrl-C again exits now and leaves it running")
				signal.Reset(os.Interrupt, syscall.SIGTERM)
			} else {
				fmt.Fprintln(o.Out, "pulumi up runs to its end so the stack is not left half-updated")
			}
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
	if srcErr != nil {
		if src, srcErr = SourceFromStack(ctx, stack); srcErr != nil {
			return ExitFailed, srcErr
		}
	}
	after := src.state(ctx)
	if before.canaryExists && after.template == before.template {
		return src.unchanged(ctx, o.Out)
	}
	fmt.Fprintf(o.Out, "watching canary %s/%s (Ctrl-C stops watching; the rollout goes on)\n", src.Namespace, src.Name)
	return Follow(ctx, src, NewPrinter(o.Out), FollowOptions{
		Timeout:          o.Timeout,
		PreviousRevision: before.revision,
		PreviousPhase:    before.phase,
		FirstRelease:     !before.canaryExists,
	}), nil
}
