//go:build e2e

package tests

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/progressive-delivery/platform/internal/simcluster"
	"github.com/progressive-delivery/platform/internal/syncbuf"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/progressive-delivery/platform/rollout"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
)

var metricTemplates = schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "metrictemplates"}

// Credentials the stack is given; the stand-ins for Datadog and Slack see what Flagger sends.
const (
	standInDatadogAPIKey = "dd-api-key-standin"
	standInDatadogAppKey = "dd-app-key-standin"
	standInSlackURL      = "https://hooks.slack.com/services/T0STANDIN/B0STANDIN/standin"
	standInEventsHost    = "alerts.example.test"
	standInEventsURL     = "http://" + standInEventsHost + "/flagger"
)

// TestSimCluster_DatadogCanaryWithSlackAndWebhookAlerts: a stack switched to Datadog checks and to Slack and
// webhook alerts by config alone. The real Flagger promotes 6.0.1 and rolls back 6.0.2 on the answers of the
// Datadog stand-in (reached over HTTPS as api.datadoghq.com), posts failures only to the Slack stand-in
// (slackSeverity error) and every event to the webhook stand-in.
func TestSimCluster_DatadogCanaryWithSlackAndWebhookAlerts(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	clock := walkthroughClock()
	whole := clock.initialized().plus(clock.release(clock.promotion())).plus(clock.release(clock.rollback()))
	ctx, cluster := onSharedCluster(t, tools, whole, "dd-canary")
	testStart := time.Now()

	stack := walkthroughStack(ctx, t, tools, cluster, "datadog")
	require.NoError(t, stack.SetAllConfig(ctx, auto.ConfigMap{
		"metricsProvider": {Value: "datadog"},
		"datadogApiKey":   {Value: standInDatadogAPIKey, Secret: true},
		"datadogAppKey":   {Value: standInDatadogAppKey, Secret: true},
		"slackUrl":        {Value: standInSlackURL, Secret: true},
		"slackChannel":    {Value: "releases"},
		"slackSeverity":   {Value: "error"},
		"alertWebhookUrl": {Value: standInEventsURL, Secret: true},
	}))
	up, err := stack.Up(ctx)
	require.NoError(t, err)
	for _, secret := range []string{standInDatadogAPIKey, standInDatadogAppKey, "T0STANDIN", "alerts.example.test"} {
		assert.NotContains(t, up.StdOut, secret, "no secret in the update's output")
	}
	waitForCanary(ctx, t, cluster, flaggerv1.CanaryPhaseInitialized)

	templates, err := cluster.Dynamic.Resource(metricTemplates).Namespace(cluster.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	var names []string
	for _, item := range templates.Items {
		var mt flaggerv1.MetricTemplate
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, &mt))
		names = append(names, mt.Name)
		assert.Equal(t, "https://api.datadoghq.com", mt.Spec.Provider.Address)
	}
	assert.ElementsMatch(t, []string{"request-success-rate-datadog", "request-duration-datadog"}, names)
	creds, err := cluster.Core.CoreV1().Secrets(cluster.ns).Get(ctx, "flagger-datadog", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, standInDatadogAPIKey, string(creds.Data["datadog_api_key"]))

	// Promotion on good Datadog answers.
	phaseStart := time.Now()
	out := &syncbuf.Buffer{}
	code, err := release(ctx, stack, "6.0.1", clock.promotion(), out)
	require.NoError(t, err)
	promotionTime := time.Since(phaseStart)
	require.Equal(t, rollout.ExitSucceeded, code, out.String())
	// Flagger sets Succeeded, then posts the event: the command may report before the webhook has it.
	calls := waitForEvent(t, cluster, phaseStart, "Promotion completed! Scaling down podinfo."+cluster.ns)
	checks := map[string]int{}
	for _, c := range calls {
		if c.Kind != "query" {
			continue
		}
		checks[c.Provider+" "+c.Name]++
		if c.Provider == "datadog" && c.Name != "probe" {
			assert.Equal(t, "api.datadoghq.com", c.Host)
			assert.Equal(t, standInDatadogAPIKey+"/"+standInDatadogAppKey, c.Credential, "Flagger sends the stack's keys")
			assert.Contains(t, c.Query, "{envoy_cluster:"+cluster.ns+"-podinfo-canaryupstream-9898_"+cluster.ns, "the template as Flagger rendered it")
		}
	}
	assert.NotZero(t, checks["datadog request-success-rate"], "success rate from Datadog: %v", checks)
	assert.NotZero(t, checks["datadog request-duration"], "latency from Datadog: %v", checks)
	assert.Zero(t, checks["prometheus request-success-rate"]+checks["prometheus request-duration"], "no built-in Prometheus check: %v", checks)
	events := eventMessages(calls)
	for _, want := range []string{"New revision detected! Scaling up podinfo." + cluster.ns, "Starting canary analysis for podinfo." + cluster.ns,
		"Advance podinfo." + cluster.ns + " canary weight 5", "Advance podinfo." + cluster.ns + " canary weight 50", "Promotion completed! Scaling down podinfo." + cluster.ns} {
		assert.Contains(t, events, want, "the webhook receives every event")
	}
	assert.Empty(t, slackMessages(calls), "no Slack message below error severity")
	phases := eventPhases(calls)
	assert.Equal(t, "Progressing", phases["New revision detected! Scaling up podinfo."+cluster.ns], "each event carries the canary's phase")
	assert.Equal(t, "Progressing", phases["Advance podinfo."+cluster.ns+" canary weight 50"])

	// Rollback on a bad Datadog success rate.
	phaseStart = time.Now()
	_, rollbackTime := rollBackOnBadMetrics(ctx, t, cluster, stack, "6.0.2")
	calls = waitForEvent(t, cluster, phaseStart, "Canary failed! Scaling down podinfo."+cluster.ns)
	events = eventMessages(calls)
	for _, want := range []string{"Halt podinfo." + cluster.ns + " advancement request-success-rate-datadog 62.50 < 99",
		"Rolling back podinfo." + cluster.ns + " failed checks threshold reached 5", "Canary failed! Scaling down podinfo." + cluster.ns} {
		assert.Contains(t, events, want)
	}
	var warnings int
	for _, e := range webhookEvents(calls) {
		if e.EventType == "Warning" {
			warnings++
		}
	}
	assert.NotZero(t, warnings, "the failure events are Warnings")
	assert.Equal(t, "Failed", eventPhases(calls)["Canary failed! Scaling down podinfo."+cluster.ns])
	slack := slackMessages(calls)
	assert.Equal(t, []string{"releases: Failed checks threshold reached 5 (danger)"}, slack, "Slack gets the failure, at error severity")

	_, err = stack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	list, err := cluster.Dynamic.Resource(metricTemplates).Namespace(cluster.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "destroy removes the MetricTemplates")

	summary := fmt.Sprintf("datadog canary on the simulated cluster: promotion of 6.0.1 %s, rollback of 6.0.2 %s, whole test %s",
		promotionTime.Round(time.Second), rollbackTime.Round(time.Second), time.Since(testStart).Round(time.Second))
	logFigure(t, summary)
}

