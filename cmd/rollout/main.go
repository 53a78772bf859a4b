// Command rollout releases a version of one of the stack's services and follows its Flagger canary live.
//
//	go run ./cmd/rollout --stack dev --version 6.0.1
//	go run ./cmd/rollout status --stack dev [--json]
//	go run ./cmd/rollout approve|halt|rollback --stack dev --service cart
//
// Exit codes: 0 promoted, 1 rolled back (or the update failed), 2 timed out, 64 bad flags, 130 Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/progressive-delivery/platform/program/services"
	"github.com/progressive-delivery/platform/rollout"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// exitUsage is returned for bad flags (EX_USAGE).
const exitUsage = 64

func main() {
	rollout.SilenceClientGoLogs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type releaseFlags struct {
	stack, service, version, workDir string
	timeout                          time.Duration
}

type gateFlags struct {
	stack, service, workDir string
}

type statusFlags struct {
	stack, workDir string
	json           bool
}

// stackFlags is the flag set of a subcommand with the flags every subcommand takes: the stack and the project
// directory.
func stackFlags(name, stackUsage string, stderr io.Writer, stack, workDir *string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(stack, "stack", "dev", stackUsage)
	fs.StringVar(workDir, "work-dir", ".", "directory holding Pulumi.yaml")
	return fs
}

// parseArgs parses args and refuses positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func parseRelease(args []string, stderr io.Writer) (releaseFlags, error) {
	var f releaseFlags
	fs := stackFlags("rollout", "stack to release on (a Pulumi.<stack>.yaml)", stderr, &f.stack, &f.workDir)
	fs.StringVar(&f.service, "service", "", "service to release (services.<name>); required when the stack has more than one")
	fs.StringVar(&f.version, "version", "", "version to release; one of the service's mirrored tags (services.<name>.image.tags)")
	fs.DurationVar(&f.timeout, "timeout", 20*time.Minute, "how long to follow the canary after pulumi up")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: rollout [flags]          release a service's version and follow its canary
       rollout status [flags]   print every service's canary once
       rollout approve [flags]  open a manual gate: the waiting release is promoted
       rollout halt [flags]     close it again: the release keeps waiting
       rollout rollback [flags] roll the release back

Sets services.<service>.version in the stack, runs pulumi up (Automation API) with concise progress, then watches
the service's Flagger Canary through the stack's kubeconfig output until it is Succeeded (exit 0), Failed (exit 1,
with Flagger's reason) or the timeout passes (exit 2). Ctrl-C stops watching and leaves the stack as it is.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseArgs(fs, args); err != nil {
		return f, err
	}
	if f.version == "" {
		return f, errors.New("--version is required (e.g. --version 6.0.1)")
	}
	if f.timeout <= 0 {
		return f, fmt.Errorf("--timeout must be positive, got %s", f.timeout)
	}
	return f, checkStack(f.stack, f.workDir)
}

func parseGate(action rollout.GateAction, args []string, stderr io.Writer) (gateFlags, error) {
	var f gateFlags
	fs := stackFlags("rollout "+string(action), "stack of the service", stderr, &f.stack, &f.workDir)
	fs.StringVar(&f.service, "service", "", "service whose gate to use (services.<name>, gate manual); required when the stack has more than one")
	if err := parseArgs(fs, args); err != nil {
		return f, err
	}
	return f, checkStack(f.stack, f.workDir)
}

func parseStatus(args []string, stderr io.Writer) (statusFlags, error) {
	var f statusFlags
	fs := stackFlags("rollout status", "stack whose canary to show", stderr, &f.stack, &f.workDir)
	fs.BoolVar(&f.json, "json", false, "print the state as JSON")
	if err := parseArgs(fs, args); err != nil {
		return f, err
	}
	return f, checkStack(f.stack, f.workDir)
}

