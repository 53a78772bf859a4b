//go:build e2e

package tests

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/progressive-delivery/platform/internal/syncbuf"
	"github.com/progressive-delivery/platform/rollout"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Four services on the Gateway API, released at once: web as an A/B test on a header or a cookie, docs blue/green,
// feed as a canary with session affinity, api mirrored to its new version with a check of its own (the rate of 404s the
// new version answers) that the users' mirrored requests fail.
const gatewayAPIServices = `{
  "web": {"image": {"source": "ghcr.io/stefanprodan/podinfo"}, "version": "6.0.0", "namespace": "%[1]s", "host": "web.%[1]s.example.com",
    "port": 8080, "metricsPort": 8081, "command": ["./podinfo", "--port=8080", "--port-metrics=8081", "--level=info"],
    "minReplicas": 1, "maxReplicas": 2, "strategy": "abtest",
    "match": [{"header": "x-canary", "value": "insider"}, {"cookie": "canary=always"}],
    "analysis": {"interval": "10s", "threshold": 4, "iterations": 4},
    "loadTest": "hey -z 1m -q 2 -c 2 -H 'X-Canary: insider' -host {host} {gateway}"},
  "docs": {"image": {"source": "ghcr.io/stefanprodan/podinfo"}, "version": "6.0.0", "namespace": "%[1]s", "host": "docs.%[1]s.example.com",
    "port": 8080, "metricsPort": 8080, "command": ["./podinfo", "--port=8080", "--level=info"],
    "minReplicas": 1, "maxReplicas": 2, "strategy": "bluegreen",
    "analysis": {"interval": "10s", "threshold": 4, "iterations": 3},
    "loadTest": "hey -z 1m -q 2 -c 2 {canary}/"},
  "feed": {"image": {"source": "ghcr.io/stefanprodan/podinfo"}, "version": "6.0.0", "namespace": "%[1]s-b", "host": "feed.%[1]s.example.com",
    "port": 8080, "metricsPort": 8080, "command": ["./podinfo", "--port=8080", "--level=info"],
    "minReplicas": 1, "maxReplicas": 2, "strategy": "sessionaffinity",
    "analysis": {"interval": "10s", "threshold": 4, "stepWeight": 25, "maxWeight": 50},
    "loadTest": "hey -z 1m -q 2 -c 2 -host {host} {gateway}"},
  "api": {"image": {"source": "ghcr.io/stefanprodan/podinfo"}, "version": "6.0.0", "namespace": "%[1]s-b", "host": "api.%[1]s.example.com",
    "port": 8080, "metricsPort": 8080, "command": ["./podinfo", "--port=8080", "--level=info"],
    "minReplicas": 1, "maxReplicas": 2, "strategy": "mirror",
    "analysis": {"interval": "10s", "threshold": 3, "iterations": 6, "checks": [{"name": "not-found-rate", "max": 0.1, "interval": "30s",
      "query": "sum(rate(http_request_duration_seconds_count{kubernetes_namespace=\"{{ namespace }}\",kubernetes_pod_name=~\"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\",status=\"404\"}[{{ interval }}])) or on() vector(0)"}]},
    "loadTest": "hey -z 1m -q 2 -c 2 -host {host} {gateway}"}
}`

