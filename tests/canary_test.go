//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	gatewayv1 "github.com/fluxcd/flagger/pkg/apis/gloo/gateway/v1"
	"github.com/progressive-delivery/platform/internal/simcluster"
	"github.com/progressive-delivery/platform/internal/syncbuf"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/progressive-delivery/platform/program"
	"github.com/progressive-delivery/platform/rollout"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
)

var (
	routeTables = schema.GroupVersionResource{Group: "gateway.solo.io", Version: "v1", Resource: "routetables"}
	upstreams   = schema.GroupVersionResource{Group: "gloo.solo.io", Version: "v1", Resource: "upstreams"}
)

// TestSimCluster_WalkthroughCanary is the walkthrough's own demonstration, for real: the program deployed with
// the real Pulumi engine onto a simulated cluster (real kube-apiserver, controller-manager and scheduler, kwok
// nodes), the real Flagger controller taking over, the rollout command promoting 6.0.1 through weights 5..50 on
// the load tester's traffic and rolling back 6.0.2 on the 500s of `watch curl .../status/500`, both measured by
// the Flagger chart's Prometheus, and destroy leaving nothing. It runs in namespace apps of the shared cluster.
func TestSimCluster_WalkthroughCanary(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	clock := walkthroughClock()
	// up and Initialized; a refreshed preview and up; the promotion and the rollback; destroy.
	whole := clock.initialized().plus(pulumiOps(2)).plus(clock.release(clock.promotion())).
		plus(clock.release(clock.rollback())).plus(pulumiOps(1))
	ctx, cluster := onSharedCluster(t, tools, whole, manifests.AppNamespace)
	testStart := time.Now()

	// Stack config only, as a user of an existing cluster sets it.
	stack := walkthroughStack(ctx, t, tools, cluster, "walkthrough")

	// 1. Initialization.
	phaseStart := time.Now()
	_, err := stack.Up(ctx)
	require.NoError(t, err)
	upTime := time.Since(phaseStart)
	canaries := cluster.Dynamic.Resource(rollout.CanaryResource).Namespace(cluster.ns)
	waitForCanary(ctx, t, cluster, flaggerv1.CanaryPhaseInitialized)
	initTime := time.Since(phaseStart)

	primary, err := cluster.Core.AppsV1().Deployments(cluster.ns).Get(ctx, "podinfo-primary", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.0", primary.Spec.Template.Spec.Containers[0].Image)
	// The HPA raises the primary from 1 to 2 once Flagger made it: its pods start at most three times over
	// (created, rescheduled, probed).
	podsReady := scaled(3*refPodsReady, fmt.Sprintf("3 x pods ready %s", refPodsReady))
	require.Eventually(t, func() bool {
		d, err := cluster.Core.AppsV1().Deployments(cluster.ns).Get(ctx, "podinfo-primary", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 2
	}, podsReady.d, time.Second, "podinfo-primary reaches the HPA's minimum of 2 available pods within %s", podsReady)
	pods, err := cluster.Core.CoreV1().Pods(cluster.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=podinfo-primary"})
	require.NoError(t, err)
	nodes := map[string]bool{}
	for _, n := range simcluster.DevNodes() {
		nodes[n.Name] = true
	}
	running := 0
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && nodes[p.Spec.NodeName] {
			running++
		}
	}
	assert.Equal(t, 2, running, "podinfo-primary's pods run on the fake m5.2xlarge nodes")
	podinfo, err := cluster.Core.AppsV1().Deployments(cluster.ns).Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(0), *podinfo.Spec.Replicas, "Flagger scaled podinfo to zero")
	for _, name := range []string{"podinfo", "podinfo-primary", "podinfo-canary"} {
		_, err := cluster.Core.CoreV1().Services(cluster.ns).Get(ctx, name, metav1.GetOptions{})
		assert.NoError(t, err, "Service %s", name)
	}
	for _, name := range []string{"apps-podinfo-primaryupstream-9898", "apps-podinfo-canaryupstream-9898"} {
		_, err := cluster.Dynamic.Resource(upstreams).Namespace(cluster.ns).Get(ctx, name, metav1.GetOptions{})
		assert.NoError(t, err, "Gloo Upstream %s", name)
	}
	primaryWeight, canaryWeight := routeWeights(ctx, t, cluster)
	assert.Equal(t, [2]uint32{100, 0}, [2]uint32{primaryWeight, canaryWeight}, "the RouteTable our VirtualService delegates to")

	// 2. No fight with Flagger: the program does not claim what Flagger changed, and a new up undoes nothing.
	_, err = stack.Preview(ctx, optpreview.Refresh(), optpreview.ExpectNoChanges())
	require.NoError(t, err, "preview --refresh --expect-no-changes after Flagger took over")
	_, err = stack.Up(ctx, optup.Refresh())
	require.NoError(t, err)
	podinfo, err = cluster.Core.AppsV1().Deployments(cluster.ns).Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(0), *podinfo.Spec.Replicas, "pulumi up --refresh leaves podinfo at zero")
	obj, err := canaries.Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "Initialized", phaseOf(obj), "no new revision was started")

	// 3. Promotion through the rollout command, on the load tester's traffic through the gateway, measured by the
	// Flagger chart's Prometheus.
	gateway := gatewayAddress(t, cluster, "gloo-system")
	assert.Equal(t, "6.0.0", podinfoVersion(t, curlGateway(ctx, t, gateway, "/")), "the walkthrough's curl check before the release")
	weights := recordCanaryWeights(ctx, t, cluster)
	atHalf := sampleVersionsAtWeight(ctx, t, cluster, gateway, 50, 60)
	phaseStart = time.Now()
	out := &syncbuf.Buffer{}
	code, err := release(ctx, stack, "6.0.1", clock.promotion(), out)
	require.NoError(t, err)
	promotionTime := time.Since(phaseStart)
	t.Logf("rollout 6.0.1:\n%s", out)
	require.Equal(t, rollout.ExitSucceeded, code, out.String())
	text := out.String()
	for _, want := range []string{"Progressing", "Promoting", "Finalising", "Succeeded", "rollout succeeded", " 50%/50%"} {
		assert.Contains(t, text, want)
	}
	assert.Equal(t, []uint32{5, 10, 15, 20, 25, 30, 35, 40, 45, 50}, weights.distinct(), "the RouteTable's canary weights, in order")
	primary, err = cluster.Core.AppsV1().Deployments(cluster.ns).Get(ctx, "podinfo-primary", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.1", primary.Spec.Template.Spec.Containers[0].Image)
	versions := <-atHalf
	t.Logf("60 requests through the gateway at canary weight 50: %v", versions)
	assert.Greater(t, versions["6.0.0"], 10, "the primary answers about half: %v", versions)
	assert.Greater(t, versions["6.0.1"], 10, "the canary answers about half: %v", versions)
	for range 5 {
		assert.Equal(t, "6.0.1", podinfoVersion(t, curlGateway(ctx, t, gateway, "/")), "the walkthrough's curl check after promotion")
	}
	status, err := gatewayTarget{addr: gateway.addr, host: "unknown.example.com"}.curl(ctx, "/", "-o", "/dev/null", "-w", "%{http_code}")
	require.NoError(t, err)
	assert.Equal(t, "404", string(status), "a host no VirtualService has gets Envoy's 404")
	calls := cluster.callsSince(phaseStart)
	hooks := webhookCommands(calls)
	const acceptance = "curl -sd 'test' http://podinfo-canary:9898/token | grep token"
	const loadTest = "hey -z 2m -q 5 -c 2 -host podinfo.example.com http://gateway-proxy.gloo-system"
	require.Contains(t, hooks, acceptance, "the acceptance-test webhook was called")
	require.Contains(t, hooks, loadTest, "the load-test webhook was called")
	assert.Less(t, slices.Index(hooks, acceptance), slices.Index(hooks, loadTest), "the acceptance test runs before the load test")
	assert.NotZero(t, countQueries(calls, "request-success-rate"))
	assert.NotZero(t, countQueries(calls, "request-duration"))
	for _, c := range calls {
		if c.Kind == "query" && c.Name == "request-success-rate" {
			assert.Contains(t, c.Query, `envoy_cluster_name=~"apps-podinfo-canaryupstream-`, "the query is Flagger's Gloo query for our canary")
			break
		}
	}

	// 4. Rollback the walkthrough's way: during 6.0.2's analysis, `watch curl .../status/500` through the gateway.
	// Released right after the Succeeded above, so the command must also not take that Succeeded for this
	// release's result (5).
	out, rollbackTime, codes := rollBackOnBadTraffic(ctx, t, cluster, stack, "6.0.2", gateway, "/status/500")
	t.Logf("rollout 6.0.2 with /status/500 traffic (answers %v):\n%s", codes, out)
	assert.Contains(t, out.String(), "rollout failed after 5 failed checks: Canary analysis failed, Deployment scaled to zero.")
	assert.NotContains(t, out.String(), "rollout succeeded")
	assert.NotZero(t, codes["500"], "the bad traffic got podinfo's 500s")
	assert.Regexp(t, `Halt podinfo\.apps advancement success rate \d+(\.\d+)?% < 99%`, cluster.FlaggerLog(),
		"Prometheus measured the 500s below the threshold")
	for range 5 {
		assert.Equal(t, "6.0.1", podinfoVersion(t, curlGateway(ctx, t, gateway, "/")), "the curl check after the rollback")
	}

	primary, err = cluster.Core.AppsV1().Deployments(cluster.ns).Get(ctx, "podinfo-primary", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.1", primary.Spec.Template.Spec.Containers[0].Image, "the primary stays on 6.0.1")
	primaryWeight, canaryWeight = routeWeights(ctx, t, cluster)
	assert.Equal(t, [2]uint32{100, 0}, [2]uint32{primaryWeight, canaryWeight}, "all traffic back on the primary")

	dataPlaneCPU := cluster.DataPlaneCPU()

	// 6. Destroy leaves nothing: neither our objects nor the ones Flagger generated.
	phaseStart = time.Now()
	_, err = stack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := cluster.Core.CoreV1().Namespaces().Get(ctx, cluster.ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, time.Minute, 500*time.Millisecond, "namespace apps is gone")
	destroyTime := time.Since(phaseStart)
	for _, gvr := range []schema.GroupVersionResource{rollout.CanaryResource, routeTables, upstreams,
		{Group: "gateway.solo.io", Version: "v1", Resource: "virtualservices"}} {
		list, err := cluster.Dynamic.Resource(gvr).Namespace(cluster.ns).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, list.Items, "no %s remain", gvr.Resource)
	}
	for _, kind := range []string{"deployments", "horizontalpodautoscalers", "services"} {
		assert.Empty(t, listNames(t, cluster, kind), "no %s remain", kind)
	}

	summary := fmt.Sprintf("walkthrough canary on the simulated cluster: up %s, initialized %s after up started, "+
		"promotion of 6.0.1 %s, rollback of 6.0.2 on /status/500 %s, destroy %s, whole test %s",
		upTime.Round(time.Second), initTime.Round(time.Second), promotionTime.Round(time.Second),
		rollbackTime.Round(time.Second), destroyTime.Round(time.Second), time.Since(testStart).Round(time.Second))
	summary += fmt.Sprintf("; CPU of the data plane's processes (podinfo, load tester with hey and curl, Prometheus) %s",
		dataPlaneCPU.Round(time.Second))
	logFigure(t, summary)
	assert.Less(t, time.Since(testStart), whole.d, "the scenario stays within its bound, %s", whole)
}

