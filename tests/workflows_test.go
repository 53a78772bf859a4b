package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

type workflow struct {
	path string
	raw  string
	doc  map[string]any
}

func loadWorkflows(t *testing.T) map[string]workflow {
	t.Helper()
	paths, err := filepath.Glob("../.github/workflows/*.yml")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string]workflow{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, yaml.Unmarshal(raw, &doc), p)
		out[strings.TrimSuffix(filepath.Base(p), ".yml")] = workflow{p, string(raw), doc}
	}
	return out
}

// triggers returns the workflow's "on:" map; YAML 1.1 reads a bare on as the boolean true.
func triggers(w workflow) map[string]any {
	if on, ok := w.doc["on"].(map[string]any); ok {
		return on
	}
	on, _ := w.doc["true"].(map[string]any)
	return on
}

func jobs(t *testing.T, w workflow) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for name, j := range w.doc["jobs"].(map[string]any) {
		out[name] = j.(map[string]any)
	}
	return out
}

func steps(job map[string]any) []map[string]any {
	var out []map[string]any
	for _, s := range job["steps"].([]any) {
		out = append(out, s.(map[string]any))
	}
	return out
}

// stepUsing returns the step of job that uses action (by prefix, e.g. "pulumi/actions@").
func stepUsing(job map[string]any, action string) map[string]any {
	for _, s := range steps(job) {
		if uses, _ := s["uses"].(string); strings.HasPrefix(uses, action) {
			return s
		}
	}
	return nil
}

func TestWorkflows_PreviewEveryStackFileOnPullRequests(t *testing.T) {
	t.Parallel()
	w, ok := loadWorkflows(t)["preview"]
	require.True(t, ok, "preview.yml exists")
	assert.Contains(t, triggers(w), "pull_request")
	assert.Equal(t, map[string]any{"contents": "read"}, w.doc["permissions"], "read-only by default")

	j := jobs(t, w)
	test := j["test"]
	require.NotNil(t, test)
	setupGo := stepUsing(test, "actions/setup-go@")
	require.NotNil(t, setupGo)
	assert.Equal(t, "go.mod", setupGo["with"].(map[string]any)["go-version-file"])
	assert.Equal(t, true, setupGo["with"].(map[string]any)["cache"])
	var runs []string
	for _, s := range steps(test) {
		if r, ok := s["run"].(string); ok {
			runs = append(runs, r)
		}
	}
	assert.Contains(t, runs, "go vet ./...")
	assert.Contains(t, runs, "go test -timeout 30m ./...", "the README's test command")
	// The real-engine suite needs root (the simulated pods' mount namespaces, the gateway on port 80): on a
	// GitHub runner the README's command for it runs through sudo, with the runner's environment and PATH.
	testsAt := slices.Index(runs, `sudo -E env "PATH=$PATH" go test -tags e2e -timeout 60m ./tests/`)
	assert.GreaterOrEqual(t, testsAt, 0, "the README's real-engine command, as root")
	toolsAt := slices.IndexFunc(runs, func(r string) bool { return strings.Contains(r, "tests/e2e/tools.sh") })
	assert.GreaterOrEqual(t, toolsAt, 0, "GitHub sets CI=true, so the job builds the real-engine tools")
	assert.Less(t, toolsAt, testsAt, "before the real-engine tests")
	assert.NotNil(t, stepUsing(test, "actions/cache@"), "and caches them")

	assert.Contains(t, j["stacks"]["steps"].([]any)[1].(map[string]any)["run"], "Pulumi.*.yaml",
		"the stack list is derived from the stack files")
	preview := j["preview"]
	require.NotNil(t, preview)
	assert.Equal(t, "${{ fromJSON(needs.stacks.outputs.stacks) }}", preview["strategy"].(map[string]any)["matrix"].(map[string]any)["stack"],
		"the matrix is the discovered stack list, not a hand-kept one")
	assert.Equal(t, "preview-${{ matrix.stack }}", preview["concurrency"].(map[string]any)["group"],
		"one group per stack, apart from the deploys' pulumi-<stack> groups, so a preview never cancels a queued deploy")
	assert.Equal(t, map[string]any{"contents": "read", "id-token": "write", "pull-requests": "write"}, preview["permissions"])

	aws := stepUsing(preview, "aws-actions/configure-aws-credentials@")
	require.NotNil(t, aws)
	assert.Contains(t, aws["with"], "role-to-assume", "AWS access through an OIDC-assumed role")

	pulumi := stepUsing(preview, "pulumi/actions@")
	require.NotNil(t, pulumi)
	assert.Equal(t, "pulumi/actions@v7", pulumi["uses"])
	with := pulumi["with"].(map[string]any)
	assert.Equal(t, "preview", with["command"])
	assert.Equal(t, "${{ matrix.stack }}", with["stack-name"])
	assert.Equal(t, true, with["comment-on-pr"], "the diff is posted on the PR")
	assert.NotContains(t, with, "cloud-url", "a login does not override Pulumi.yaml's backend.url")
	assert.Equal(t, "./policy", with["policyPacks"], "every preview runs the policy pack")
	assert.Equal(t, "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}", preview["env"].(map[string]any)["PULUMI_CONFIG_PASSPHRASE"])
}

