package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/progressive-delivery/platform/program"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mockedStack is a stack whose config lives in memory and whose preview runs the program's plan under Pulumi's
// mocks, EKS answering from a mocked running cluster (mocks.Monitor): the command's whole flow without AWS.
type mockedStack struct {
	config  map[string]string
	running *mocks.RunningCluster
	ups     int
}

func (m *mockedStack) Name() string { return "prod" }

func (m *mockedStack) KubernetesVersion(context.Context) (string, error) {
	return m.config["kubernetesVersion"], nil
}

func (m *mockedStack) Preview(_ context.Context, target string, out io.Writer) error {
	cfg := maps.Clone(m.config)
	cfg["kubernetesVersion"] = target
	_, err := mocks.Run(func(ctx *pulumi.Context) error {
		c, err := program.LoadConfig(ctx)
		if err != nil {
			return err
		}
		plan, warnings, err := program.PlanCluster(ctx, c, time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC))
		fmt.Fprintln(out, plan.Text())
		for _, w := range warnings {
			fmt.Fprintln(out, "warning: "+w)
		}
		return err
	}, mocks.RunConfig{Config: cfg, DryRun: true, Running: m.running})
	return err
}

func (m *mockedStack) SetKubernetesVersion(_ context.Context, version string) error {
	m.config["kubernetesVersion"] = version
	return nil
}

func (m *mockedStack) Up(_ context.Context, out io.Writer) error {
	m.ups++
	fmt.Fprintln(out, "  update succeeded")
	return nil
}

// upgradeOn runs the command on a mocked prod stack at 1.34 whose cluster runs running.
func upgradeOn(t *testing.T, running *mocks.RunningCluster, args ...string) (*mockedStack, int, string, string) {
	t.Helper()
	s := &mockedStack{config: mocks.DevConfig(map[string]string{"kubernetesVersion": "1.34"}), running: running}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append(args, "--work-dir", "../.."), &stdout, &stderr,
		func(context.Context, flags) (stack, error) { return s, nil })
	return s, code, stdout.String(), stderr.String()
}

var at134 = &mocks.RunningCluster{Version: "1.34", NodeGroupVersion: "1.34"}

func TestUpgrade_PlanPrintsStepsChecksAndSupportAndChangesNothing(t *testing.T) {
	t.Parallel()
	s, code, out, stderr := upgradeOn(t, at134, "--stack", "prod", "--to", "1.35")
	require.Equal(t, 0, code, "%s%s", out, stderr)
	for _, want := range []string{
		"stack prod: kubernetesVersion 1.34 in its config; planning 1.35",
		"Kubernetes version plan: control plane 1.34, node group 1.34 → 1.35",
		"  1. control plane: 1.34 → 1.35",
		"  2. node group nodegroup: 1.34 → 1.35",
		"  3. EKS add-ons, after the node group",
		"pass  one minor version at a time",
		"pass  the node group matches the control plane before it is updated",
		"1.34: STANDARD_SUPPORT, standard support until 2026-12-02, extended support until 2027-12-02 (as EKS reports it)",
		"1.35: STANDARD_SUPPORT, standard support until 2027-03-27, extended support until 2028-03-27 (as EKS reports it)",
		"nothing was changed: the stack's config still holds kubernetesVersion 1.34",
		"go run ./cmd/upgrade --stack prod --to 1.35 --approve",
	} {
		assert.Contains(t, out, want)
	}
	assert.Equal(t, "1.34", s.config["kubernetesVersion"], "the stack's config is unchanged")
	assert.Zero(t, s.ups, "no up without --approve")
}

func TestUpgrade_ARefusedPlanSaysWhyAndChangesNothing(t *testing.T) {
	t.Parallel()
	s, code, out, stderr := upgradeOn(t, at134, "--stack", "prod", "--to", "1.36", "--approve")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, out, "FAIL  one minor version at a time: 1.36 is 2 minor versions above the cluster's 1.34")
	assert.Contains(t, out, "pass  the node group matches the control plane", "the checks that pass are printed too")
	assert.Contains(t, stderr, "the plan is refused, nothing was changed")
	assert.Contains(t, stderr, "1.34 → 1.35, then 1.35 → 1.36")
	assert.Equal(t, "1.34", s.config["kubernetesVersion"])
	assert.Zero(t, s.ups, "a refused plan is not applied, even with --approve")
}

func TestUpgrade_ApproveSetsTheVersionAndRunsUp(t *testing.T) {
	t.Parallel()
	s, code, out, stderr := upgradeOn(t, at134, "--stack", "prod", "--to", "1.35", "--approve")
	require.Equal(t, 0, code, "%s%s", out, stderr)
	assert.Equal(t, "1.35", s.config["kubernetesVersion"])
	assert.Equal(t, 1, s.ups)
	assert.Contains(t, out, "kubernetesVersion=1.35 on stack prod; running pulumi up")
	assert.True(t, strings.Index(out, "1. control plane") < strings.Index(out, "running pulumi up"), "the plan before the up")
}

func TestUpgrade_BadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--stack", "prod"}, {"--to", "1.35"}, {"--stack", "prod", "--to", "136"}, {"--stack", "nosuch", "--to", "1.35"}} {
		_, code, _, stderr := upgradeOn(t, at134, args...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, stderr)
	}
}

func TestUpgrade_ThePreviewsConfigCopyChangesOnlyTheVersion(t *testing.T) {
	t.Parallel()
	raw := []byte("secretsprovider: passphrase\nconfig:\n  aws:region: us-west-2\n  progressive-delivery:kubernetesVersion: \"1.34\"\n" +
		"  progressive-delivery:datadogApiKey:\n    secure: v1:abc\n")
	got, err := withConfigValue(raw, versionKey, "1.35")
	require.NoError(t, err)
	assert.Equal(t, strings.Replace(string(raw), `"1.34"`, `"1.35"`, 1), string(got))
	got, err = withConfigValue([]byte("config:\n  aws:region: us-west-2\n"), versionKey, "1.35")
	require.NoError(t, err)
	assert.Contains(t, string(got), "progressive-delivery:kubernetesVersion: \"1.35\"", "a key left to its default is added")
}
