// Command demo runs the walkthrough's canary on this machine, without an AWS account: a simulated cluster
// (real kube-apiserver, controller-manager, scheduler; kwok's fake nodes), the real Flagger, this repository's
// program deployed by the Pulumi CLI, and the rollout command promoting 6.0.1 and rolling back 6.0.2.
//
//	go run ./cmd/demo               # start to end by itself, then tears everything down (make demo)
//	go run ./cmd/demo up            # leave it running in the background (make demo-up)
//	go run ./cmd/demo down          # stop what up started (make demo-down)
//
// It needs the tools of tests/e2e/tools.sh: eval "$(bash tests/e2e/tools.sh)".
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

	"github.com/progressive-delivery/platform/internal/simcluster"
	"github.com/progressive-delivery/platform/rollout"
)

func main() {
	rollout.SilenceClientGoLogs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	repo, stateDir string
	threshold      int
	proxyPort      int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	command := "run"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		command, args = args[0], args[1:]
	}
	var o options
	fs := flag.NewFlagSet("demo "+command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.repo, "repo", ".", "the repository (holding Pulumi.yaml and main.go)")
	fs.StringVar(&o.stateDir, "state-dir", defaultStateDir(), "where `up` keeps the running demo's state")
	fs.IntVar(&o.threshold, "canary-threshold", 5, "failed checks before Flagger rolls back (the walkthrough's 5)")
	fs.IntVar(&o.proxyPort, "flagger-proxy-port", 0, "loopback port of Flagger's outbound proxy, which forwards to the "+
		"in-cluster Prometheus and load tester and stands in for the alert webhooks (0: any free one)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 64
	}
	repo, err := filepath.Abs(o.repo)
	if err == nil {
		_, err = os.Stat(filepath.Join(repo, "Pulumi.yaml"))
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo: --repo %s: no Pulumi.yaml there (run it from the repository)\n", o.repo)
		return 64
	}
	o.repo = repo
	switch command {
	case "run":
		err = runDemo(ctx, o, stdout)
	case "up":
		err = up(ctx, o, stdout)
	case "serve":
		err = serve(ctx, o, stdout)
	case "down":
		err = down(o, stdout)
	default:
		err = fmt.Errorf("unknown command %q; want run, up or down", command)
	}
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	return 0
}

// tools finds the tools of tests/e2e/tools.sh, saying how to build them.
func tools() (simcluster.Tools, error) {
	t, err := simcluster.FindTools()
	if err != nil {
		return t, fmt.Errorf("%w\n(the first build takes 17 to 40 minutes on 2 cores; later runs reuse the cache)", err)
	}
	return t, nil
}

func defaultStateDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "progressive-delivery-demo")
	}
	return filepath.Join(os.TempDir(), "progressive-delivery-demo")
}