func TestWorkflows_DeliveryAndDestroy(t *testing.T) {
	t.Parallel()
	all := loadWorkflows(t)
	deliver, ok := all["deliver"]
	require.True(t, ok, "deliver.yml exists")
	assert.Equal(t, map[string]any{"branches": []any{"main"}}, triggers(deliver)["push"])
	j := jobs(t, deliver)
	dev := stepUsing(j["up-dev"], "pulumi/actions@")
	require.NotNil(t, dev)
	assert.Equal(t, "up", dev["with"].(map[string]any)["command"])
	assert.Equal(t, "dev", dev["with"].(map[string]any)["stack-name"])
	others := j["up-others"]
	assert.Equal(t, "${{ matrix.stack }}", others["environment"], "other stacks go through their protected environment")
	assert.Contains(t, j["stacks"]["steps"].([]any)[1].(map[string]any)["run"], `[ "$s" = dev ] ||`, "every stack but dev")
	assert.Contains(t, others["needs"], "up-dev", "dev first")

	destroy, ok := all["destroy"]
	require.True(t, ok, "destroy.yml exists")
	dispatch := triggers(destroy)["workflow_dispatch"].(map[string]any)["inputs"].(map[string]any)
	assert.Contains(t, dispatch, "stack")
	assert.Contains(t, dispatch, "confirm", "the stack name typed twice")
	dj := jobs(t, destroy)
	assert.Contains(t, steps(dj["confirm"])[1]["run"], `if [ "$STACK" != "$CONFIRM" ]`)
	assert.Equal(t, "confirm", dj["destroy"]["needs"])
	assert.Equal(t, "${{ inputs.stack }}", dj["destroy"]["environment"])
	assert.Equal(t, "destroy", stepUsing(dj["destroy"], "pulumi/actions@")["with"].(map[string]any)["command"])
}

// TestWorkflows_DriftIsCheckedDailyOnEveryStack: a scheduled preview of each stack file that refreshes from the
// cloud and fails on any change, and reports a drift on the stack's issue.
func TestWorkflows_DriftIsCheckedDailyOnEveryStack(t *testing.T) {
	t.Parallel()
	w, ok := loadWorkflows(t)["drift"]
	require.True(t, ok, "drift.yml exists")
	schedule, _ := triggers(w)["schedule"].([]any)
	require.Len(t, schedule, 1)
	assert.Regexp(t, `^\d+ \d+ \* \* \*$`, schedule[0].(map[string]any)["cron"], "daily")
	assert.Equal(t, map[string]any{"contents": "read"}, w.doc["permissions"], "read-only by default")
	j := jobs(t, w)
	assert.Contains(t, j["stacks"]["steps"].([]any)[1].(map[string]any)["run"], "Pulumi.*.yaml", "every stack file")
	drift := j["drift"]
	require.NotNil(t, drift)
	assert.Equal(t, "${{ fromJSON(needs.stacks.outputs.stacks) }}", drift["strategy"].(map[string]any)["matrix"].(map[string]any)["stack"])
	assert.Equal(t, false, drift["strategy"].(map[string]any)["fail-fast"], "one stack's drift does not hide another's")
	preview := stepUsing(drift, "pulumi/actions@")
	require.NotNil(t, preview)
	with := preview["with"].(map[string]any)
	assert.Equal(t, "preview", with["command"])
	assert.Equal(t, true, with["refresh"], "reads the cloud back first")
	assert.Equal(t, true, with["expect-no-changes"], "a change fails the check")
	assert.Equal(t, "${{ matrix.stack }}", with["stack-name"])
	assert.Equal(t, map[string]any{"contents": "read", "id-token": "write", "issues": "write"}, drift["permissions"])
	var report map[string]any
	for _, s := range steps(drift) {
		if r, _ := s["run"].(string); strings.Contains(r, "gh issue comment") {
			report = s
		}
	}
	require.NotNil(t, report, "a step reports the drift")
	assert.Equal(t, "failure() && steps.preview.outcome == 'failure'", report["if"], "only when the preview found a drift")
	assert.Contains(t, report["run"], "gh issue create", "the stack's issue is opened the first time")
}

