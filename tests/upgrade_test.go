//go:build e2e

package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/progressive-delivery/platform/internal/simcluster"
	"github.com/progressive-delivery/platform/rollout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// singleServiceRelease is the last commit before the services key: its podinfo was one App, configured by
// appNamespace, domain and the podinfo* keys.
const singleServiceRelease = "319eaa1"

// TestRealEngine_UpgradeFromTheSingleServiceRelease: a stack deployed by the program as it was before the services
// key (that commit's main.go, built by tools.sh, run by the real CLI), then moved to the services key with the
// commands the preview names and updated by this program: the preview plans no replace and no delete, the up keeps
// the Deployment and starts no new canary revision.
func TestRealEngine_UpgradeFromTheSingleServiceRelease(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	// The base program, built by tools.sh (a clone without the commit has none), run by the real CLI through its
	// Go language host from a project with that commit's Pulumi.yaml.
	program := tools.Path("progressive-delivery-" + singleServiceRelease)
	if _, err := os.Stat(program); err != nil {
		shallow, _ := exec.Command("git", "-C", "..", "rev-parse", "--is-shallow-repository").Output()
		if strings.TrimSpace(string(shallow)) == "true" {
			t.Skipf("skipped: this clone is shallow and lacks commit %s, the release before the services key", singleServiceRelease)
		}
		t.Fatalf("no program of commit %s among the tools (tests/e2e/tools.sh builds it): %v", singleServiceRelease, err)
	}
	projectFile, err := exec.Command("git", "-C", "..", "show", singleServiceRelease+":Pulumi.yaml").Output()
	require.NoError(t, err)
	projectFile, err = simcluster.ProjectWithBinary(projectFile, program)
	require.NoError(t, err)
	base := filepath.Join(t.TempDir(), "base")
	require.NoError(t, os.Mkdir(base, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(base, "Pulumi.yaml"), projectFile, 0o644))
	clock := walkthroughClock()
	// up at the base and Initialized; a refused preview, the preview and up of this program; two ticks; destroy.
	whole := clock.initialized().plus(pulumiOps(3)).plus(clock.intervals(2, "a revision's detection")).plus(pulumiOps(1))
	ctx, cluster := onSharedCluster(t, tools, whole, "upgrade")

	u := newCLIUserOf(t, tools, base)
	u.ok("config", "set", "--secret", "kubeconfig", string(cluster.Kubeconfig))
	u.ok("config", "set", "platformInstall", "false")
	u.ok("config", "set", "appNamespace", cluster.ns)
	u.ok("config", "set", "domain", cluster.host)
	u.ok("up", "--yes")
	waitForCanary(ctx, t, cluster, flaggerv1.CanaryPhaseInitialized)
	deployment, err := cluster.Core.AppsV1().Deployments(cluster.ns).Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	canary := func() string {
		obj, err := cluster.Dynamic.Resource(rollout.CanaryResource).Namespace(cluster.ns).Get(ctx, "podinfo", metav1.GetOptions{})
		require.NoError(t, err)
		spec, _, _ := unstructured.NestedString(obj.Object, "status", "lastAppliedSpec")
		require.NotEmpty(t, spec)
		return spec
	}
	lastApplied := canary()

	// This program refuses the single-service keys, naming the commands that move each.
	u.project = ".."
	out, err := u.run("preview")
	require.Error(t, err, out)
	for _, command := range []string{
		"pulumi config rm appNamespace", "pulumi config set --path 'services.podinfo.namespace' " + cluster.ns,
		"pulumi config rm domain", "pulumi config set --path 'services.podinfo.host' " + cluster.host,
	} {
		assert.Contains(t, out, command)
	}
	assert.NotContains(t, out, "to create", "nothing is declared")
	u.ok("config", "rm", "appNamespace")
	u.ok("config", "set", "--path", "services.podinfo.namespace", cluster.ns)
	u.ok("config", "rm", "domain")
	u.ok("config", "set", "--path", "services.podinfo.host", cluster.host)

	// The plan: the App's objects carried over by aliases, nothing replaced or deleted.
	out = u.ok("preview", "--json")
	var plan struct {
		Steps []struct {
			Op  string `json:"op"`
			URN string `json:"urn"`
		} `json:"steps"`
	}
	// The plan is the first JSON value; the CLI's warnings may come around it.
	require.NoError(t, json.NewDecoder(strings.NewReader(out[max(0, strings.Index(out, "{")):])).Decode(&plan), out)
	ops := map[string]int{}
	for _, step := range plan.Steps {
		ops[step.Op]++
		assert.NotContains(t, []string{"replace", "create-replacement", "delete-replaced", "delete", "discard"}, step.Op,
			"%s would be %s", step.URN, step.Op)
	}
	t.Logf("the upgrade's plan: %v", ops)

	u.ok("up", "--yes")
	after, err := cluster.Core.AppsV1().Deployments(cluster.ns).Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, deployment.UID, after.UID, "the Deployment is the same object")
	assert.Equal(t, deployment.Generation, after.Generation, "its spec did not change")
	time.Sleep(clock.intervals(2, "a revision's detection").d)
	assert.Equal(t, lastApplied, canary(), "no new canary revision: the Canary's lastAppliedSpec is unchanged")
	out = u.ok("preview", "--expect-no-changes")
	assert.NotContains(t, out, "error")
	u.ok("destroy", "--yes")
}
