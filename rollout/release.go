package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/progressive-delivery/platform/manifests"
	"github.com/progressive-delivery/platform/program/services"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
)

// Canary coordinates of the walkthrough's service: the Canary podinfo in namespace apps.
const (
	CanaryNamespace = manifests.AppNamespace
	CanaryName      = manifests.AppName
)

// CheckVersion accepts only a tag that the service mirrors into ECR; a service pulled from its source accepts any
// tag (mirrored empty).
func CheckVersion(service, version string, mirrored []string) error {
	if version == "" {
		return fmt.Errorf("--version: required, one of the mirrored tags %v of service %s", mirrored, service)
	}
	if len(mirrored) > 0 && !slices.Contains(mirrored, version) {
		return fmt.Errorf("--version: %q is not mirrored for service %s; want one of %v (services.%s.image.tags)", version, service, mirrored, service)
	}
	return nil
}

// StackServices reads the stack's services key as the program does (services.Parse); a stack that sets none
// runs the defaults Pulumi.yaml declares, services.Defaults.
func StackServices(ctx context.Context, stack auto.Stack) (map[string]services.Spec, error) {
	v, err := stack.GetConfig(ctx, services.Key)
	if err != nil || v.Value == "" {
		return services.Defaults(), nil
	}
	return services.Parse(v.Value)
}

// PickService is the service a command acts on: the one named, or the stack's only one.
func PickService(specs map[string]services.Spec, name string) (string, services.Spec, error) {
	names := services.Names(specs)
	if name == "" {
		if len(names) != 1 {
			return "", services.Spec{}, fmt.Errorf("--service: required, the stack has services %v", names)
		}
		name = names[0]
	}
	spec, ok := specs[name]
	if !ok {
		return "", services.Spec{}, fmt.Errorf("--service: %q is not a service of the stack; want one of %v", name, names)
	}
	return name, spec, nil
}

// ReleaseOptions configures a release.
type ReleaseOptions struct {
	Stack, Version, WorkDir string
	// Service is the service released; optional when the stack has one.
	Service string
	Timeout time.Duration
	// SecondInterruptExits restores the default signal handling once the first Ctrl-C arrived during pulumi
	// up, so that a second one ends the process (the command's behaviour); a caller with its own clean-up
	// leaves it false.
	SecondInterruptExits bool
	// Workspace are options of the stack's workspace (environment, CLI). Optional; the ambient ones by default.
	Workspace []auto.LocalWorkspaceOption
	Out       io.Writer
}

// Release sets the service's version in the stack, runs `pulumi up` with its events streamed as progress lines, then
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
	specs, err := StackServices(ctx, stack)
	if err != nil {
		return ExitFailed, err
	}
	name, spec, err := PickService(specs, o.Service)
	if err != nil {
		return ExitFailed, err
	}
	if err := CheckVersion(name, o.Version, spec.Image.Tags); err != nil {
		return ExitFailed, err
	}
	// What the cluster holds before the update, when the stack has been deployed: the Canary's revision tells
	// this release's result from the previous one's, the Deployment's pod template whether there is a new revision
	// at all.
	src, srcErr := SourceForService(ctx, stack, name, spec.Namespace)
	var before clusterState
	if srcErr == nil {
		before = src.state(ctx)
		if spec.Gate == manifests.GateManual {
			if err := src.resetGates(ctx); err != nil {
				return ExitFailed, fmt.Errorf("closing the gates of %s before the release: %w", name, err)
			}
		}
	}
	unlock, err := lockForRelease(ctx, stack, o.Out)
	if err != nil {
		return ExitFailed, err
	}
	path := fmt.Sprintf("%s.%s.version", services.Key, name)
	if err := stack.SetConfigWithOptions(ctx, path, auto.ConfigValue{Value: o.Version}, &auto.ConfigOptions{Path: true}); err != nil {
		unlock()
		return ExitFailed, fmt.Errorf("setting %s: %w", path, err)
	}
	fmt.Fprintf(o.Out, "%s=%s on stack %s; running pulumi up\n", path, o.Version, stack.Name())

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
	updated := time.Now()
	err = upWhenUnlocked(ctx, stack, o.Out)
	unlock()
	close(upDone)
	if err != nil {
		// The config keeps the new version, so the next `pulumi up` of anything would start this release.
		fmt.Fprintf(o.Out, "the stack's config now holds %s=%s; the next pulumi up releases it. To set it back: "+
			"pulumi config set --path '%s' %s\n", path, o.Version, path, spec.Version)
		return ExitFailed, fmt.Errorf("pulumi up: %w", err)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(o.Out, "update done; not watching the canary (interrupted)")
		return ExitInterrupted, nil
	}
	if srcErr != nil {
		if src, srcErr = SourceForService(ctx, stack, name, spec.Namespace); srcErr != nil {
			return ExitFailed, srcErr
		}
	}
	after := src.state(ctx)
	if before.canaryExists && after.template == before.template {
		return src.unchanged(ctx, o.Out)
	}
	fmt.Fprintf(o.Out, "watching canary %s/%s (Ctrl-C stops watching; the rollout goes on)\n", src.Namespace, src.Name)
	code := Follow(ctx, src, NewPrinter(o.Out), FollowOptions{
		Timeout:          o.Timeout,
		PreviousRevision: before.revision,
		PreviousPhase:    before.phase,
		FirstRelease:     !before.canaryExists,
		Service:          name,
	})
	if code == ExitFailed || code == ExitTimeout {
		if refused := src.RefusedPods(context.WithoutCancel(ctx), updated); refused != "" {
			fmt.Fprintf(o.Out, "the new version's pods were refused by the API server: %s\n", refused)
		}
	}
	return code, nil
}