func TestWorkflows_NoLongLivedAWSKeysAndOnePinnedCLI(t *testing.T) {
	t.Parallel()
	pinned, err := os.ReadFile("../.pulumi.version")
	require.NoError(t, err)
	version := strings.TrimSpace(string(pinned))
	require.Regexp(t, `^\d+\.\d+\.\d+$`, version)
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	assert.Contains(t, string(readme), "Pulumi CLI v"+version+" (pinned in `.pulumi.version`",
		"README names the pinned CLI version")
	makefile, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	assert.Contains(t, string(makefile), ".pulumi.version", "local runs check the same pin")

	keyRef := regexp.MustCompile(`(?i)aws-access-key-id|aws-secret-access-key|secrets\.AWS_(ACCESS|SECRET)`)
	for name, w := range loadWorkflows(t) {
		assert.NotRegexp(t, keyRef, w.raw, "%s must not use long-lived AWS keys", name)
		for jobName, job := range jobs(t, w) {
			if _, hasSteps := job["steps"]; !hasSteps {
				continue
			}
			if s := stepUsing(job, "pulumi/actions@"); s != nil {
				assert.Equal(t, "pulumi/actions@v7", s["uses"], "%s/%s", name, jobName)
				assert.Equal(t, ".pulumi.version", s["with"].(map[string]any)["pulumi-version-file"],
					"%s/%s installs the pinned CLI", name, jobName)
				assert.NotNil(t, stepUsing(job, "aws-actions/configure-aws-credentials@"), "%s/%s assumes its role", name, jobName)
				// pulumi-eks checks for kubectl >= 1.24.0 on every run that builds its cluster.
				kubectl := stepUsing(job, "azure/setup-kubectl@")
				if assert.NotNil(t, kubectl, "%s/%s installs kubectl", name, jobName) {
					assert.Regexp(t, `^v1\.(2[4-9]|[3-9]\d)\.\d+$`, kubectl["with"].(map[string]any)["version"], "%s/%s pins kubectl >= 1.24", name, jobName)
				}
				assert.Equal(t, "write", job["permissions"].(map[string]any)["id-token"], "%s/%s may request an OIDC token", name, jobName)
			} else if perms, ok := job["permissions"].(map[string]any); ok {
				assert.NotContains(t, perms, "id-token", "%s/%s needs no OIDC token", name, jobName)
			}
		}
	}
}

// TestWorkflows_EveryPulumiJobUsesTheSharedState: the CLI takes PULUMI_BACKEND_URL before Pulumi.yaml's
// backend.url (a file backend that is empty on every runner), so every job that runs pulumi must set it.
func TestWorkflows_EveryPulumiJobUsesTheSharedState(t *testing.T) {
	t.Parallel()
	n := 0
	for name, w := range loadWorkflows(t) {
		for jobName, job := range jobs(t, w) {
			if stepUsing(job, "pulumi/actions@") == nil {
				continue
			}
			n++
			env, _ := job["env"].(map[string]any)
			assert.Equal(t, "${{ vars.PULUMI_BACKEND_URL }}", env["PULUMI_BACKEND_URL"], "%s/%s", name, jobName)
			group := job["concurrency"].(map[string]any)["group"].(string)
			if name == "preview" || name == "drift" {
				assert.True(t, strings.HasPrefix(group, "preview-"), "previews have their own group: %s", group)
			} else {
				assert.True(t, strings.HasPrefix(group, "pulumi-"), "deploys and destroys share the stack's group: %s", group)
			}
		}
	}
	assert.Equal(t, 5, n, "preview, up-dev, up-others, destroy, drift")
}

// TestMakefile_NamesAMissingKubectlOrAWSCLI: `make up` checks what pulumi-eks needs (kubectl, the AWS CLI)
// before the Pulumi CLI runs, and names what is missing.
func TestMakefile_NamesAMissingKubectlOrAWSCLI(t *testing.T) {
	t.Parallel()
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed")
	}
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "pulumi"), []byte("#!/bin/sh\necho v0\n"), 0o755))
	cmd := exec.Command(makeBin, "-s", "-C", "..", "prerequisites")
	cmd.Env = append(os.Environ(), "PATH="+bin)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "make stops")
	assert.Contains(t, string(out), "missing: kubectl aws.")

	for _, tool := range []string{"kubectl", "aws"} {
		require.NoError(t, os.WriteFile(filepath.Join(bin, tool), []byte("#!/bin/sh\n"), 0o755))
	}
	cmd = exec.Command(makeBin, "-s", "-C", "..", "prerequisites")
	cmd.Env = append(os.Environ(), "PATH="+bin)
	out, err = cmd.CombinedOutput()
	assert.NoError(t, err, string(out))
}
