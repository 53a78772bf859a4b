//go:build e2e

package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/internal/syncbuf"
	"github.com/progressive-delivery/platform/rollout"
	"github.com/progressive-delivery/platform/workloads"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Team shop's one namespace, with a quota and container defaults of its own (not the generic team's, so the
// pods' values can only come from its LimitRange), and its service cart, which sets no resources of its own.
// The quota's 300m of CPU requests holds cart's primary and canary at the defaults' 50m with the load tester's
// 10m, but not a canary asking 250m beside them.
const (
	teamServices = `{
  "cart": {"image": {"source": "ghcr.io/stefanprodan/podinfo"}, "version": "6.0.0", "namespace": "%[1]s", "team": "shop",
    "host": "cart.%[1]s.example.com", "port": 8080, "metricsPort": 8080, "command": ["./podinfo", "--port=8080", "--level=info"],
    "resources": {"requests": {"cpu": "", "memory": ""}, "limits": {"cpu": "", "memory": ""}},
    "minReplicas": 1, "maxReplicas": 2, "analysis": {"interval": "10s", "threshold": 4, "stepWeight": 50, "maxWeight": 50, "progressDeadline": "%[2]s"},
    "loadTest": "hey -z 1m -q 2 -c 2 -host {host} {gateway}"}
}`
	teamShop = `{
  "shop": {"namespaces": ["%[1]s"],
    "quota": {"requests": {"cpu": "300m", "memory": "1Gi"}, "limits": {"cpu": "4", "memory": "4Gi"}, "pods": 10},
    "limits": {"defaultRequest": {"cpu": "50m", "memory": "48Mi"}, "default": {"cpu": "300m", "memory": "192Mi"}}}
}`
)