// TestSimCluster_SlowCanaryRollsBack is the walkthrough's other way to fail a release, `watch curl .../delay/2`
// through the gateway: the slow answers fail the P99 check the Flagger chart's Prometheus measures, and 6.1.0 is
// rolled back. It runs beside the walkthrough, in a namespace of its own on the shared cluster.
func TestSimCluster_SlowCanaryRollsBack(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	clock := walkthroughClock()
	ctx, cluster := onSharedCluster(t, tools, clock.initialized().plus(clock.release(clock.rollback())), "slow")
	testStart := time.Now()
	stack := initializedStack(ctx, t, tools, cluster, "slow")
	gateway := gatewayAddress(t, cluster, "gloo-system")

	out, rollbackTime, codes := rollBackOnBadTraffic(ctx, t, cluster, stack, "6.1.0", gateway, "/delay/2")
	t.Logf("rollout 6.1.0 with /delay/2 traffic (answers %v):\n%s", codes, out)
	assert.Contains(t, out.String(), "rollout failed after 5 failed checks")
	assert.NotZero(t, codes["200"], "the slow requests were answered")
	assert.Regexp(t, `Halt podinfo\.slow advancement request duration [\d.]+m?s > 500ms`, cluster.FlaggerLog(),
		"Prometheus measured the delays above the threshold")
	primary, err := cluster.Core.AppsV1().Deployments(cluster.ns).Get(ctx, "podinfo-primary", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.0", primary.Spec.Template.Spec.Containers[0].Image, "the primary stays on 6.0.0")
	primaryWeight, canaryWeight := routeWeights(ctx, t, cluster)
	assert.Equal(t, [2]uint32{100, 0}, [2]uint32{primaryWeight, canaryWeight}, "all traffic back on the primary")
	assert.Equal(t, "6.0.0", podinfoVersion(t, curlGateway(ctx, t, gateway, "/")), "the curl check after the rollback")

	summary := fmt.Sprintf("slow canary on the simulated cluster: rollback of 6.1.0 on /delay/2 %s, whole test %s",
		rollbackTime.Round(time.Second), time.Since(testStart).Round(time.Second))
	logFigure(t, summary)
}

// TestSimCluster_LoadTestWithAWrongHostRollsBack: a load test whose -host is not the stack's domain reaches the
// gateway, which answers 404 (no VirtualService has that host), so none of its traffic reaches the canary; the
// Flagger chart's Prometheus has no samples, the canary ends Failed, and the rollout command says so in
// Flagger's words. The Canary's load-test command is edited by hand, as a user's mistake would.
func TestSimCluster_LoadTestWithAWrongHostRollsBack(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	clock := walkthroughClock()
	ctx, cluster := onSharedCluster(t, tools, clock.initialized().plus(clock.release(clock.rollback())), "wrong-host")
	stack := initializedStack(ctx, t, tools, cluster, "wrong-host")

	const wrongHost = "podinfo.example.org"
	canaries := cluster.Dynamic.Resource(rollout.CanaryResource).Namespace(cluster.ns)
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, err := canaries.Get(ctx, "podinfo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		var c flaggerv1.Canary
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &c); err != nil {
			return err
		}
		edited := false
		for i, hook := range c.Spec.Analysis.Webhooks {
			if hook.Metadata != nil && strings.Contains((*hook.Metadata)["cmd"], "-host "+cluster.host+" ") {
				(*c.Spec.Analysis.Webhooks[i].Metadata)["cmd"] = strings.Replace((*hook.Metadata)["cmd"], cluster.host, wrongHost, 1)
				edited = true
			}
		}
		require.True(t, edited, "the Canary has a load-test webhook with -host %s", cluster.host)
		if obj.Object, err = runtime.DefaultUnstructuredConverter.ToUnstructured(&c); err != nil {
			return err
		}
		_, err = canaries.Update(ctx, obj, metav1.UpdateOptions{})
		return err
	}))

	start := time.Now()
	out := &syncbuf.Buffer{}
	code, err := release(ctx, stack, "6.0.1", clock.rollback(), out)
	require.NoError(t, err)
	t.Logf("rollout 6.0.1 with the load test on %s:\n%s", wrongHost, out)
	require.Equal(t, rollout.ExitFailed, code, out.String())
	assert.Contains(t, out.String(), "no values found", "the rollout command shows why: no traffic reached the canary")
	assert.Contains(t, webhookCommands(cluster.callsSince(start)), "hey -z 2m -q 5 -c 2 -host "+wrongHost+" http://gateway-proxy.gloo-system",
		"the load test ran, with the wrong host")
	primary, err := cluster.Core.AppsV1().Deployments(cluster.ns).Get(ctx, "podinfo-primary", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.0", primary.Spec.Template.Spec.Containers[0].Image, "the primary stays on 6.0.0")
	gateway := gatewayAddress(t, cluster, "gloo-system")
	status, err := gatewayTarget{addr: gateway.addr, host: wrongHost}.curl(ctx, "/", "-o", "/dev/null", "-w", "%{http_code}")
	require.NoError(t, err)
	assert.Equal(t, "404", string(status), "what the load test got from the gateway")
	summary := fmt.Sprintf("load test with a wrong host on the simulated cluster: 6.0.1 failed after %s", time.Since(start).Round(time.Second))
	logFigure(t, summary)
}

