package rollout

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// ownGroupCLI runs the Pulumi CLI in a process group of its own. The Automation API starts it in the caller's
// group on Unix, so the terminal's Ctrl-C reaches pulumi directly and cancels the update before the command can
// decide; in its own group pulumi hears only what the command passes on.
type ownGroupCLI struct {
	auto.PulumiCommand
	path string
}

// NewCLI is the Pulumi CLI at root/bin/pulumi, or on PATH when root is empty, run in a process group of its own.
func NewCLI(root string) (auto.PulumiCommand, error) {
	var opts *auto.PulumiCommandOptions
	path := "pulumi"
	if root != "" {
		opts = &auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true}
		path = filepath.Join(root, "bin", "pulumi")
	}
	cli, err := auto.NewPulumiCommand(opts)
	if err != nil {
		return nil, err
	}
	if path, err = exec.LookPath(path); err != nil {
		return nil, err
	}
	return ownGroupCLI{PulumiCommand: cli, path: path}, nil
}

// Run is the Automation API's own Run (non-interactive, PULUMI_AUTOMATION_API set, interrupt then kill on
// cancel) with the process group of its own.
func (c ownGroupCLI) Run(ctx context.Context, workdir string, stdin io.Reader, additionalOutput []io.Writer,
	additionalErrorOutput []io.Writer, additionalEnv []string, args ...string) (string, string, int, error) {
	cmd := exec.CommandContext(ctx, c.path, nonInteractive(args)...)
	cmd.Dir = workdir
	cmd.Env = append(append(os.Environ(), additionalEnv...), "PULUMI_AUTOMATION_API=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = io.MultiWriter(append(additionalOutput, &stdout)...)
	cmd.Stderr = io.MultiWriter(append(additionalErrorOutput, &stderr)...)
	cmd.Stdin = stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	code := -2
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err == nil {
		code = 0
	}
	return stdout.String(), stderr.String(), code, err
}

// nonInteractive adds --non-interactive before a `--` (after it, values such as config values follow).
func nonInteractive(args []string) []string {
	flags := args
	if i := slices.Index(args, "--"); i >= 0 {
		flags = args[:i]
	}
	if slices.Contains(flags, "--non-interactive") {
		return args
	}
	return slices.Concat(flags, []string{"--non-interactive"}, args[len(flags):])
}