// TestSimCluster_TeamQuotaAndDefaultsHoldTheRelease: the real API server admits cart's pods with the team's
// LimitRange defaults; a release within the quota is promoted; a release whose canary asks more than the quota has
// left never starts (the ReplicaSet's FailedCreate names the quota), Flagger rolls it back at the Canary's
// progress deadline, and the rollout command's output gives Flagger's reason and the API server's refusal; the
// primary keeps serving.
func TestSimCluster_TeamQuotaAndDefaultsHoldTheRelease(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	clock := canaryClock{interval: 10 * time.Second, steps: 1, threshold: 4}
	// The Canary's progress deadline holds the pods of a release that fits (and the primary's at the start) on this
	// machine, three times their reference time.
	deadline := scaled(3*refPodsReady, "3 x pods ready").d.Round(time.Second)
	// up and Initialized; a promotion; the config set and the stuck release; destroy.
	whole := clock.initialized().plus(clock.release(clock.promotion())).plus(pulumiOps(1)).plus(clock.release(clock.stuck(deadline))).plus(pulumiOps(1))
	ctx, cluster := onSharedCluster(t, tools, whole, "team")
	testStart := time.Now()
	stack := servicesStack(ctx, t, tools, cluster, "teams", fmt.Sprintf(teamServices, cluster.ns, deadline), nil,
		map[string]string{"teams": fmt.Sprintf(teamShop, cluster.ns)})
	cart := &testCluster{Cluster: cluster.Cluster, ns: cluster.ns, host: "cart." + cluster.ns + ".example.com"}

	_, err := stack.Up(ctx)
	require.NoError(t, err)
	waitForNamedCanary(ctx, t, cart, "cart", flaggerv1.CanaryPhaseInitialized, clock.initialization())

	// The namespace is the team's, under the restricted profile, which the API server enforces on every pod.
	ns, err := cluster.Core.CoreV1().Namespaces().Get(ctx, cluster.ns, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "shop", ns.Labels[eksfacts.TeamLabel])
	assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"])

	// The primary's pods carry the LimitRange's defaults; the load tester, which sets its own, keeps them.
	pods, err := cluster.Core.CoreV1().Pods(cluster.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	resources := map[string]corev1.ResourceRequirements{}
	for _, p := range pods.Items {
		resources[p.Labels["app"]] = p.Spec.Containers[0].Resources
	}
	require.Contains(t, resources, "cart-primary", "pods of %s: %v", cluster.ns, pods.Items)
	primary := resources["cart-primary"]
	assert.Equal(t, "50m", primary.Requests.Cpu().String())
	assert.Equal(t, "48Mi", primary.Requests.Memory().String())
	assert.Equal(t, "300m", primary.Limits.Cpu().String())
	assert.Equal(t, "192Mi", primary.Limits.Memory().String())
	loadTester := resources[workloads.LoadTesterName]
	assert.Equal(t, "10m", loadTester.Requests.Cpu().String(), "the load tester's own request")

	// The stack runs no pod outside the team's namespace (the app layer installs no platform).
	deployment, err := stack.Export(ctx)
	require.NoError(t, err)
	var state struct {
		Resources []struct {
			Type    string         `json:"type"`
			Outputs map[string]any `json:"outputs"`
		} `json:"resources"`
	}
	require.NoError(t, json.Unmarshal(deployment.Deployment, &state))
	podMakers := 0
	for _, r := range state.Resources {
		if r.Type == "kubernetes:apps/v1:Deployment" || r.Type == "kubernetes:apps/v1:StatefulSet" ||
			r.Type == "kubernetes:apps/v1:DaemonSet" || r.Type == "kubernetes:batch/v1:Job" || r.Type == "kubernetes:core/v1:Pod" {
			podMakers++
			meta, _ := r.Outputs["metadata"].(map[string]any)
			assert.Equal(t, cluster.ns, meta["namespace"], "%s %v runs in the team's namespace", r.Type, meta["name"])
		}
	}
	assert.Equal(t, 2, podMakers, "cart's Deployment and the load tester")

	// 1. A release within the quota is promoted.
	gateway := gatewayTarget{addr: gatewayAddress(t, cluster, "gloo-system").addr, host: cart.host}
	first := &syncbuf.Buffer{}
	code, err := rollout.ReleaseOn(ctx, stack, rollout.ReleaseOptions{Service: "cart", Version: "6.0.1", Timeout: clock.release(clock.promotion()).d, Out: first})
	require.NoError(t, err)
	t.Logf("cart's first release:\n%s", first)
	require.Equal(t, rollout.ExitSucceeded, code, first.String())
	assert.NotContains(t, first.String(), "quota", "a release that fits draws no quota warning")
	assert.Equal(t, "6.0.1", podinfoVersion(t, curlGateway(ctx, t, gateway, "/")))

	// 2. The next release asks 250m for each pod: the preview warns, the canary's pods are refused, Flagger rolls
	// it back at the progress deadline, and 6.0.1 keeps serving.
	require.NoError(t, stack.SetConfigWithOptions(ctx, "services.cart.resources.requests.cpu", auto.ConfigValue{Value: "250m"}, &auto.ConfigOptions{Path: true}))
	releaseStart := time.Now()
	second := &syncbuf.Buffer{}
	code, err = rollout.ReleaseOn(ctx, stack, rollout.ReleaseOptions{Service: "cart", Version: "6.0.2", Timeout: clock.release(clock.stuck(deadline)).d, Out: second})
	require.NoError(t, err)
	t.Logf("cart's second release:\n%s", second)
	assert.Equal(t, rollout.ExitFailed, code, second.String())
	assert.Contains(t, second.String(), "warning: services.cart: a release runs up to 4 pods (maxReplicas 2 × 2, primary and canary), "+
		"which need requests.cpu 1 > 300m: above team shop's quota in "+cluster.ns)
	assert.Contains(t, second.String(), "canary deployment cart."+cluster.ns+" not ready: waiting for rollout to finish", "Flagger's reason")
	assert.Regexp(t, `the new version's pods were refused by the API server: .*exceeded quota: team-quota, requested: requests.cpu=250m`,
		second.String())
	events, err := cluster.Core.CoreV1().Events(cluster.ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedCreate"})
	require.NoError(t, err)
	var refused []string
	for _, e := range events.Items {
		refused = append(refused, e.Message)
	}
	assert.True(t, strings.Contains(strings.Join(refused, "\n"), "exceeded quota: team-quota, requested: requests.cpu=250m"),
		"the canary's pods are refused by the quota: %q", refused)
	for range 5 {
		assert.Equal(t, "6.0.1", podinfoVersion(t, curlGateway(ctx, t, gateway, "/")), "the primary keeps serving")
	}
	failed := time.Since(releaseStart)

	_, err = stack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	logFigure(t, fmt.Sprintf("team quota: promotion within it, rollback of the canary it refused in %s; whole test %s",
		failed.Round(time.Second), time.Since(testStart).Round(time.Second)))
}