// walkthroughStack is a stack of the program on the simulated cluster, with stack config only: the kubeconfig
// and no platform install. Its analysis is the walkthrough's, threshold 5 included. On real traffic the first
// check after the load test starts finds no values, as on a real cluster, and the second often too; Flagger counts
// them for the whole analysis. A threshold of 3 rolled a good 6.0.1 back in a cold CI run, where a third check
// found no values on a busy machine.
func walkthroughStack(ctx context.Context, t *testing.T, tools simcluster.Tools, cluster *testCluster, name string) auto.Stack {
	t.Helper()
	stack := newE2EStack(t, tools, name, program.Run)
	require.NoError(t, stack.SetAllConfig(ctx, auto.ConfigMap{
		"kubeconfig":      {Value: string(cluster.Kubeconfig), Secret: true},
		"platformInstall": {Value: "false"},
	}))
	// The walkthrough's podinfo in the test's namespace, on its host: two fields, set as a user would.
	require.NoError(t, stack.SetAllConfigWithOptions(ctx, auto.ConfigMap{
		"services.podinfo.namespace": {Value: cluster.ns},
		"services.podinfo.host":      {Value: cluster.host},
	}, &auto.ConfigOptions{Path: true}))
	return stack
}

// waitForCanary waits until Flagger reports phase on the test's podinfo Canary, for as long as Flagger's
// initialization may take (the walkthrough's analysis).
func waitForCanary(ctx context.Context, t *testing.T, cluster *testCluster, phase flaggerv1.CanaryPhase) {
	t.Helper()
	waitForCanaryWithin(ctx, t, cluster, phase, walkthroughClock().initialization())
}

