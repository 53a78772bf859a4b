// Command upgrade plans a Kubernetes version change of a stack's cluster and, with --approve, applies it:
//
//	go run ./cmd/upgrade --stack prod --to 1.36             # the plan: steps, checks, EKS support dates
//	go run ./cmd/upgrade --stack prod --to 1.36 --approve   # then sets kubernetesVersion and runs pulumi up
//
// The plan is the program's own: a `pulumi preview` with kubernetesVersion set to the target in a copy of the
// stack's config file, so the stack's config is not touched. The program reads what the cluster runs from EKS,
// checks the change against EKS's rules and prints the steps in the order AWS requires; a failed check fails the
// preview. As eksctl upgrade cluster, nothing changes without --approve.
//
// Exit codes: 0 planned (or applied), 1 refused or failed, 64 bad flags.
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
	"syscall"

	"github.com/progressive-delivery/platform/internal/eksfacts"
)

const (
	exitFailed = 1
	exitUsage  = 64
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, openStack))
}

type flags struct {
	stack, to, workDir string
	approve            bool
}

func parse(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("upgrade", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.stack, "stack", "", "stack whose cluster to upgrade (a Pulumi.<stack>.yaml); required")
	fs.StringVar(&f.to, "to", "", "Kubernetes minor version to move to, e.g. 1.36; required")
	fs.StringVar(&f.workDir, "work-dir", ".", "directory holding Pulumi.yaml")
	fs.BoolVar(&f.approve, "approve", false, "apply the plan: set kubernetesVersion and run pulumi up")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: upgrade --stack STACK --to VERSION [--approve]

Prints the plan of moving the stack's cluster to VERSION: the steps in the order AWS requires (control plane,
node group, EKS add-ons and charts), the checks of EKS's rules against what the cluster runs, and EKS's support
dates of both versions. Changes nothing unless --approve is given (docs/upgrades.md).

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	switch {
	case fs.NArg() > 0:
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case f.stack == "":
		return f, errors.New("--stack is required (e.g. --stack prod)")
	case f.to == "":
		return f, errors.New("--to is required (e.g. --to 1.36)")
	}
	if err := eksfacts.CheckKubernetesVersion(f.to); err != nil {
		return f, fmt.Errorf("--to: %w", err)
	}
	if _, err := os.Stat(filepath.Join(f.workDir, "Pulumi."+f.stack+".yaml")); err != nil {
		return f, fmt.Errorf("--stack %s: no Pulumi.%s.yaml in %s", f.stack, f.stack, f.workDir)
	}
	return f, nil
}

// stackOpener opens the stack the flags name.
type stackOpener func(ctx context.Context, f flags) (stack, error)

func run(ctx context.Context, args []string, stdout, stderr io.Writer, open stackOpener) int {
	f, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "upgrade: %v\n", err)
		return exitUsage
	}
	s, err := open(ctx, f)
	if err != nil {
		fmt.Fprintf(stderr, "upgrade: %v\n", err)
		return exitFailed
	}
	if err := upgrade(ctx, s, f, stdout); err != nil {
		fmt.Fprintf(stderr, "upgrade: %v\n", err)
		return exitFailed
	}
	return 0
}
