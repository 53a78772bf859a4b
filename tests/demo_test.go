//go:build e2e

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/progressive-delivery/platform/internal/simcluster"
	"github.com/progressive-delivery/platform/internal/syncbuf"
	"github.com/progressive-delivery/platform/rollout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

// demoBinary is cmd/demo, built once for the package's tests into the repository's gitignored bin/, where go
// build finds it up to date in the next run and does not link it again (as go run, which `make demo` uses, caches
// it; -buildvcs=false, or every commit would make it stale): its tests start together, and a link at that moment
// competes with a dozen clusters for the CPU.
var demoBinary struct {
	once sync.Once
	err  error
}

// buildDemo returns the path of cmd/demo's binary, building it the first time.
func buildDemo(t *testing.T) string {
	t.Helper()
	const bin = "../bin/demo"
	demoBinary.once.Do(func() {
		if out, err := exec.Command("go", "build", "-buildvcs=false", "-o", bin, "../cmd/demo").CombinedOutput(); err != nil {
			demoBinary.err = fmt.Errorf("go build ../cmd/demo: %w\n%s", err, out)
		}
	})
	require.NoError(t, demoBinary.err)
	path, err := filepath.Abs(bin)
	require.NoError(t, err)
	return path
}

// demoCommand runs the demo from the repository root with its own state folder and temp folder, so that what it
// leaves behind can be checked.
func demoCommand(t *testing.T, bin, stateDir, tmp string, args ...string) *exec.Cmd {
	t.Helper()
	// Flags go before positional arguments (metrics bad), after the command.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append([]string{args[0], "--state-dir", stateDir}, args[1:]...)
	} else {
		args = append([]string{"--state-dir", stateDir}, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	return cmd
}

// walkthroughDemo is `make demo`'s command, at the walkthrough's canaryThreshold 5 (3 rolled a good 6.0.1 back
// once, when three checks in a row found no values yet on a machine busy with the whole suite), its output buffer
// and the temp dir it uses.
func walkthroughDemo(t *testing.T, expected bound) (*exec.Cmd, *syncbuf.Buffer, string) {
	t.Helper()
	findE2ETools(t)
	t.Parallel()
	// Admitted before the build, so that the longest demo is not queued behind shorter tests while it links.
	admit(t, scenario{ownCluster: true, ownFlagger: true, expected: expected.d})
	bin := buildDemo(t)
	tmp := t.TempDir()
	out := &syncbuf.Buffer{}
	cmd := demoCommand(t, bin, t.TempDir(), tmp)
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out, tmp
}

// demoStart bounds the demo until its canary is Initialized: its cluster and Flagger, the link of its program
// (built while the cluster starts), the up and Flagger's initialization.
func demoStart() bound {
	return clusterStart(true).plus(walkthroughClock().initialized())
}

// TestDemo_RunsTheWalkthroughAndLeavesNothing runs `make demo`'s command start to end, non-interactively, and
// checks its summary and that it left no process, port or temp state.
func TestDemo_RunsTheWalkthroughAndLeavesNothing(t *testing.T) {
	clock := walkthroughClock()
	// Its cluster and Flagger, the program's link, up and Initialized, the promotion, the rollback, destroy.
	whole := demoStart().plus(clock.release(clock.promotion())).plus(clock.release(clock.rollback())).plus(pulumiOps(1))
	cmd, out, tmp := walkthroughDemo(t, whole)
	start := time.Now()
	require.NoError(t, cmd.Start())
	timer := time.AfterFunc(whole.d, func() { _ = cmd.Process.Signal(syscall.SIGINT) })
	err := cmd.Wait()
	require.True(t, timer.Stop(), "the demo ends within %s:\n%s", whole, out)
	require.NoError(t, err, out.String())
	t.Logf("make demo (%s):\n%s", time.Since(start).Round(time.Second), out)
	text := out.String()
	summary := text[strings.Index(text, "summary (canaryThreshold 5):"):]
	assert.Regexp(t, regexp.MustCompile(`6\.0\.0\s+Initialized\s+0\s`), summary)
	assert.Regexp(t, regexp.MustCompile(`6\.0\.1\s+Succeeded\s+0\s`), summary)
	assert.Regexp(t, regexp.MustCompile(`6\.0\.2\s+Failed\s+1\s`), summary)
	assert.Contains(t, summary, "podinfo-primary runs ghcr.io/stefanprodan/podinfo:6.0.1")
	for _, live := range []string{"Progressing", " 50%/50%", "Promoting", "rollout succeeded", "rollout failed after 5 failed checks"} {
		assert.Contains(t, text, live, "the releases are shown live")
	}
	assert.Contains(t, text, "torn down; nothing left running")
	assertNothingLeft(t, tmp)
}

// TestDemo_CtrlCStopsEverything interrupts the demo in the middle of the 6.0.1 canary, as a person pressing
// Ctrl-C would (SIGINT to its process group), and checks that every process it started is gone, its ports are
// closed and its temp state removed.
func TestDemo_CtrlCStopsEverything(t *testing.T) {
	progressing := demoStart().plus(pulumiOps(1)).plus(walkthroughClock().intervals(2, "the update's offset, new revision detected"))
	cmd, out, tmp := walkthroughDemo(t, progressing)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(progressing.d)
	for !strings.Contains(out.String(), "Progressing") {
		select {
		case err := <-done:
			t.Fatalf("the demo ended (%v) before the 6.0.1 canary started:\n%s", err, out)
		case <-time.After(time.Second):
		}
		require.True(t, time.Now().Before(deadline), "the 6.0.1 canary starts within %s:\n%s", progressing, out)
	}
	ports := listeningPorts(t, tmp)
	require.NotEmpty(t, ports, "the demo's servers listen while it runs")
	interrupted := time.Now()
	// The pulumi up it may be in runs to its end; then the cluster stops.
	teardown := pulumiOps(1).plus(scaled(refClusterStart, "the cluster's stop, no longer than its start"))
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
	select {
	case err := <-done:
		t.Logf("demo after Ctrl-C (stopped in %s, %v):\n%s", time.Since(interrupted).Round(100*time.Millisecond), err, out)
	case <-time.After(teardown.d):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("the demo did not stop within %s of Ctrl-C:\n%s", teardown, out)
	}
	assert.Contains(t, out.String(), "torn down; nothing left running")
	assertNothingLeft(t, tmp)
	// By owner, not by dialling: a test started after this one may already listen on a freed port number.
	assert.Empty(t, listeningPorts(t, tmp), "none of the demo's ports %v is open", ports)
}

// TestDemo_BadStatesSayWhatToDo: tools missing, a second demo while one runs, a port in use.
func TestDemo_BadStatesSayWhatToDo(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	tmp := t.TempDir()
	run := func(env []string, stateDir string, args ...string) (string, error) {
		cmd := demoCommand(t, bin, stateDir, tmp, args...)
		cmd.Env = append(cmd.Env, env...)
		var b bytes.Buffer
		cmd.Stdout, cmd.Stderr = &b, &b
		err := cmd.Run()
		return b.String(), err
	}

	out, err := run([]string{"E2E_TOOLS_BIN="}, t.TempDir())
	require.Error(t, err)
	assert.Contains(t, out, `real-engine tools missing`)
	assert.Contains(t, out, `eval "$(bash tests/e2e/tools.sh)"`)
	assert.Contains(t, out, "17 to 40 minutes")

	// A demo-up is running: a state file naming a live process (this test's own).
	running := t.TempDir()
	state, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "ready": true})
	require.NoError(t, os.WriteFile(filepath.Join(running, "state.json"), state, 0o600))
	for _, args := range [][]string{{"up"}, {}} {
		out, err = run(nil, running, args...)
		require.Error(t, err, "demo %v while one runs", args)
		assert.Contains(t, out, fmt.Sprintf("(pid %d)", os.Getpid()))
		assert.Contains(t, out, "make demo-down")
	}

	if _, err := simcluster.FindTools(); err == nil {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		port := l.Addr().(*net.TCPAddr).Port
		out, err = run(nil, t.TempDir(), "--flagger-proxy-port", fmt.Sprint(port))
		require.Error(t, err)
		assert.Contains(t, out, fmt.Sprintf("stand-in: 127.0.0.1:%d is in use by another process", port))
		assertNothingLeft(t, tmp)
	}
}