func waitForCanaryWithin(ctx context.Context, t *testing.T, cluster *testCluster, phase flaggerv1.CanaryPhase, b bound) {
	t.Helper()
	var last string
	var lastErr error
	ok := assert.Eventually(t, func() bool {
		obj, err := cluster.Dynamic.Resource(rollout.CanaryResource).Namespace(cluster.ns).Get(ctx, "podinfo", metav1.GetOptions{})
		if lastErr = err; err != nil {
			return false
		}
		last = phaseOf(obj)
		return last == string(phase)
	}, b.d, 500*time.Millisecond)
	require.True(t, ok, "canary never reached %s within %s (last phase %q, last error %v)", phase, b, last, lastErr)
}

func phaseOf(obj *unstructured.Unstructured) string {
	phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
	return phase
}

// routeWeights reads the primary and canary weights of the RouteTable apps/podinfo, typed with Flagger's own
// Gloo API types.
func routeWeights(ctx context.Context, t *testing.T, cluster *testCluster) (primary, canary uint32) {
	t.Helper()
	obj, err := cluster.Dynamic.Resource(routeTables).Namespace(cluster.ns).Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err, "RouteTable apps/podinfo")
	return weightsOf(t, obj)
}

func weightsOf(t *testing.T, obj *unstructured.Unstructured) (primary, canary uint32) {
	t.Helper()
	var rt gatewayv1.RouteTable
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &rt))
	require.NotEmpty(t, rt.Spec.Routes)
	for _, d := range rt.Spec.Routes[0].Action.Destination.Destinations {
		// Flagger names the Upstreams <namespace>-podinfo-{primary,canary}upstream-<port>.
		switch name := d.Destination.Upstream.Name; {
		case strings.HasSuffix(name, "-podinfo-primaryupstream-9898"):
			primary = d.Weight
		case strings.HasSuffix(name, "-podinfo-canaryupstream-9898"):
			canary = d.Weight
		}
	}
	return primary, canary
}

