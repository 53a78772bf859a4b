//go:build e2e

package tests

import (
	"context"
	"fmt"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/progressive-delivery/platform/internal/simcluster"
	"github.com/progressive-delivery/platform/internal/syncbuf"
	"github.com/progressive-delivery/platform/rollout"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

var httpRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// gatewayAPIStack is walkthroughStack on the Gateway API.
func gatewayAPIStack(ctx context.Context, t *testing.T, tools simcluster.Tools, cluster *testCluster, name string) auto.Stack {
	t.Helper()
	stack := walkthroughStack(ctx, t, tools, cluster, name)
	require.NoError(t, stack.SetConfig(ctx, "ingress", auto.ConfigValue{Value: "gatewayapi"}))
	return stack
}

// TestSimCluster_GatewayAPICanary is the walkthrough's canary on the Gateway API: the same program with
// `ingress gatewayapi`, the real Flagger routing through the HTTPRoute it generates (gatewayapi:v1), its checks
// on podinfo's own metrics answered by the Prometheus stand-in.
func TestSimCluster_GatewayAPICanary(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	clock := walkthroughClock()
	// up and Initialized; a refreshed preview; the promotion and the rollback; destroy.
	whole := clock.initialized().plus(pulumiOps(1)).plus(clock.release(clock.promotion())).
		plus(clock.release(clock.rollback())).plus(pulumiOps(1))
	ctx, cluster := onSharedCluster(t, tools, whole, "gwapi")
	testStart := time.Now()
	stack := gatewayAPIStack(ctx, t, tools, cluster, "gatewayapi")

	// 1. Initialized, with the HTTPRoute at 100/0, attached to the public Gateway for the stack's host.
	phaseStart := time.Now()
	_, err := stack.Up(ctx)
	require.NoError(t, err)
	waitForCanary(ctx, t, cluster, flaggerv1.CanaryPhaseInitialized)
	initTime := time.Since(phaseStart)
	route := httpRoute(ctx, t, cluster)
	assert.Equal(t, [2]int32{100, 0}, backendWeights(t, route))
	require.Len(t, route.Spec.ParentRefs, 1)
	assert.Equal(t, "gateway-proxy", string(route.Spec.ParentRefs[0].Name))
	assert.Equal(t, "kgateway-system", string(*route.Spec.ParentRefs[0].Namespace))
	assert.Equal(t, []gatewayv1.Hostname{gatewayv1.Hostname(cluster.host)}, route.Spec.Hostnames)
	list, err := cluster.Dynamic.Resource(virtualServices).Namespace(cluster.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "no Gloo object on the Gateway API")

	// 2. No fight with Flagger.
	_, err = stack.Preview(ctx, optpreview.Refresh(), optpreview.ExpectNoChanges())
	require.NoError(t, err, "preview --refresh --expect-no-changes after Flagger took over")

	// 3. 6.0.1 promoted, the HTTPRoute's canary weight watched going 5..50.
	weights := recordRouteWeights(ctx, t, cluster)
	phaseStart = time.Now()
	out := &syncbuf.Buffer{}
	code, err := release(ctx, stack, "6.0.1", clock.promotion(), out)
	require.NoError(t, err)
	promotionTime := time.Since(phaseStart)
	require.Equal(t, rollout.ExitSucceeded, code, out.String())
	assert.Equal(t, []int32{5, 10, 15, 20, 25, 30, 35, 40, 45, 50}, weights.distinct(), "the HTTPRoute's canary weights, in order")
	calls := cluster.callsSince(phaseStart)
	assert.Contains(t, webhookCommands(calls), "hey -z 2m -q 5 -c 2 -host "+cluster.host+" http://gateway-proxy.kgateway-system",
		"the load test goes through the Gateway's Service")
	var appQuery string
	for _, c := range calls {
		if c.Kind == "query" && c.Name == "request-success-rate" {
			appQuery = c.Query
		}
	}
	assert.Contains(t, appQuery, `http_request_duration_seconds_count{`, "Flagger's checks read podinfo's own metrics")
	assert.Contains(t, appQuery, `kubernetes_namespace="`+cluster.ns+`"`)

	gateway := gatewayAddress(t, cluster, "kgateway-system")
	for range 5 {
		assert.Equal(t, "6.0.1", podinfoVersion(t, curlGateway(ctx, t, gateway, "/")), "the curl check through the Gateway after promotion")
	}

	// 4. 6.0.2 rolled back on the 500s of `watch curl .../status/500` through the Gateway, which podinfo's own
	// metrics count.
	out, rollbackTime, codes := rollBackOnBadTraffic(ctx, t, cluster, stack, "6.0.2", gateway, "/status/500")
	t.Logf("rollout 6.0.2 with /status/500 traffic (answers %v):\n%s", codes, out)
	assert.Contains(t, out.String(), "Canary analysis failed, Deployment scaled to zero.")
	assert.Regexp(t, `Halt podinfo\.`+cluster.ns+` advancement success rate \d+(\.\d+)?% < 99%`, cluster.FlaggerLog())
	assert.Equal(t, [2]int32{100, 0}, backendWeights(t, httpRoute(ctx, t, cluster)), "all traffic back on the primary")

	// 5. Destroy leaves nothing, Flagger's HTTPRoute included.
	_, err = stack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := cluster.Core.CoreV1().Namespaces().Get(ctx, cluster.ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, time.Minute, 500*time.Millisecond, "namespace apps is gone")
	for _, gvr := range []schema.GroupVersionResource{rollout.CanaryResource, httpRoutes} {
		list, err := cluster.Dynamic.Resource(gvr).Namespace(cluster.ns).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, list.Items, "no %s remain", gvr.Resource)
	}
	summary := fmt.Sprintf("Gateway API canary on the simulated cluster: initialized %s after up started, promotion of 6.0.1 %s, "+
		"rollback of 6.0.2 %s, whole test %s", initTime.Round(time.Second), promotionTime.Round(time.Second),
		rollbackTime.Round(time.Second), time.Since(testStart).Round(time.Second))
	logFigure(t, summary)
}

