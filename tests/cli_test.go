//go:build e2e

package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/progressive-delivery/platform/internal/simcluster"
	"github.com/progressive-delivery/platform/program"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cliUser runs the pulumi CLI in the repository as a user does: the CLI and its Go language host on PATH,
// compiling main.go, the repository's own Pulumi.yaml, and a stack whose config file lives in a temp folder
// (--config-file) and whose state goes to a temp file backend, so the repository is not touched.
type cliUser struct {
	t               *testing.T
	bin, configFile string
	env             []string
	// project is the folder holding Pulumi.yaml and main.go that commands run in: the repository's root, "..".
	project string
}

func newCLIUser(t *testing.T, tools simcluster.Tools) *cliUser {
	t.Helper()
	return newCLIUserOf(t, tools, "..")
}

// newCLIUserOf is newCLIUser for the project in the folder project.
func newCLIUserOf(t *testing.T, tools simcluster.Tools, project string) *cliUser {
	t.Helper()
	dir := t.TempDir()
	// The CLI and the language host only: the provider comes from the installed plugin, as for a user.
	cli, err := simcluster.NewCLI(tools, simcluster.CLIOptions{
		Root: dir, Home: filepath.Join(dir, "home"), Backend: filepath.Join(dir, "backend"), Tmp: filepath.Join(dir, "tmp"),
		Passphrase: "cli-test", LanguageHost: true,
	})
	require.NoError(t, err)
	u := &cliUser{t: t, bin: filepath.Join(cli.Root, "bin"), configFile: filepath.Join(dir, "Pulumi.cli.yaml"), project: project,
		env: cli.Environ()}
	// `pulumi stack init` has no --config-file and writes the secrets salt into Pulumi.<stack>.yaml beside the
	// project file: init from a copy of Pulumi.yaml elsewhere and keep that file as the stack's config file.
	initDir := filepath.Join(dir, "init")
	require.NoError(t, os.Mkdir(initDir, 0o755))
	projectFile, err := os.ReadFile(filepath.Join(project, "Pulumi.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(initDir, "Pulumi.yaml"), projectFile, 0o644))
	u.runIn(initDir, "stack", "init", "cli")
	require.NoError(t, os.Rename(filepath.Join(initDir, "Pulumi.cli.yaml"), u.configFile))
	return u
}

func (u *cliUser) runIn(dir string, args ...string) {
	u.t.Helper()
	cmd := exec.Command(filepath.Join(u.bin, "pulumi"), args...)
	cmd.Dir, cmd.Env = dir, u.env
	out, err := cmd.CombinedOutput()
	require.NoError(u.t, err, "pulumi %s:\n%s", strings.Join(args, " "), out)
}

// run runs pulumi in the project's folder; commands that take stack config get --config-file.
func (u *cliUser) run(args ...string) (string, error) {
	u.t.Helper()
	args = u.stackArgs(args)
	b := cliOp()
	if slices.Contains(args, "--policy-pack") {
		// The CLI builds the policy pack (a Go program of its own) before the program: a second link.
		b = b.plus(scaled(refProgramLink, fmt.Sprintf("link of the policy pack %s", refProgramLink)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.d)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(u.bin, "pulumi"), args...)
	cmd.Dir = u.project
	cmd.Env = u.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w: past its bound, %s", err, b)
	}
	return out.String(), err
}

// cliOp bounds one CLI command of the test: a pulumi operation, plus the language host's go build of main.go
// when it is stale (a link: the SDKs were compiled by the fast suite that CI runs first). A function, not a
// variable: a package variable is set before TestMain measures the machine, and so was never scaled (a 1.34x
// machine then failed every CLI test at the reference machine's 1m30s).
func cliOp() bound {
	return pulumiOps(1).plus(scaled(refProgramLink, fmt.Sprintf("link of main.go %s", refProgramLink)))
}

// stackArgs adds the stack and its config file to the commands that take them.
func (u *cliUser) stackArgs(args []string) []string {
	switch args[0] {
	case "config", "preview", "up", "destroy", "refresh":
		return append(args, "--stack", "cli", "--config-file", u.configFile)
	case "cancel", "import", "export":
		return append(args, "--stack", "cli")
	}
	return args
}

func (u *cliUser) ok(args ...string) string {
	u.t.Helper()
	out, err := u.run(args...)
	require.NoError(u.t, err, "pulumi %s:\n%s", strings.Join(args, " "), out)
	return out
}

// TestCLI_AsAUserRunsIt: pulumi preview, up, a no-change preview, the policy pack through the CLI's analyzer,
// bad config values, and destroy, all through the real CLI compiling this repository's main.go.
func TestCLI_AsAUserRunsIt(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	// Twelve pulumi commands: 8 previews, 2 ups, destroy, and the refused up.
	cluster := startCluster(t, tools, pulumiOps(12))
	u := newCLIUser(t, tools)
	u.ok("config", "set", "--secret", "kubeconfig", string(cluster.Kubeconfig))
	u.ok("config", "set", "platformInstall", "false")

	out := u.ok("preview")
	assert.Contains(t, out, fmt.Sprintf("+ %d to create", appLayerResources))
	assert.NotContains(t, out, "kubernetesVersion", "no warning about the version of a cluster this stack does not create")
	assert.NotContains(t, out, "BEGIN CERTIFICATE", "the kubeconfig secret is not printed")

	out = u.ok("up", "--yes")
	assert.Contains(t, out, fmt.Sprintf("+ %d created", appLayerResources))
	assert.Contains(t, out, `podinfoImage: "ghcr.io/stefanprodan/podinfo:6.0.0"`)
	_, err := cluster.Core.AppsV1().Deployments(cluster.ns).Get(context.Background(), "podinfo", metav1.GetOptions{})
	require.NoError(t, err, "the CLI's up created podinfo on the server")

	u.ok("preview", "--expect-no-changes")

	out = u.ok("preview", "--policy-pack", "./policy")
	assert.Contains(t, out, "progressive-delivery@v", "the pack ran through the CLI's analyzer")
	assert.NotContains(t, out, "mandatory")

	// A violation: the load tester image unpinned.
	u.ok("config", "set", "loadTesterImage", "ghcr.io/fluxcd/flagger-loadtester:latest")
	out, err = u.run("preview", "--policy-pack", "./policy")
	assert.Error(t, err, "a mandatory violation fails the preview:\n%s", out)
	assert.Contains(t, out, "k8s-image-pinned")
	assert.Contains(t, out, "latest")
	u.ok("config", "rm", "loadTesterImage")

	// A value the program refuses: one line naming the key, no Go panic, nothing declared.
	u.ok("config", "set", "canaryMaxWeight", "0")
	out, err = u.run("preview")
	assert.Error(t, err)
	assert.Contains(t, out, "invalid stack configuration (nothing was changed)")
	assert.Regexp(t, regexp.MustCompile(`canaryMaxWeight: [^\n]*got 0`), out)
	for _, leak := range []string{"panic", "goroutine ", ".go:"} {
		assert.NotContains(t, out, leak, "no Go stack trace")
	}
	assert.NotContains(t, out, "to create", "no resource is declared")

	// A value of the wrong type for Pulumi.yaml's declaration: the CLI refuses it before the program runs.
	u.ok("config", "set", "canaryMaxWeight", "fifty")
	out, err = u.run("preview")
	assert.Error(t, err)
	assert.Contains(t, out, "canaryMaxWeight")
	assert.Contains(t, out, "integer")
	u.ok("config", "rm", "canaryMaxWeight")

	// Pulumi.yaml has no fractional type, and the program reads these keys as integers.
	u.ok("config", "set", "canarySuccessRateMin", "99.5")
	out, err = u.run("preview")
	assert.Error(t, err)
	assert.Contains(t, out, "canarySuccessRateMin")
	assert.Contains(t, out, "integer")
	u.ok("config", "rm", "canarySuccessRateMin")

	// The old spelling of platformInstall still works, with a warning that says what to run.
	u.ok("config", "rm", "platformInstall")
	u.ok("config", "set", "platform.install", "false")
	out = u.ok("preview", "--expect-no-changes")
	assert.Contains(t, out, "platform.install is deprecated")
	assert.Contains(t, out, "pulumi config set platformInstall false")
	u.ok("config", "rm", "platform.install")
	u.ok("config", "set", "platformInstall", "false")

	out = u.ok("destroy", "--yes")
	assert.Contains(t, out, fmt.Sprintf("%d deleted", appLayerResources))
	require.Eventually(t, func() bool {
		_, err := cluster.Core.CoreV1().Namespaces().Get(context.Background(), cluster.ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, time.Minute, time.Second, "namespace apps is gone")

	// The same stack creating its own cluster at dev's 1.24: the update stops before anything is declared, so
	// no AWS provider is even started. (--skip-preview: the preview before it asks AWS for the zones, and this
	// machine has no AWS provider plugin; a real up shows that preview with the warning, then stops here.)
	u.ok("config", "rm", "kubeconfig")
	u.ok("config", "set", "aws:region", "us-west-1")
	u.ok("config", "set", "--path", "endpointPublicAccessCidrs[0]", "203.0.113.0/24")
	out, err = u.run("up", "--yes", "--skip-preview")
	assert.Error(t, err)
	assert.Contains(t, out, "kubernetesVersion 1.24: EKS no longer creates clusters at this version (this program's EKS calendar as of")
	assert.Contains(t, out, "so nothing was changed")
	assert.Contains(t, out, "pulumi config set kubernetesVersion "+program.Current.Kubernetes)
	assert.Contains(t, out, "+ 1 created", "the stack's own root, nothing else")
	assert.NotContains(t, out, "panic")
	exported := u.ok("stack", "export", "--stack", "cli")
	assert.NotContains(t, exported, "aws:", "nothing of AWS is in the state")
}
