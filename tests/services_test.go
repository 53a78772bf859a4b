//go:build e2e

package tests

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	gatewayv1 "github.com/fluxcd/flagger/pkg/apis/gloo/gateway/v1"
	"github.com/progressive-delivery/platform/internal/simcluster"
	"github.com/progressive-delivery/platform/internal/syncbuf"
	"github.com/progressive-delivery/platform/program"
	"github.com/progressive-delivery/platform/rollout"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Two services of a team's own on Gloo, neither of them the walkthrough's podinfo: cart (podinfo started on other
// ports) released as an A/B test on a header, checkout released blue/green behind a manual gate, in two
// namespaces of one stack. Their releases start at the same time, from two "terminals" (two rollout commands);
// one pulumi up holds the stack's lock, the other waits for it. checkout's next release is rolled back at its gate.
const (
	cartServices = `{
  "cart": {"image": {"source": "ghcr.io/stefanprodan/podinfo"}, "version": "6.0.0", "namespace": "%[1]s", "host": "cart.%[1]s.example.com",
    "port": 8080, "metricsPort": 8081, "command": ["./podinfo", "--port=8080", "--port-metrics=8081", "--level=info"],
    "minReplicas": 1, "maxReplicas": 2, "strategy": "abtest", "match": [{"header": "x-canary", "value": "insider"}],
    "analysis": {"interval": "10s", "threshold": 4, "iterations": 4},
    "loadTest": "hey -z 1m -q 2 -c 2 -H 'X-Canary: insider' -host {host} {gateway}"},
  "checkout": {"image": {"source": "ghcr.io/stefanprodan/podinfo"}, "version": "6.0.0", "namespace": "%[1]s-pay", "host": "checkout.%[1]s.example.com",
    "port": 8080, "metricsPort": 8080, "command": ["./podinfo", "--port=8080", "--level=info"],
    "minReplicas": 1, "maxReplicas": 2, "strategy": "bluegreen", "gate": "manual",
    "analysis": {"interval": "10s", "threshold": 2, "iterations": 3},
    "loadTest": "hey -z 1m -q 2 -c 2 {canary}/"}
}`
)

func TestSimCluster_ServicesOfTheirOwnOnGloo(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	// cart's threshold leaves room for the checks that find no values yet on the canary's fresh series (a rate
	// needs two scrapes), as the walkthrough's does.
	ab := canaryClock{interval: 10 * time.Second, steps: 4, threshold: 4}
	bg := canaryClock{interval: 10 * time.Second, steps: 3, threshold: 2}
	// up and both Initialized; both releases at once, checkout's after cart's up (the lock) and waiting at its gate
	// for cart's rollback; its promotion after approval; its next release rolled back at the gate; destroy.
	whole := ab.initialized().plus(ab.release(ab.rollback())).plus(bg.release(bg.promotion())).
		plus(bg.release(bg.promotion())).plus(pulumiOps(1))
	ctx, cluster := onSharedCluster(t, tools, whole, "svc")
	pay := cluster.ns + "-pay"
	deleteAtCleanup(t, cluster, pay)
	testStart := time.Now()
	stack := servicesStack(ctx, t, tools, cluster, "services", fmt.Sprintf(cartServices, cluster.ns), nil)
	cart := &testCluster{Cluster: cluster.Cluster, ns: cluster.ns, host: "cart." + cluster.ns + ".example.com"}
	checkout := &testCluster{Cluster: cluster.Cluster, ns: pay, host: "checkout." + cluster.ns + ".example.com"}

	// 1. One up; each service's Canary Initialized in its own namespace, each with its own load tester.
	_, err := stack.Up(ctx)
	require.NoError(t, err)
	waitForNamedCanary(ctx, t, cart, "cart", flaggerv1.CanaryPhaseInitialized, ab.initialization())
	waitForNamedCanary(ctx, t, checkout, "checkout", flaggerv1.CanaryPhaseInitialized, bg.initialization())
	for _, ns := range []string{cart.ns, checkout.ns} {
		_, err := cluster.Core.AppsV1().Deployments(ns).Get(ctx, "flagger-loadtester", metav1.GetOptions{})
		assert.NoError(t, err, "a load tester in %s", ns)
	}
	gateway := gatewayAddress(t, cluster, "gloo-system")
	cartGateway := gatewayTarget{addr: gateway.addr, host: cart.host}
	checkoutGateway := gatewayTarget{addr: gateway.addr, host: checkout.host}
	assert.Equal(t, "6.0.0", podinfoVersion(t, curlGateway(ctx, t, cartGateway, "/")))
	assert.Equal(t, "6.0.0", podinfoVersion(t, curlGateway(ctx, t, checkoutGateway, "/")))

	// 2. Both releases at once. cart's 6.0.1 answers /status/500 to the requests carrying the header; checkout's
	// 6.0.1 is healthy and waits at its gate.
	bad := sendUserTraffic(ctx, cartGateway, "/status/500", http.Header{"X-Canary": {"insider"}})
	releases := map[string]*syncbuf.Buffer{"cart": {}, "checkout": {}}
	codes := map[string]int{}
	var mu sync.Mutex
	var running sync.WaitGroup
	releaseStart := time.Now()
	for name, b := range map[string]bound{"cart": ab.release(ab.rollback()), "checkout": ab.release(ab.rollback()).plus(bg.release(bg.promotion()))} {
		running.Go(func() {
			code, err := rollout.ReleaseOn(ctx, stack, rollout.ReleaseOptions{Service: name, Version: "6.0.1", Timeout: b.d, Out: releases[name]})
			assert.NoError(t, err, name)
			mu.Lock()
			codes[name] = code
			mu.Unlock()
		})
	}

	// 3. During cart's analysis, once Flagger routes the header to the canary: with the header, the canary
	// (until it is rolled back); without, only the primary.
	require.Eventually(t, func() bool {
		obj, err := cluster.Dynamic.Resource(routeTables).Namespace(cart.ns).Get(ctx, "cart", metav1.GetOptions{})
		if err != nil {
			return false
		}
		var rt gatewayv1.RouteTable
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &rt))
		for _, d := range rt.Spec.Routes[0].Action.Destination.Destinations {
			if strings.Contains(d.Destination.Upstream.Name, "-canaryupstream-") && d.Weight == 100 {
				return true
			}
		}
		return false
	}, ab.release(ab.intervals(2+ab.podTicks()+1, "to the first iteration")).d, 200*time.Millisecond, "Flagger routes the header to cart's canary")
	versions := map[string]map[string]int{"with": {}, "without": {}}
	for range 10 {
		if out, err := cartGateway.curl(ctx, "/", "-H", "X-Canary: insider"); err == nil && strings.Contains(string(out), "version") {
			versions["with"][podinfoVersion(t, string(out))]++
		}
		versions["without"][podinfoVersion(t, curlGateway(ctx, t, cartGateway, "/"))]++
	}
	assert.Equal(t, map[string]int{"6.0.0": 10}, versions["without"], "requests without the header reach only the primary")
	assert.Contains(t, versions["with"], "6.0.1", "requests with the header reach the canary")
	assert.NotContains(t, versions["with"], "6.0.0", "and never the primary")

	// 4. checkout waits at its gate with its analysis done, every user request on its primary meanwhile.
	waitForNamedCanary(ctx, t, checkout, "checkout", flaggerv1.CanaryPhaseWaitingPromotion, bg.release(bg.promotion()))
	for range 5 {
		assert.Equal(t, "6.0.0", podinfoVersion(t, curlGateway(ctx, t, checkoutGateway, "/")), "blue/green: users stay on the primary")
	}
	calls := checkout.callsSince(releaseStart)
	assert.Contains(t, webhookCommands(calls), "hey -z 1m -q 2 -c 2 http://checkout-canary:8080/", "the load test calls the canary's own Service")

	// 5. cart is rolled back on its own errors.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		_, done := codes["cart"]
		return done
	}, ab.rollback().d, time.Second, "cart's release ends")
	answers := bad.stop()
	mu.Lock()
	assert.Equal(t, rollout.ExitFailed, codes["cart"], releases["cart"].String())
	mu.Unlock()
	assert.Contains(t, releases["cart"].String(), "Canary analysis failed")
	assert.Regexp(t, `Halt cart\.`+cart.ns+` advancement success rate \d+(\.\d+)?% < 99%`, cluster.FlaggerLog(),
		"rolled back on its own errors, behind the header")
	t.Logf("cart's release (bad traffic answers %v):\n%s", answers, releases["cart"])

	// 6. checkout is promoted once approved.
	var approve strings.Builder
	src, err := rollout.SourceForService(ctx, stack, "checkout", pay)
	require.NoError(t, err)
	require.NoError(t, rollout.GateOn(ctx, src, "manual", rollout.Approve, &approve))
	assert.Contains(t, approve.String(), "gate opened")
	running.Wait()
	t.Logf("checkout's release:\n%s", releases["checkout"])
	assert.Equal(t, rollout.ExitSucceeded, codes["checkout"], releases["checkout"].String())
	assert.True(t, strings.Contains(releases["checkout"].String()+releases["cart"].String(), "another release of stack services is running pulumi up"),
		"the second release waited for the first's pulumi up")
	for range 5 {
		assert.Equal(t, "6.0.1", podinfoVersion(t, curlGateway(ctx, t, checkoutGateway, "/")), "after promotion")
	}
	assert.Equal(t, "6.0.0", podinfoVersion(t, curlGateway(ctx, t, cartGateway, "/")), "cart keeps its primary")
	for _, query := range checkout.callsSince(releaseStart) {
		if query.Kind == "query" {
			assert.NotContains(t, query.Query, "cart", "checkout's checks do not read cart's traffic")
		}
	}

	// 7. checkout's next release waits at its gate again (the approval above was for the previous one) and is
	// rolled back there by a person.
	next := &syncbuf.Buffer{}
	nextCode := make(chan int, 1)
	go func() {
		code, err := rollout.ReleaseOn(ctx, stack, rollout.ReleaseOptions{Service: "checkout", Version: "6.0.2", Timeout: bg.release(bg.promotion()).d, Out: next})
		assert.NoError(t, err)
		nextCode <- code
	}()
	waitForNamedCanary(ctx, t, checkout, "checkout", flaggerv1.CanaryPhaseWaitingPromotion, bg.release(bg.promotion()))
	var rollback strings.Builder
	require.NoError(t, rollout.GateOn(ctx, src, "manual", rollout.Rollback, &rollback))
	assert.Contains(t, rollback.String(), "rollback gate opened")
	select {
	case code := <-nextCode:
		assert.Equal(t, rollout.ExitFailed, code, next.String())
	case <-time.After(bg.intervals(3, "the rollback at the next checks").d):
		t.Fatalf("checkout's 6.0.2 was not rolled back after the rollback gate opened:\n%s", next)
	}
	t.Logf("checkout's next release:\n%s", next)
	assert.Contains(t, next.String(), "the release waits at its gate: go run ./cmd/rollout approve --service checkout")
	assert.Equal(t, "6.0.1", podinfoVersion(t, curlGateway(ctx, t, checkoutGateway, "/")), "the promoted version keeps serving")

	_, err = stack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	logFigure(t, fmt.Sprintf("services of their own on Gloo: A/B rollback of cart and blue/green promotion of checkout "+
		"released at once, %s from the releases' start; whole test %s", time.Since(releaseStart).Round(time.Second),
		time.Since(testStart).Round(time.Second)))
}