// checkStack fails early, before any Pulumi work, when the stack file or project is not there.
func checkStack(stack, workDir string) error {
	if stack == "" {
		return errors.New("--stack must not be empty")
	}
	if _, err := os.Stat(filepath.Join(workDir, "Pulumi.yaml")); err != nil {
		return fmt.Errorf("--work-dir %s: no Pulumi.yaml there", workDir)
	}
	if _, err := os.Stat(filepath.Join(workDir, "Pulumi."+stack+".yaml")); err != nil {
		return fmt.Errorf("--stack %s: no Pulumi.%s.yaml in %s", stack, stack, workDir)
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "status" {
		f, err := parseStatus(args[1:], stderr)
		if err != nil {
			return usageError(err, stderr)
		}
		return status(ctx, f, stdout, stderr)
	}
	if len(args) > 0 && slices.Contains(rollout.GateActions, rollout.GateAction(args[0])) {
		action := rollout.GateAction(args[0])
		f, err := parseGate(action, args[1:], stderr)
		if err != nil {
			return usageError(err, stderr)
		}
		return gate(ctx, action, f, stdout, stderr)
	}
	f, err := parseRelease(args, stderr)
	if err != nil {
		return usageError(err, stderr)
	}
	code, err := rollout.Release(ctx, rollout.ReleaseOptions{
		Stack: f.stack, Service: f.service, Version: f.version, WorkDir: f.workDir, Timeout: f.timeout,
		Out: stdout, SecondInterruptExits: true,
	})
	if err != nil {
		fmt.Fprintln(stderr, "rollout:", err)
	}
	return code
}

func usageError(err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "rollout:", err)
	return exitUsage
}

// gate performs the action at the gate of the stack's service, whose release waits there (gate manual).
func gate(ctx context.Context, action rollout.GateAction, f gateFlags, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(stderr, "rollout:", err)
		return rollout.ExitFailed
	}
	stack, err := auto.SelectStackLocalSource(ctx, f.stack, f.workDir)
	if err != nil {
		return fail(err)
	}
	specs, err := rollout.StackServices(ctx, stack)
	if err != nil {
		return fail(err)
	}
	name, spec, err := rollout.PickService(specs, f.service)
	if err != nil {
		return fail(err)
	}
	src, err := rollout.SourceForService(ctx, stack, name, spec.Namespace)
	if err != nil {
		return fail(err)
	}
	if err := rollout.GateOn(ctx, src, spec.Gate, action, stdout); err != nil {
		return fail(err)
	}
	return 0
}

func status(ctx context.Context, f statusFlags, stdout, stderr io.Writer) int {
	stack, err := auto.SelectStackLocalSource(ctx, f.stack, f.workDir)
	if err != nil {
		fmt.Fprintln(stderr, "rollout:", err)
		return rollout.ExitFailed
	}
	specs, err := rollout.StackServices(ctx, stack)
	if err != nil {
		fmt.Fprintln(stderr, "rollout:", err)
		return rollout.ExitFailed
	}
	code := 0
	for _, name := range services.Names(specs) {
		src, err := rollout.SourceForService(ctx, stack, name, specs[name].Namespace)
		if err != nil {
			fmt.Fprintln(stderr, "rollout:", err)
			return rollout.ExitFailed
		}
		code = max(code, printStatus(ctx, src, f.json, stdout, stderr))
	}
	return code
}

// printStatus prints the Canary once, as a line or JSON.
func printStatus(ctx context.Context, src rollout.ClusterSource, asJSON bool, stdout, stderr io.Writer) int {
	s, err := src.Get(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "rollout:", err)
		return rollout.ExitFailed
	}
	if asJSON {
		out, err := s.JSON()
		if err != nil {
			fmt.Fprintln(stderr, "rollout:", err)
			return rollout.ExitFailed
		}
		fmt.Fprintln(stdout, out)
		return 0
	}
	fmt.Fprintln(stdout, rollout.NewPrinter(stdout).Line(s))
	return 0
}