// lockRetry is how often a release waiting for the stack's lock tries again.
var lockRetry = 5 * time.Second

// upWhenUnlocked runs pulumi up with its events printed as progress lines, waiting while another operation holds
// the stack's lock (another service's release from another terminal, say) instead of failing: the lock is taken
// only once the update starts, so a refused up changed nothing. Ctrl-C stops the waiting, not an update under way.
func upWhenUnlocked(ctx context.Context, stack auto.Stack, out io.Writer) error {
	for said := false; ; said = true {
		// The Automation API closes an operation's event channels once it has read its event log, so each attempt
		// gets its own; an attempt that fails before reading it never closes it, hence the bounded wait.
		stream := make(chan events.EngineEvent)
		printed := make(chan struct{})
		go func() {
			defer close(printed)
			for e := range stream {
				if line, ok := FormatEvent(e); ok {
					fmt.Fprintln(out, "  "+line)
				}
			}
		}()
		_, err := stack.Up(context.WithoutCancel(ctx), optup.EventStreams(stream))
		select {
		case <-printed:
		case <-time.After(2 * time.Second):
		}
		if err == nil || !auto.IsConcurrentUpdateError(err) {
			return err
		}
		if !said {
			fmt.Fprintf(out, "stack %s is locked by another update (another release?); waiting for it to finish\n", stack.Name())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting for the stack's lock: %w", err)
		case <-time.After(lockRetry):
		}
	}
}

// lockForRelease takes the lock file a release holds beside the stack's settings while it sets its version and
// runs pulumi up, and returns its release. Two releases of two services from two terminals would otherwise
// rewrite Pulumi.<stack>.yaml under each other (a `pulumi config set` during another's up was seen to drop the
// kubeconfig key), and the first up would deploy the second's version. The file holds the holder's process ID,
// so a lock left by a killed command is taken over.
func lockForRelease(ctx context.Context, stack auto.Stack, out io.Writer) (unlock func(), err error) {
	lock := filepath.Join(stack.Workspace().WorkDir(), ".Pulumi."+strings.ReplaceAll(stack.Name(), "/", "_")+".yaml.release-lock")
	return holdLock(ctx, lock, stack.Name(), out)
}

// holdLock waits for the lock file, then holds it until unlock.
func holdLock(ctx context.Context, lock, stackName string, out io.Writer) (unlock func(), err error) {
	for said := false; ; said = true {
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			_, werr := fmt.Fprintf(f, "%d\n", os.Getpid())
			if err := errors.Join(werr, f.Close()); err != nil {
				return nil, errors.Join(err, os.Remove(lock))
			}
			return func() { _ = os.Remove(lock) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("taking the release lock %s: %w", lock, err)
		}
		holder, _ := os.ReadFile(lock)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(holder))); err == nil && !processAlive(pid) {
			_ = os.Remove(lock) // its holder is gone
			continue
		}
		if !said {
			fmt.Fprintf(out, "another release of stack %s is running pulumi up (process %s, %s); waiting for it\n",
				stackName, strings.TrimSpace(string(holder)), lock)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped waiting for the release lock %s: %w", lock, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// processAlive reports whether process pid exists on this machine (signal 0 checks without signalling); where that
// cannot be asked, it is taken to be alive.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}
