package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/progressive-delivery/platform/internal/simcluster"
	"github.com/progressive-delivery/platform/program"
	"github.com/progressive-delivery/platform/rollout"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// stackName is the demo's stack, in a work folder of its own whose Pulumi.yaml is this repository's with the
// program prebuilt from main.go (the Go runtime's binary option), so every pulumi up does not recompile it.
const stackName = "demo"

// session is one simulated cluster with Flagger, the program deployed onto it, and what a person needs to drive
// it by hand.
type session struct {
	dir     string
	cluster *simcluster.Cluster
	workDir string
	env     map[string]string
	stack   *auto.Stack
	cli     auto.PulumiCommand
	out     io.Writer
	// threshold is the canary's failed-check limit (canaryThreshold); the walkthrough's is 5.
	threshold int
	// gateway is the gateway proxy's address on this host: the load balancer's address of the walkthrough.
	gateway string
}

// startSession starts the cluster and Flagger in dir and prepares the stack (not yet deployed).
func startSession(ctx context.Context, tools simcluster.Tools, o options, dir string, out io.Writer) (s *session, err error) {
	s = &session{dir: dir, out: out, threshold: o.threshold}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.close(context.WithoutCancel(ctx)))
		}
	}()
	// Built into the repository's gitignored bin/ rather than the session, so go build finds it up to date in the
	// next demo and skips the link (as go run does for the demo itself), and built while the cluster starts.
	programBinary := filepath.Join(o.repo, "bin", "demo-program")
	fmt.Fprintln(out, "building the program (go build of main.go into bin/) while the cluster starts")
	built := make(chan error, 1)
	go func() { built <- buildProgram(ctx, o.repo, programBinary) }()
	defer func() {
		if buildErr := <-built; buildErr != nil {
			err = errors.Join(err, buildErr)
		}
	}()
	start := time.Now()
	fmt.Fprintln(out, "starting the simulated cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (2 fake m5.2xlarge nodes)")
	if s.cluster, err = simcluster.Start(ctx, simcluster.Options{Tools: tools, Dir: filepath.Join(dir, "cluster"),
		StandInAddr: fmt.Sprintf("127.0.0.1:%d", o.proxyPort)}); err != nil {
		return s, err
	}
	chart, err := simcluster.GlooFlaggerChart(program.Defaults().FlaggerChartVersion)
	if err != nil {
		return s, err
	}
	if err = s.cluster.StartFlagger(ctx, simcluster.FlaggerOptions{Chart: chart}); err != nil {
		return s, err
	}
	if s.gateway, err = s.cluster.GatewayAddress("gloo-system"); err != nil {
		return s, err
	}
	fmt.Fprintf(out, "cluster, the Flagger chart %s's Prometheus and Flagger v1.36.1 (meshProvider gloo) ready in %s; "+
		"the gateway (a stand-in for Envoy) answers at %s\n", chart.Version, time.Since(start).Round(time.Second), s.gateway)
	if err = s.prepareStack(ctx, tools, o.repo, programBinary); err != nil {
		return s, err
	}
	return s, nil
}

// buildProgram builds main.go of repo to program.
func buildProgram(ctx context.Context, repo, program string) error {
	// -buildvcs=false: with the commit stamped in, every commit would make it stale.
	build := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-o", program, ".")
	build.Dir = repo
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the program: %w\n%s", err, b)
	}
	return nil
}