// TestSimCluster_GlooToGatewayAPIMove: a running Gloo stack moves to the Gateway API with one config change and
// one up, and back again; each up converges with nothing of the other ingress left behind.
func TestSimCluster_GlooToGatewayAPIMove(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	clock := walkthroughClock()
	// up and Initialized; the move: preview, up, a new Canary Initialized, a refreshed preview; back: up and
	// Initialized; destroy.
	whole := clock.initialized().plus(pulumiOps(1)).plus(clock.initialized()).plus(pulumiOps(1)).
		plus(clock.initialized()).plus(pulumiOps(1))
	ctx, cluster := onSharedCluster(t, tools, whole, "move")
	stack := initializedStack(ctx, t, tools, cluster, "move")
	routeWeights(ctx, t, cluster) // the RouteTable exists

	require.NoError(t, stack.SetConfig(ctx, "ingress", auto.ConfigValue{Value: "gatewayapi"}))
	preview, err := stack.Preview(ctx)
	require.NoError(t, err)
	t.Logf("preview of the move: %v", preview.ChangeSummary)
	assert.Equal(t, 1, preview.ChangeSummary["delete"], "the VirtualService goes")
	assert.Equal(t, 1, preview.ChangeSummary["replace"], "the Canary is replaced")

	start := time.Now()
	_, err = stack.Up(ctx)
	require.NoError(t, err)
	waitForNewInitialization(ctx, t, cluster, start)
	moveTime := time.Since(start)
	assert.Equal(t, [2]int32{100, 0}, backendWeights(t, httpRoute(ctx, t, cluster)), "the HTTPRoute carries the traffic")
	for _, gvr := range []schema.GroupVersionResource{virtualServices, routeTables, upstreams} {
		require.Eventually(t, func() bool {
			list, err := cluster.Dynamic.Resource(gvr).Namespace(cluster.ns).List(ctx, metav1.ListOptions{})
			return err == nil && len(list.Items) == 0
		}, time.Minute, 500*time.Millisecond, "no %s left behind", gvr.Resource)
	}
	_, err = stack.Preview(ctx, optpreview.Refresh(), optpreview.ExpectNoChanges())
	require.NoError(t, err, "the moved stack is settled")

	// Back to Gloo the same way.
	require.NoError(t, stack.SetConfig(ctx, "ingress", auto.ConfigValue{Value: "gloo"}))
	start = time.Now()
	_, err = stack.Up(ctx, optup.Refresh())
	require.NoError(t, err)
	waitForNewInitialization(ctx, t, cluster, start)
	backTime := time.Since(start)
	assert.Equal(t, [2]uint32{100, 0}, func() [2]uint32 { p, c := routeWeights(ctx, t, cluster); return [2]uint32{p, c} }())
	require.Eventually(t, func() bool {
		list, err := cluster.Dynamic.Resource(httpRoutes).Namespace(cluster.ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(list.Items) == 0
	}, time.Minute, 500*time.Millisecond, "no HTTPRoute left behind")
	_, err = stack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	summary := fmt.Sprintf("ingress move on the simulated cluster: Gloo to Gateway API Initialized again %s after up started, back %s",
		moveTime.Round(time.Second), backTime.Round(time.Second))
	logFigure(t, summary)
}

// waitForNewInitialization waits for a Canary created after since to be Initialized.
func waitForNewInitialization(ctx context.Context, t *testing.T, cluster *testCluster, since time.Time) {
	t.Helper()
	clock := walkthroughClock()
	// The replaced Canary's objects are collected first, and its job removed at a control loop's pass.
	replaced := clock.intervals(2, "the old Canary's objects collected, the control loop's next pass").plus(clock.initialization())
	require.Eventually(t, func() bool {
		obj, err := cluster.Dynamic.Resource(rollout.CanaryResource).Namespace(cluster.ns).Get(ctx, "podinfo", metav1.GetOptions{})
		return err == nil && !obj.GetCreationTimestamp().Time.Before(since.Truncate(time.Second)) && phaseOf(obj) == string(flaggerv1.CanaryPhaseInitialized)
	}, replaced.d, 500*time.Millisecond, "a new Canary, Initialized within %s", replaced)
}

func httpRoute(ctx context.Context, t *testing.T, cluster *testCluster) *gatewayv1.HTTPRoute {
	t.Helper()
	obj, err := cluster.Dynamic.Resource(httpRoutes).Namespace(cluster.ns).Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err, "HTTPRoute apps/podinfo")
	return toHTTPRoute(t, obj)
}

func toHTTPRoute(t *testing.T, obj *unstructured.Unstructured) *gatewayv1.HTTPRoute {
	t.Helper()
	var route gatewayv1.HTTPRoute
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &route))
	return &route
}

// backendWeights are the primary's and the canary's weights in the route's first rule.
func backendWeights(t *testing.T, route *gatewayv1.HTTPRoute) (w [2]int32) {
	t.Helper()
	require.NotEmpty(t, route.Spec.Rules)
	for _, ref := range route.Spec.Rules[0].BackendRefs {
		weight := int32(1)
		if ref.Weight != nil {
			weight = *ref.Weight
		}
		switch ref.Name {
		case "podinfo-primary":
			w[0] = weight
		case "podinfo-canary":
			w[1] = weight
		}
	}
	return w
}

// recordRouteWeights records the canary weight of every HTTPRoute update the server sends.
func recordRouteWeights(ctx context.Context, t *testing.T, cluster *testCluster) *weightLog[int32] {
	t.Helper()
	return recordWeights(ctx, t, cluster, httpRoutes, func(obj *unstructured.Unstructured) int32 {
		return backendWeights(t, toHTTPRoute(t, obj))[1]
	})
}