// TestSimCluster_CloudWatchCanaryRollsBack: the program gives CloudWatch checks only to a stack that creates its
// EKS cluster (IRSA), so here a running stack's Canary is switched to the program's CloudWatch templates by hand,
// and a new revision rolls back on the CloudWatch stand-in's answers for this namespace.
func TestSimCluster_CloudWatchCanaryRollsBack(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	clock := walkthroughClock()
	ctx, cluster := onSharedCluster(t, tools, clock.initialized().plus(clock.rollback()), "cw-canary")
	testStart := time.Now()
	initializedStack(ctx, t, tools, cluster, "cloudwatch")
	cluster.StandIn.SetMetricsFor(cluster.ns, simcluster.BadMetrics)
	cloudWatchTime := rollBackOnCloudWatch(ctx, t, cluster)
	logFigure(t, fmt.Sprintf("CloudWatch canary on the simulated cluster: rollback of 6.1.0 %s, whole test %s",
		cloudWatchTime.Round(time.Second), time.Since(testStart).Round(time.Second)))
}

// webhookEvents are the calls Flagger made to the stack's event webhook, in order.
func webhookEvents(calls []simcluster.Call) []simcluster.Call {
	return slices.DeleteFunc(slices.Clone(calls), func(c simcluster.Call) bool {
		return c.Kind != "event" || c.Host != standInEventsHost
	})
}

// eventMessages are the messages Flagger posted to the event webhook, one per line.
func eventMessages(calls []simcluster.Call) string {
	var lines []string
	for _, e := range webhookEvents(calls) {
		lines = append(lines, e.Message)
	}
	return strings.Join(lines, "\n")
}