// weightLog records the canary weight of every route update the server sends (Gloo's uint32, the Gateway
// API's int32).
type weightLog[T uint32 | int32] struct {
	mu   sync.Mutex
	seen []T
}

func (w *weightLog[T]) add(v T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, v)
}

func (w *weightLog[T]) distinct() []T {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []T
	for _, v := range w.seen {
		if v != 0 && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func recordCanaryWeights(ctx context.Context, t *testing.T, cluster *testCluster) *weightLog[uint32] {
	t.Helper()
	return recordWeights(ctx, t, cluster, routeTables, func(obj *unstructured.Unstructured) uint32 {
		_, canary := weightsOf(t, obj)
		return canary
	})
}

// recordWeights records canaryWeight of every update of the route apps/podinfo (a Gloo RouteTable or an
// HTTPRoute) the server sends.
func recordWeights[T uint32 | int32](ctx context.Context, t *testing.T, cluster *testCluster, route schema.GroupVersionResource,
	canaryWeight func(*unstructured.Unstructured) T) *weightLog[T] {
	t.Helper()
	log := &weightLog[T]{}
	w, err := cluster.Dynamic.Resource(route).Namespace(cluster.ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=podinfo"})
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	go func() {
		for ev := range w.ResultChan() {
			if obj, ok := ev.Object.(*unstructured.Unstructured); ok && ev.Type == watch.Modified {
				log.add(canaryWeight(obj))
			}
		}
	}()
	return log
}

// webhookCommands are the metadata.cmd of the webhooks the stand-in received, in order.
func webhookCommands(calls []simcluster.Call) []string {
	var out []string
	for _, c := range calls {
		if c.Kind == "webhook" {
			out = append(out, c.Command)
		}
	}
	return out
}

func countQueries(calls []simcluster.Call, check string) int {
	n := 0
	for _, c := range calls {
		if c.Kind == "query" && c.Name == check {
			n++
		}
	}
	return n
}

// rollBackOnBadTraffic releases version while bad traffic (a path such as /status/500) goes through the gateway
// once the canary gets a share of it, and expects the release to end Failed.
func rollBackOnBadTraffic(ctx context.Context, t *testing.T, cluster *testCluster, stack auto.Stack, version string, gateway gatewayTarget, path string) (*syncbuf.Buffer, time.Duration, map[string]int) {
	t.Helper()
	bad := sendBadTraffic(ctx, gateway, path)
	start := time.Now()
	out := &syncbuf.Buffer{}
	code, err := release(ctx, stack, version, walkthroughClock().rollback(), out)
	codes := bad.stop()
	require.NoError(t, err)
	require.Equal(t, rollout.ExitFailed, code, out.String())
	return out, time.Since(start), codes
}

// sampleVersionsAtWeight waits until the RouteTable's canary weight reaches weight, then sends n requests through
// the gateway and counts the versions that answered.
func sampleVersionsAtWeight(ctx context.Context, t *testing.T, cluster *testCluster, gateway gatewayTarget, weight uint32, n int) <-chan map[string]int {
	t.Helper()
	result := make(chan map[string]int, 1)
	go func() {
		defer close(result)
		for ctx.Err() == nil {
			obj, err := cluster.Dynamic.Resource(routeTables).Namespace(cluster.ns).Get(ctx, "podinfo", metav1.GetOptions{})
			if err == nil {
				if _, canary := weightsOf(t, obj); canary >= weight {
					break
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		versions := map[string]int{}
		for range n {
			out, err := gateway.curl(ctx, "/")
			var answer struct {
				Version string `json:"version"`
			}
			if err == nil && json.Unmarshal(out, &answer) == nil {
				versions[answer.Version]++
			}
		}
		result <- versions
	}()
	return result
}

// rollBackOnBadMetrics has the Datadog or CloudWatch stand-in report a 62.5 % success rate and releases version,
// which must end Failed.
func rollBackOnBadMetrics(ctx context.Context, t *testing.T, cluster *testCluster, stack auto.Stack, version string) (*syncbuf.Buffer, time.Duration) {
	t.Helper()
	cluster.StandIn.SetMetricsFor(cluster.ns, simcluster.BadMetrics)
	start := time.Now()
	out := &syncbuf.Buffer{}
	code, err := release(ctx, stack, version, walkthroughClock().rollback(), out)
	require.NoError(t, err)
	require.Equal(t, rollout.ExitFailed, code, out.String())
	return out, time.Since(start)
}

// initializedStack is walkthroughStack, up, with Flagger's Canary Initialized.
func initializedStack(ctx context.Context, t *testing.T, tools simcluster.Tools, cluster *testCluster, name string) auto.Stack {
	t.Helper()
	stack := walkthroughStack(ctx, t, tools, cluster, name)
	_, err := stack.Up(ctx)
	require.NoError(t, err)
	waitForCanary(ctx, t, cluster, flaggerv1.CanaryPhaseInitialized)
	return stack
}