// assertNothingLeft checks that no process runs from the demo's temp folder and that the folder is empty.
func assertNothingLeft(t *testing.T, tmp string) {
	t.Helper()
	assert.Empty(t, processesMentioning(t, tmp), "no process of the demo outlives it")
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Empty(t, names, "the demo's temp state is removed")
}

// processesMentioning lists live processes whose command line mentions dir (every server the demo starts is
// given a path in its temp folder).
func processesMentioning(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && bytes.Contains(stat, []byte(") Z ")) {
			continue // a zombie already exited
		}
		found = append(found, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return found
}

// listeningPorts are the loopback TCP ports the demo's processes listen on.
func listeningPorts(t *testing.T, tmp string) []string {
	t.Helper()
	pids := map[string]bool{}
	for _, p := range processesMentioning(t, tmp) {
		pids[p[:strings.Index(p, ":")]] = true
	}
	inodes := map[string]bool{}
	for pid := range pids {
		fds, _ := os.ReadDir(filepath.Join("/proc", pid, "fd"))
		for _, fd := range fds {
			if link, err := os.Readlink(filepath.Join("/proc", pid, "fd", fd.Name())); err == nil && strings.HasPrefix(link, "socket:[") {
				inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
			}
		}
	}
	var ports []string
	table, err := os.ReadFile("/proc/net/tcp")
	require.NoError(t, err)
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A: LISTEN
			continue
		}
		var port int
		fmt.Sscanf(f[1][strings.Index(f[1], ":")+1:], "%X", &port)
		ports = append(ports, fmt.Sprintf("127.0.0.1:%d", port))
	}
	return ports
}