// waitForEvent waits up to 30 s for the webhook stand-in to receive message, and returns the calls since since.
func waitForEvent(t *testing.T, cluster *testCluster, since time.Time, message string) []simcluster.Call {
	t.Helper()
	var calls []simcluster.Call
	assert.Eventually(t, func() bool {
		calls = cluster.callsSince(since)
		return slices.ContainsFunc(webhookEvents(calls), func(e simcluster.Call) bool { return e.Message == message })
	}, 30*time.Second, 200*time.Millisecond, "the webhook receives %q", message)
	return calls
}

// eventPhases maps each event message the webhook received to the canary phase its payload reported.
func eventPhases(calls []simcluster.Call) map[string]string {
	out := map[string]string{}
	for _, e := range webhookEvents(calls) {
		out[e.Message] = e.Phase
	}
	return out
}

// rollBackOnCloudWatch points the test's podinfo's checks at the program's CloudWatch MetricTemplates, starts 6.1.0 and
// waits for the rollback the stand-in's bad success rate causes.
func rollBackOnCloudWatch(ctx context.Context, t *testing.T, cluster *testCluster) time.Duration {
	t.Helper()
	start := time.Now()
	source := manifests.MetricsSource{Provider: manifests.CloudWatch, Region: "us-west-1", EKSCluster: "sim-cluster"}
	templates, err := manifests.MetricTemplates(cluster.ns, source)
	require.NoError(t, err)
	for _, obj := range templates {
		_, err := cluster.Dynamic.Resource(metricTemplates).Namespace(cluster.ns).Create(ctx,
			&unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	rendered, err := manifests.ToObject(manifests.Canary(manifests.CanaryParams{Service: manifests.WalkthroughService(cluster.ns, cluster.host),
		Ingress: manifests.MustIngress(manifests.IngressGloo), Metrics: source}))
	require.NoError(t, err)
	metrics, _, err := unstructured.NestedSlice(rendered, "spec", "analysis", "metrics")
	require.NoError(t, err)
	// Flagger writes these objects too, so each change is retried on a conflict with a fresh read.
	canaries := cluster.Dynamic.Resource(rollout.CanaryResource).Namespace(cluster.ns)
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		canary, err := canaries.Get(ctx, "podinfo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := unstructured.SetNestedSlice(canary.Object, metrics, "spec", "analysis", "metrics"); err != nil {
			return err
		}
		_, err = canaries.Update(ctx, canary, metav1.UpdateOptions{})
		return err
	}))
	deployments := cluster.Core.AppsV1().Deployments(cluster.ns)
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		podinfo, err := deployments.Get(ctx, "podinfo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		podinfo.Spec.Template.Spec.Containers[0].Image = "ghcr.io/stefanprodan/podinfo:6.1.0"
		_, err = deployments.Update(ctx, podinfo, metav1.UpdateOptions{})
		return err
	}))
	// See the new revision start before waiting for its end (a canary that failed before is Failed already).
	clock := walkthroughClock()
	waitForCanaryWithin(ctx, t, cluster, flaggerv1.CanaryPhaseProgressing, clock.intervals(2, "our update's offset, new revision detected"))
	waitForCanaryWithin(ctx, t, cluster, flaggerv1.CanaryPhaseFailed, clock.rollback())

	calls := cluster.callsSince(start)
	queried := 0
	for _, c := range calls {
		if c.Kind == "query" && c.Provider == "cloudwatch" && c.Name == "request-success-rate" {
			queried++
			assert.Contains(t, c.Credential, "/us-west-1/monitoring/aws4_request", "signed for the template's region")
			assert.Contains(t, c.Query, "envoy_cluster_upstream_rq_xx", "the template's metrics")
			assert.Contains(t, c.Query, cluster.ns+"-podinfo-canaryupstream-9898_"+cluster.ns, "the dimension of our canary's Envoy cluster")
		}
	}
	assert.NotZero(t, queried, "Flagger queried CloudWatch")
	assert.Contains(t, cluster.FlaggerLog(), "Halt podinfo."+cluster.ns+" advancement request-success-rate-cloudwatch 62.50 < 99",
		"the CloudWatch answer decided")
	primary, err := deployments.Get(ctx, "podinfo-primary", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.0", primary.Spec.Template.Spec.Containers[0].Image,
		"the primary keeps the version before")
	return time.Since(start)
}

// slackMessages are "channel: text (colour)" of the Slack messages received.
func slackMessages(calls []simcluster.Call) []string {
	var out []string
	for _, c := range calls {
		if c.Kind == "alert" && c.Provider == "slack" {
			out = append(out, fmt.Sprintf("%s: %s (%s)", c.Name, c.Message, c.EventType))
		}
	}
	return out
}