// prepareStack writes the work folder (Pulumi.yaml pointing at program, the repository's main.go prebuilt),
// installs the provider plugin and sets the stack's config: kubeconfig mode onto the simulated cluster, Gloo and
// Flagger already there.
func (s *session) prepareStack(ctx context.Context, tools simcluster.Tools, repo, program string) error {
	s.workDir = filepath.Join(s.dir, "project")
	if err := os.MkdirAll(s.workDir, 0o755); err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(repo, "Pulumi.yaml"))
	if err != nil {
		return err
	}
	project, err := simcluster.ProjectWithBinary(raw, program)
	if err != nil {
		return fmt.Errorf("the project file Pulumi.yaml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.workDir, "Pulumi.yaml"), project, 0o644); err != nil {
		return err
	}
	// The CLI and its Go language host, and no provider binary: the engine uses the installed plugin (a provider
	// on PATH would win, with a warning on every run). The provider's kubeconfig temp files stay in the session,
	// which close removes.
	cli, err := simcluster.NewCLI(tools, simcluster.CLIOptions{
		Root: filepath.Join(s.dir, "cli"), Home: filepath.Join(s.dir, "pulumi-home"), Backend: filepath.Join(s.dir, "backend"),
		Tmp: filepath.Join(s.dir, "tmp"), Passphrase: "demo", LanguageHost: true,
	})
	if err != nil {
		return err
	}
	s.env = cli.Env
	s.env["KUBECONFIG"] = s.cluster.KubeconfigPath
	if s.cli, err = rollout.NewCLI(cli.Root); err != nil {
		return err
	}
	stack, err := auto.UpsertStackLocalSource(ctx, stackName, s.workDir, s.workspace()...)
	if err != nil {
		return fmt.Errorf("creating stack %s: %w", stackName, err)
	}
	s.stack = &stack
	if err := stack.SetAllConfig(ctx, auto.ConfigMap{
		"kubeconfig":      {Value: string(s.cluster.Kubeconfig), Secret: true},
		"platformInstall": {Value: "false"},
		"canaryThreshold": {Value: fmt.Sprint(s.threshold)},
	}); err != nil {
		return fmt.Errorf("setting the stack's config: %w", err)
	}
	return nil
}

func (s *session) workspace() []auto.LocalWorkspaceOption {
	return []auto.LocalWorkspaceOption{auto.EnvVars(s.env), auto.PulumiHome(s.env["PULUMI_HOME"]), auto.Pulumi(s.cli)}
}

// release runs the rollout command's release of version and returns its exit code and wall time.
func (s *session) release(ctx context.Context, version string) (int, time.Duration, error) {
	start := time.Now()
	code, err := rollout.Release(ctx, rollout.ReleaseOptions{
		Stack: stackName, Version: version, WorkDir: s.workDir, Timeout: 6 * time.Minute,
		Workspace: s.workspace(), Out: s.out,
	})
	return code, time.Since(start), err
}

// primaryImage is what podinfo-primary runs: what users get.
func (s *session) primaryImage(ctx context.Context) string {
	d, err := s.cluster.Core.AppsV1().Deployments(rollout.CanaryNamespace).Get(ctx, "podinfo-primary", metav1.GetOptions{})
	if err != nil || len(d.Spec.Template.Spec.Containers) == 0 {
		return "none"
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// handInstructions is what a person runs against a session left up.
func (s *session) handInstructions() string {
	var b strings.Builder
	fmt.Fprintln(&b, "export these to drive it by hand (kubectl, pulumi, go run ./cmd/rollout):")
	for _, k := range []string{"KUBECONFIG", "PATH", "PULUMI_HOME", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_SKIP_UPDATE_CHECK"} {
		fmt.Fprintf(&b, "  export %s=%q\n", k, s.env[k])
	}
	fmt.Fprintf(&b, `then:
  kubectl -n apps get canary podinfo -w
  go run ./cmd/rollout --stack %s --work-dir %s --version 6.0.1
  make demo-down
the walkthrough's own checks, through the gateway (%s; the gateway is a stand-in for Envoy):
%s`, stackName, s.workDir, s.gateway, walkthroughCommands(s.gateway))
	return b.String()
}

// close destroys the stack (when it was deployed), stops every process and removes the session's folder.
func (s *session) close(ctx context.Context) error {
	var errs []error
	if s.stack != nil && s.cluster != nil {
		if _, err := s.stack.Destroy(ctx, optdestroy.Remove()); err != nil {
			errs = append(errs, fmt.Errorf("pulumi destroy: %w", err))
		}
	}
	if s.cluster != nil {
		errs = append(errs, s.cluster.Stop())
	}
	errs = append(errs, os.RemoveAll(s.dir))
	return errors.Join(errs...)
}

// walkthroughCommands are the walkthrough's checks against the gateway at addr, ready to paste.
func walkthroughCommands(addr string) string {
	return fmt.Sprintf(`  curl -H 'Host: podinfo.example.com' http://%[1]s/                  # podinfo answers with its version
  watch -n 0.2 curl -s -H 'Host: podinfo.example.com' http://%[1]s/status/500   # during a canary: rolls it back
  watch -n 0.2 curl -s -H 'Host: podinfo.example.com' http://%[1]s/delay/2      # during a canary: fails the P99 check
`, addr)
}