// waitForNamedCanary waits until Flagger reports phase on the Canary name in the cluster's namespace.
func waitForNamedCanary(ctx context.Context, t *testing.T, cluster *testCluster, name string, phase flaggerv1.CanaryPhase, b bound) {
	t.Helper()
	var last string
	ok := assert.Eventually(t, func() bool {
		obj, err := cluster.Dynamic.Resource(rollout.CanaryResource).Namespace(cluster.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		last = phaseOf(obj)
		return last == string(phase)
	}, b.d, 500*time.Millisecond)
	require.True(t, ok, "canary %s/%s never reached %s within %s (last phase %q)", cluster.ns, name, phase, b, last)
}

// deleteAtCleanup deletes a namespace of the test's own on the shared cluster when the test ends (onSharedCluster
// deletes the first).
func deleteAtCleanup(t *testing.T, cluster *testCluster, namespace string) {
	t.Helper()
	t.Cleanup(func() {
		err := cluster.Core.CoreV1().Namespaces().Delete(context.Background(), namespace, metav1.DeleteOptions{})
		assert.True(t, err == nil || apierrors.IsNotFound(err), "namespace %s is deleted: %v", namespace, err)
	})
}

// servicesStack is a stack of the program onto the test's cluster (kubeconfig mode, no platform install) whose
// services key is servicesJSON, stored as an object, as a stack file holds it: the rollout command sets
// services.<name>.version by path. extra is more config; objects are more object keys (teams), key: JSON.
func servicesStack(ctx context.Context, t *testing.T, tools simcluster.Tools, cluster *testCluster, name, servicesJSON string,
	extra auto.ConfigMap, objects ...map[string]string) auto.Stack {
	t.Helper()
	stack := newE2EStack(t, tools, name, program.Run)
	settings, err := stack.Workspace().StackSettings(ctx, stack.Name())
	require.NoError(t, err)
	if settings.Config == nil {
		settings.Config = config.Map{}
	}
	settings.Config[config.MustMakeKey(program.Project, "services")] = config.NewObjectValue(servicesJSON)
	for _, more := range objects {
		for key, value := range more {
			settings.Config[config.MustMakeKey(program.Project, key)] = config.NewObjectValue(value)
		}
	}
	require.NoError(t, stack.Workspace().SaveStackSettings(ctx, stack.Name(), settings))
	values := auto.ConfigMap{
		"kubeconfig":      {Value: string(cluster.Kubeconfig), Secret: true},
		"platformInstall": {Value: "false"},
	}
	maps.Copy(values, extra)
	require.NoError(t, stack.SetAllConfig(ctx, values))
	return stack
}