// TestDemo_UpCurlDown: `make demo-up` returns with the cluster running and says what to export and the
// walkthrough's curl commands, which reach podinfo through the gateway; `make demo-down` stops everything it
// started.
func TestDemo_UpCurlDown(t *testing.T) {
	findE2ETools(t)
	t.Parallel()
	admit(t, scenario{ownCluster: true, ownFlagger: true, expected: demoStart().d})
	bin := buildDemo(t)
	tmp, state := t.TempDir(), t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := demoCommand(t, bin, state, tmp, args...).CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	t.Cleanup(func() { _, _ = demoCommand(t, bin, state, tmp, "down").CombinedOutput() })
	out := run("up")
	t.Logf("make demo-up:\n%s", out)
	m := regexp.MustCompile(`export KUBECONFIG="([^"]+)"`).FindStringSubmatch(out)
	require.Len(t, m, 2, "demo-up prints the KUBECONFIG to export")
	assert.Contains(t, out, "kubectl -n apps get canary podinfo -w")
	assert.Contains(t, out, "go run ./cmd/rollout --stack demo --work-dir ")
	curl := regexp.MustCompile(`curl -H 'Host: podinfo.example.com' (http://\S+/) `).FindStringSubmatch(out)
	require.Len(t, curl, 2, "demo-up prints the walkthrough's curl")
	assert.Contains(t, out, "/status/500")
	assert.Contains(t, out, "/delay/2")
	answer, err := exec.Command("curl", "-s", "-H", "Host: podinfo.example.com", curl[1]).Output()
	require.NoError(t, err)
	assert.Contains(t, string(answer), `"version": "6.0.0"`, "the printed curl reaches podinfo through the gateway")

	// The cluster is still there after demo-up returned, with Flagger's canary initialized.
	cfg, err := clientcmd.BuildConfigFromFlags("", m[1])
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	obj, err := dyn.Resource(rollout.CanaryResource).Namespace("apps").Get(context.Background(), "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "Initialized", phaseOf(obj))

	second, err := demoCommand(t, bin, state, tmp, "up").CombinedOutput()
	require.Error(t, err, "a second demo-up while one runs")
	assert.Contains(t, string(second), "a demo is already running")
	out = run("down")
	assert.Contains(t, out, "demo stopped")
	assertNothingLeft(t, tmp)
	_, err = dyn.Resource(rollout.CanaryResource).Namespace("apps").Get(context.Background(), "podinfo", metav1.GetOptions{})
	assert.Error(t, err, "the API server is gone")
}