func TestSimCluster_ServicesOfTheirOwnOnTheGatewayAPI(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	// web's promotion is the longest of the three (feed's: 2 steps; api's rollback: threshold 3).
	ab := canaryClock{interval: 10 * time.Second, steps: 4, threshold: 4}
	// up and four Canaries Initialized; four releases, one pulumi up at a time; destroy.
	releases := pulumiOps(3).plus(ab.release(ab.promotion()))
	whole := ab.initialized().plus(releases).plus(pulumiOps(1))
	ctx, cluster := onSharedCluster(t, tools, whole, "gsvc")
	second := cluster.ns + "-b"
	deleteAtCleanup(t, cluster, second)
	testStart := time.Now()
	stack := servicesStack(ctx, t, tools, cluster, "gwservices", fmt.Sprintf(gatewayAPIServices, cluster.ns),
		auto.ConfigMap{"ingress": {Value: "gatewayapi"}})
	web := &testCluster{Cluster: cluster.Cluster, ns: cluster.ns, host: "web." + cluster.ns + ".example.com"}
	feed := &testCluster{Cluster: cluster.Cluster, ns: second, host: "feed." + cluster.ns + ".example.com"}
	api := &testCluster{Cluster: cluster.Cluster, ns: second, host: "api." + cluster.ns + ".example.com"}

	_, err := stack.Up(ctx)
	require.NoError(t, err)
	waitForNamedCanary(ctx, t, web, "web", flaggerv1.CanaryPhaseInitialized, ab.initialization())
	docs := &testCluster{Cluster: cluster.Cluster, ns: cluster.ns, host: "docs." + cluster.ns + ".example.com"}
	waitForNamedCanary(ctx, t, docs, "docs", flaggerv1.CanaryPhaseInitialized, ab.initialization())
	waitForNamedCanary(ctx, t, feed, "feed", flaggerv1.CanaryPhaseInitialized, ab.initialization())
	waitForNamedCanary(ctx, t, api, "api", flaggerv1.CanaryPhaseInitialized, ab.initialization())
	gateway := gatewayAddress(t, cluster, "kgateway-system")
	webGateway := gatewayTarget{addr: gateway.addr, host: web.host}
	feedGateway := gatewayTarget{addr: gateway.addr, host: feed.host}
	apiGateway := gatewayTarget{addr: gateway.addr, host: api.host}
	docsGateway := gatewayTarget{addr: gateway.addr, host: docs.host}

	// api's users get 404s (podinfo's /status/404, which it counts as a 404 of that route): the primary answers
	// them, and the mirror sends each request to the new version too, whose own 404 rate is api's check.
	missing := sendUserTraffic(ctx, apiGateway, "/status/404", nil)
	outputs := map[string]*syncbuf.Buffer{"web": {}, "docs": {}, "feed": {}, "api": {}}
	codes := map[string]int{}
	var mu sync.Mutex
	var running sync.WaitGroup
	releaseStart := time.Now()
	for name := range outputs {
		running.Go(func() {
			code, err := rollout.ReleaseOn(ctx, stack, rollout.ReleaseOptions{Service: name, Version: "6.0.1", Timeout: releases.d, Out: outputs[name]})
			assert.NoError(t, err, name)
			mu.Lock()
			codes[name] = code
			mu.Unlock()
		})
	}

	// What users see during each analysis, watched from its own goroutine: each service's moment comes in its own
	// time, the three ups taking the stack's lock in turn.
	deadline := time.Now().Add(releases.d)
	until := func(done func() bool) bool {
		for time.Now().Before(deadline) {
			if done() {
				return true
			}
			time.Sleep(200 * time.Millisecond)
		}
		return false
	}
	var seen sync.Map
	running.Go(func() {
		// web, once Flagger routes its matches to the canary: the header or the cookie (after another) reach it,
		// requests with neither only the primary.
		routed := until(func() bool {
			obj, err := cluster.Dynamic.Resource(httpRoutes).Namespace(web.ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false
			}
			route := toHTTPRoute(t, obj)
			return len(route.Spec.Rules) == 2 && len(route.Spec.Rules[0].BackendRefs) == 2 &&
				route.Spec.Rules[0].BackendRefs[1].Weight != nil && *route.Spec.Rules[0].BackendRefs[1].Weight == 100
		})
		assert.True(t, routed, "Flagger routes web's matches to its canary")
		for kind, args := range map[string][]string{"header": {"-H", "X-Canary: insider"}, "cookie": {"-H", "Cookie: session=1; canary=always"}, "neither": nil} {
			versions := map[string]int{}
			for range 5 {
				if out, err := webGateway.curl(ctx, "/", args...); err == nil {
					versions[podinfoVersion(t, string(out))]++
				}
			}
			seen.Store("web "+kind, versions)
		}
	})
	running.Go(func() {
		// docs: blue/green keeps every user on the primary while the load test calls the canary's own Service.
		analysing := until(func() bool {
			obj, err := cluster.Dynamic.Resource(rollout.CanaryResource).Namespace(docs.ns).Get(ctx, "docs", metav1.GetOptions{})
			if err != nil {
				return false
			}
			iterations, _, _ := unstructured.NestedInt64(obj.Object, "status", "iterations")
			return phaseOf(obj) == string(flaggerv1.CanaryPhaseProgressing) && iterations >= 1
		})
		assert.True(t, analysing, "docs' analysis runs")
		versions := map[string]int{}
		for range 5 {
			if out, err := docsGateway.curl(ctx, "/"); err == nil {
				versions[podinfoVersion(t, string(out))]++
			}
		}
		seen.Store("docs", versions)
	})
	running.Go(func() {
		// feed: a client the weights sent to the canary gets Flagger's cookie and, holding it, stays there.
		var cookie string
		found := until(func() bool {
			out, err := feedGateway.curl(ctx, "/", "-i")
			if err != nil {
				return false
			}
			for line := range strings.Lines(string(out)) {
				if v, ok := strings.CutPrefix(line, "Set-Cookie: "); ok && strings.HasPrefix(v, "flagger-session=") {
					cookie, _, _ = strings.Cut(strings.TrimSpace(v), ";")
					return true
				}
			}
			return false
		})
		assert.True(t, found, "a response of feed's canary sets the session cookie")
		versions := map[string]int{}
		for range 10 {
			if out, err := feedGateway.curl(ctx, "/", "-H", "Cookie: theme=dark; "+cookie); err == nil {
				versions[podinfoVersion(t, string(out))]++
			}
		}
		seen.Store("feed with the cookie", versions)
	})
	running.Go(func() {
		// api: users see only the primary while its new version is analysed on their mirrored requests.
		mirroring := until(func() bool {
			obj, err := cluster.Dynamic.Resource(httpRoutes).Namespace(api.ns).Get(ctx, "api", metav1.GetOptions{})
			if err != nil {
				return false
			}
			route := toHTTPRoute(t, obj)
			return len(route.Spec.Rules) > 0 && slices.ContainsFunc(route.Spec.Rules[0].Filters, func(f gatewayv1.HTTPRouteFilter) bool {
				return f.Type == gatewayv1.HTTPRouteFilterRequestMirror
			})
		})
		assert.True(t, mirroring, "Flagger mirrors api's requests to its canary")
		versions := map[string]int{}
		for range 5 {
			if out, err := apiGateway.curl(ctx, "/"); err == nil {
				versions[podinfoVersion(t, string(out))]++
			}
		}
		seen.Store("api", versions)
	})

	running.Wait()
	answers := missing.stop()
	for what, want := range map[string]map[string]int{
		"web header": {"6.0.1": 5}, "web cookie": {"6.0.1": 5}, "web neither": {"6.0.0": 5},
		"feed with the cookie": {"6.0.1": 10}, "api": {"6.0.0": 5}, "docs": {"6.0.0": 5},
	} {
		got, _ := seen.Load(what)
		assert.Equal(t, want, got, "%s: which versions answered during the analysis", what)
	}
	for name, out := range outputs {
		t.Logf("%s's release:\n%s", name, out)
	}
	assert.Equal(t, rollout.ExitSucceeded, codes["web"], "web promoted")
	assert.Equal(t, rollout.ExitSucceeded, codes["feed"], "feed promoted")
	assert.Equal(t, rollout.ExitSucceeded, codes["docs"], "docs promoted")
	assert.Contains(t, webhookCommands(docs.callsSince(releaseStart)), "hey -z 1m -q 2 -c 2 http://docs-canary:8080/",
		"docs' load test calls its canary's own Service")
	assert.Equal(t, rollout.ExitFailed, codes["api"], "api rolled back")
	assert.Regexp(t, `the last failed check: Halt api\.`+second+` advancement not-found-rate \d+(\.\d+)? > 0\.1`, outputs["api"].String(),
		"the failing check is named in the rollout command's verdict")
	assert.Equal(t, http.StatusNotFound, statusOf(answers), "api's users got the primary's 404s: %v", answers)
	for _, c := range []struct {
		target gatewayTarget
		want   string
	}{{webGateway, "6.0.1"}, {docsGateway, "6.0.1"}, {feedGateway, "6.0.1"}, {apiGateway, "6.0.0"}} {
		assert.Equal(t, c.want, podinfoVersion(t, curlGateway(ctx, t, c.target, "/")), c.target.host)
	}

	_, err = stack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	logFigure(t, fmt.Sprintf("services of their own on the Gateway API: A/B, blue/green and session-affinity promotions and a mirrored "+
		"release rolled back on its own check, released at once, %s from the releases' start; whole test %s",
		time.Since(releaseStart).Round(time.Second), time.Since(testStart).Round(time.Second)))
}

// statusOf is the one status code of the answers, or 0 when there were several (or none).
func statusOf(answers map[string]int) int {
	if len(answers) != 1 {
		return 0
	}
	var code int
	for k := range answers {
		_, _ = fmt.Sscanf(k, "%d", &code)
	}
	return code
}
