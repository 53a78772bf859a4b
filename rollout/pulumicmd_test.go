package rollout

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakePulumi stands in for the CLI: it answers `version`, and otherwise records in $MARK that it started, was
// interrupted (SIGINT) or finished its two-second "update".
const fakePulumi = `#!/bin/sh
if [ "$1" = version ]; then echo v3.274.1; exit 0; fi
trap 'echo interrupted >> "$MARK"; exit 130' INT
echo started >> "$MARK"
i=0; while [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done
echo finished >> "$MARK"
`

// TestHelperRunsAnUpdate is not a test: it is the command the Ctrl-C test starts in a process group of its own,
// standing for `rollout` in a terminal. It survives SIGINT (as the command does) and runs the fake pulumi
// through the CLI wrapper named by ROLLOUT_HELPER.
func TestHelperRunsAnUpdate(t *testing.T) {
	which := os.Getenv("ROLLOUT_HELPER")
	if which == "" {
		t.Skip("helper process only")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	root := os.Getenv("FAKE_ROOT")
	var cli auto.PulumiCommand
	var err error
	if which == "own-group" {
		cli, err = NewCLI(root)
	} else {
		cli, err = auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
	}
	if err != nil {
		os.Exit(3)
	}
	_, _, _, _ = cli.Run(context.WithoutCancel(ctx), root, nil, nil, nil, nil, "up")
	os.Exit(0)
}

// ctrlC starts the helper with the given CLI wrapper, presses Ctrl-C (SIGINT to its process group, as a
// terminal does) once the fake update started, and returns what the fake pulumi recorded.
func ctrlC(t *testing.T, which string) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(root, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "bin", "pulumi"), []byte(fakePulumi), 0o755))
	mark := filepath.Join(root, "mark")
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperRunsAnUpdate$")
	helper.Env = append(os.Environ(), "ROLLOUT_HELPER="+which, "FAKE_ROOT="+root, "MARK="+mark)
	helper.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, helper.Start())
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(mark)
		return strings.Contains(string(b), "started")
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, syscall.Kill(-helper.Process.Pid, syscall.SIGINT))
	require.NoError(t, helper.Wait())
	b, err := os.ReadFile(mark)
	require.NoError(t, err)
	return string(b)
}

// TestCLI_CtrlCReachesOnlyTheCommand: with the Automation API's own CLI runner the terminal's Ctrl-C interrupts
// pulumi mid-update; with NewCLI pulumi runs in its own process group and finishes, and the command decides.
func TestCLI_CtrlCReachesOnlyTheCommand(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "started\ninterrupted\n", ctrlC(t, "sdk-default"), "the SDK's runner shares the terminal's process group")
	assert.Equal(t, "started\nfinished\n", ctrlC(t, "own-group"), "in its own group the update runs to its end")
}

func TestNonInteractive_GoesBeforeTheValues(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"config", "set", "k", "--stack", "s", "--non-interactive", "--", "v"},
		nonInteractive([]string{"config", "set", "k", "--stack", "s", "--", "v"}), "the SDK passes values after --")
	assert.Equal(t, []string{"up", "--yes", "--non-interactive"}, nonInteractive([]string{"up", "--yes"}))
	assert.Equal(t, []string{"up", "--non-interactive"}, nonInteractive([]string{"up", "--non-interactive"}))
}
