//go:build e2e

package tests

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/progressive-delivery/platform/internal/simcluster"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/progressive-delivery/platform/program"
	"github.com/progressive-delivery/platform/rollout"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1pulumi "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// findE2ETools locates the tools tests/e2e/tools.sh builds; it skips without them on a developer machine and
// fails in CI, where .ci/run builds them first.
// appLayerResources is what the walkthrough's app layer (kubeconfig mode, no platform install) creates: the stack,
// the cluster connection and its provider; the Service with its Deployment, HPA, PDB, VirtualService and Canary;
// the ServiceNamespace with the load tester's Deployment and Service; the Team with the namespace, its quota,
// LimitRange and five NetworkPolicies.
const appLayerResources = 21

func findE2ETools(t *testing.T) simcluster.Tools {
	t.Helper()
	tools, err := simcluster.FindTools()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip("skipped: " + err.Error())
	}
	return tools
}

// startCluster runs a simulated cluster (envtest's etcd and kube-apiserver, the real controller-manager and
// scheduler, kwok's fake nodes) of the test's own for the test's lifetime, the app layer in the walkthrough's
// namespace and host; its logs are printed when the test fails. The test waits its turn first (admit): expected is
// the rest of its run, for the queue's order.
func startCluster(t *testing.T, tools simcluster.Tools, expected bound) *testCluster {
	t.Helper()
	return startOwnCluster(t, tools, scenario{ownCluster: true, expected: expected.d})
}

func startOwnCluster(t *testing.T, tools simcluster.Tools, s scenario) *testCluster {
	t.Helper()
	admit(t, s)
	b := clusterStart(false)
	ctx, cancel := context.WithTimeout(context.Background(), b.d)
	defer cancel()
	start := time.Now()
	c, err := simcluster.Start(ctx, simcluster.Options{Tools: tools, Dir: t.TempDir()})
	require.NoError(t, err, "the simulated cluster starts within %s", b)
	t.Logf("simulated cluster ready in %s (its OpenAPI document built in %s)", time.Since(start).Round(100*time.Millisecond),
		c.OpenAPIWarmup.Round(100*time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster logs:\n%s", c.LogTails(3000))
			t.Logf("pods of %s:\n%s", manifests.AppNamespace, c.PodStates(context.Background(), manifests.AppNamespace))
		}
		assert.NoError(t, c.Stop(), "every process of the cluster stops")
	})
	return &testCluster{Cluster: c, ns: manifests.AppNamespace, host: walkthroughHost}
}

// within is a context for a test's steps that ends after b, or with the test; a step that outlives it fails
// saying which bound it was and why.
func within(t *testing.T, b bound) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), b.d)
	t.Cleanup(cancel)
	t.Logf("bound for the test's steps: %s", b)
	return ctx
}

// logFigure prints a measured figure to the test log and to stdout, so `go test -v` shows it in the run's own order
// and a failing run keeps it with the test's output.
func logFigure(t *testing.T, line string) {
	t.Helper()
	fmt.Println(line)
	t.Log(line)
}

// testCluster is where one test's app layer runs: a simulated cluster, the test's own or the shared one, and the
// namespace and host the test's stacks use (appNamespace and domain).
type testCluster struct {
	*simcluster.Cluster
	ns, host string
}

// startClusterWithFlagger runs a simulated cluster of the test's own and the real Flagger on it, for a test that
// restarts or breaks them; the app layer has the walkthrough's namespace and host. The context the test's steps
// share ends after b (the steps after the cluster's start), or with the test. Flagger's log tail is printed when
// the test fails.
func startClusterWithFlagger(t *testing.T, tools simcluster.Tools, b bound) (context.Context, *testCluster) {
	t.Helper()
	tc := startOwnCluster(t, tools, scenario{ownCluster: true, ownFlagger: true, expected: b.d})
	flaggerStart := scaled(refFlaggerStart, "Flagger start")
	startCtx, cancel := context.WithTimeout(context.Background(), flaggerStart.d)
	defer cancel()
	require.NoError(t, tc.StartFlagger(startCtx, simcluster.FlaggerOptions{Chart: devFlaggerChart(t)}), "Flagger starts within %s", flaggerStart)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("flagger log (tail):\n%s", tc.flaggerLogTail())
		}
	})
	return within(t, b), tc
}

// shared is the simulated cluster with Flagger that the tests which leave the cluster as they found it share,
// each in a namespace of its own: one control plane, one Flagger and one Prometheus instead of one per test (as
// envtest suites start one environment per package). TestMain stops it.
var shared struct {
	once    sync.Once
	cluster *simcluster.Cluster
	err     error
}

// onSharedCluster gives the test the namespace ns (and host podinfo.<ns>.example.com, or the walkthrough's for
// apps) on the shared cluster, started by the first test that asks, once the test's turn has come (admit). The
// namespace is deleted when the test ends, which stops its pods' processes; the context the test's steps share
// ends after b, or with the test.
func onSharedCluster(t *testing.T, tools simcluster.Tools, b bound, ns string) (context.Context, *testCluster) {
	t.Helper()
	admit(t, scenario{expected: b.d})
	shared.once.Do(func() {
		startBound := clusterStart(true)
		ctx, cancel := context.WithTimeout(context.Background(), startBound.d)
		defer cancel()
		queue.reserve(loadControlPlane + loadFlagger)
		start := time.Now()
		if shared.cluster, shared.err = simcluster.Start(ctx, simcluster.Options{Tools: tools}); shared.err != nil {
			shared.err = fmt.Errorf("within %s: %w", startBound, shared.err)
			return
		}
		if shared.err = shared.cluster.StartFlagger(ctx, simcluster.FlaggerOptions{Chart: devFlaggerChart(t)}); shared.err != nil {
			shared.err = errors.Join(fmt.Errorf("within %s: %w", startBound, shared.err), shared.cluster.Stop())
			shared.cluster = nil
			return
		}
		fmt.Printf("shared simulated cluster with Flagger ready in %s (its OpenAPI document built in %s)\n",
			time.Since(start).Round(100*time.Millisecond), shared.cluster.OpenAPIWarmup.Round(100*time.Millisecond))
	})
	require.NoError(t, shared.err, "the shared simulated cluster")
	host := walkthroughHost
	if ns != manifests.AppNamespace {
		host = "podinfo." + ns + ".example.com"
	}
	tc := &testCluster{Cluster: shared.cluster, ns: ns, host: host}
	ctx := within(t, b)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("flagger log (lines of namespace %s, tail):\n%s", ns, tc.flaggerLogTail())
			t.Logf("pods of %s:\n%s", ns, tc.PodStates(context.Background(), ns))
			if counters, err := tc.GatewayCounters(context.Background(), "gloo-system", ns+"-"); err == nil {
				t.Logf("the Gloo gateway's request counters for %s's upstreams:\n%s", ns, counters)
			}
		}
		err := tc.Core.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		assert.True(t, err == nil || apierrors.IsNotFound(err), "namespace %s is deleted: %v", ns, err)
	})
	return ctx, tc
}

// inNewNamespace is onSharedCluster for a test that creates its objects itself instead of through a stack: it
// creates the namespace too.
func inNewNamespace(t *testing.T, tools simcluster.Tools, b bound, ns string) (context.Context, *testCluster) {
	t.Helper()
	ctx, cluster := onSharedCluster(t, tools, b, ns)
	_, err := cluster.Core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return ctx, cluster
}

// startSuite, run by TestMain before the tests, reads this machine's speed and cores for the queue and the bounds.
func startSuite() { readMachine() }

// finishSuite, run by TestMain after the tests, stops the shared cluster if a test started it, printing its logs
// when the package failed.
func finishSuite(failed bool) error {
	if shared.cluster == nil {
		return nil
	}
	if failed {
		fmt.Printf("shared cluster logs:\n%s\n", shared.cluster.LogTails(3000))
	}
	return shared.cluster.Stop()
}

// callsSince are the calls the stand-in received since since; on the shared cluster those about the test's
// namespace (by the load tester's host, the event's canary, the query's selectors) and every alert (only a test
// that configures Slack or Teams gets any).
func (c *testCluster) callsSince(since time.Time) []simcluster.Call {
	calls := c.StandIn.CallsSince(since)
	if c.Cluster != shared.cluster {
		return calls
	}
	return slices.DeleteFunc(calls, func(call simcluster.Call) bool {
		text := call.Host + " " + call.Message + " " + call.Query
		return call.Kind != "alert" && !strings.Contains(text, "."+c.ns) && !strings.Contains(text, `"`+c.ns+`"`) &&
			!strings.Contains(text, "_"+c.ns) && !strings.Contains(text, c.ns+"-podinfo-")
	})
}

// flaggerLogTail is the end of Flagger's log; on the shared cluster only the lines about the test's namespace.
func (c *testCluster) flaggerLogTail() string {
	log := c.FlaggerLog()
	if c.Cluster == shared.cluster {
		var mine []string
		for line := range strings.Lines(log) {
			if strings.Contains(line, "."+c.ns) || strings.Contains(line, `"`+c.ns+`"`) {
				mine = append(mine, line)
			}
		}
		log = strings.Join(mine, "")
	}
	return log[max(0, len(log)-6000):]
}

// devFlaggerChart is the Flagger chart the dev stack pins, with the values the program installs it with.
func devFlaggerChart(t *testing.T) simcluster.FlaggerChart {
	t.Helper()
	chart, err := simcluster.GlooFlaggerChart(program.Defaults().FlaggerChartVersion)
	require.NoError(t, err)
	return chart
}

// release runs the rollout command's release of version on stack's one service, as
// `go run ./cmd/rollout --version <version>` does, following the canary for at most canary (its --timeout). When
// the command does not end in time its output says so, and the bound's arithmetic is printed with it.
func release(ctx context.Context, stack auto.Stack, version string, canary bound, out io.Writer) (int, error) {
	code, err := rollout.ReleaseOn(ctx, stack, rollout.ReleaseOptions{
		Version: version, Timeout: canary.d, Out: out,
	})
	if code == rollout.ExitTimeout || code == rollout.ExitInterrupted || ctx.Err() != nil {
		fmt.Fprintf(out, "(test) the canary's bound was %s; the test's context: %v\n", canary, ctx.Err())
	}
	return code, err
}

// newE2EStack creates a stack of prog on a file backend of its own, driven by the real CLI.
func newE2EStack(t *testing.T, tools simcluster.Tools, name string, prog pulumi.RunFunc) auto.Stack {
	t.Helper()
	return newE2EStackOn(t, tools, t.TempDir(), name, prog)
}

// newE2EStackOn creates the stack on the file backend in dir, so several stacks can reference each other.
func newE2EStackOn(t *testing.T, tools simcluster.Tools, dir, name string, prog pulumi.RunFunc) auto.Stack {
	t.Helper()
	stack, err := simcluster.NewStack(context.Background(), simcluster.StackOptions{
		Tools: tools, Dir: dir, Project: program.Project, Name: name, Program: prog,
	})
	require.NoError(t, err)
	return stack
}

// collect runs fn with an event stream and returns the completed steps (op and resource name) it reported.
func collect(fn func(chan<- events.EngineEvent) error) (map[string]apitype.StepEventMetadata, error) {
	ch := make(chan events.EngineEvent)
	steps := map[string]apitype.StepEventMetadata{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range ch {
			if e.ResOutputsEvent != nil && e.ResOutputsEvent.Metadata.Op != apitype.OpSame {
				m := e.ResOutputsEvent.Metadata
				steps[m.URN] = m
			}
		}
	}()
	err := fn(ch)
	<-done
	return steps, err
}

// TestRealEngine_AppLayerUpPreviewUpdateDestroy drives the real program with the real Pulumi engine and the real
// Kubernetes provider against a real kube-apiserver: the app layer onto an existing cluster (kubeconfig mode,
// platformInstall=false, the CRDs installed the way Gloo and Flagger would).
func TestRealEngine_AppLayerUpPreviewUpdateDestroy(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	ops := pulumiOps(5) // preview, up, a no-change preview, the version update, destroy
	server := startCluster(t, tools, ops)
	ctx := within(t, ops)

	stack := newE2EStack(t, tools, "e2e", program.Run)
	require.NoError(t, stack.SetAllConfig(ctx, auto.ConfigMap{
		"kubeconfig":      {Value: string(server.Kubeconfig), Secret: true},
		"platformInstall": {Value: "false"},
	}))

	start := time.Now()
	prev, err := stack.Preview(ctx)
	require.NoError(t, err)
	previewTime := time.Since(start)
	// Stack, ClusterConnection, provider, Service, ServiceNamespace, and the eight objects of the app layer.
	assert.Equal(t, appLayerResources, prev.ChangeSummary[apitype.OpCreate], "preview of a new stack: %v", prev.ChangeSummary)

	start = time.Now()
	up, err := stack.Up(ctx)
	require.NoError(t, err)
	upTime := time.Since(start)
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.0", up.Outputs["podinfoImage"].Value)

	// What the server now holds.
	_, err = server.Core.CoreV1().Namespaces().Get(ctx, server.ns, metav1.GetOptions{})
	require.NoError(t, err, "namespace apps")
	deploy, err := server.Core.AppsV1().Deployments(server.ns).Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	c := deploy.Spec.Template.Spec.Containers[0]
	assert.Equal(t, "podinfod", c.Name)
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.0", c.Image)
	assert.Equal(t, int32(60), *deploy.Spec.ProgressDeadlineSeconds)
	assert.Equal(t, "true", deploy.Annotations["pulumi.com/skipAwait"])
	assert.Equal(t, "9797", deploy.Spec.Template.Annotations["prometheus.io/port"])
	assert.Equal(t, []string{"podcli", "check", "http", "localhost:9898/readyz"}, c.ReadinessProbe.Exec.Command)
	hpa, err := server.Core.AutoscalingV2().HorizontalPodAutoscalers(server.ns).Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), *hpa.Spec.MinReplicas)
	assert.Equal(t, int32(4), hpa.Spec.MaxReplicas)
	assert.Equal(t, int32(99), *hpa.Spec.Metrics[0].Resource.Target.AverageUtilization)
	tester, err := server.Core.AppsV1().Deployments(server.ns).Get(ctx, "flagger-loadtester", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/fluxcd/flagger-loadtester:0.22.0", tester.Spec.Template.Spec.Containers[0].Image)
	svc, err := server.Core.CoreV1().Services(server.ns).Get(ctx, "flagger-loadtester", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(80), svc.Spec.Ports[0].Port)
	vs, err := server.Dynamic.Resource(schema.GroupVersionResource{Group: "gateway.solo.io", Version: "v1", Resource: "virtualservices"}).
		Namespace(server.ns).Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	domains, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "virtualHost", "domains")
	assert.Equal(t, []string{"podinfo.example.com"}, domains)
	canary, err := server.Dynamic.Resource(schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}).
		Namespace(server.ns).Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	analysis, _, _ := unstructured.NestedMap(canary.Object, "spec", "analysis")
	assert.Equal(t, "10s", analysis["interval"])
	assert.EqualValues(t, 5, analysis["threshold"])
	assert.EqualValues(t, 50, analysis["maxWeight"])
	assert.EqualValues(t, 5, analysis["stepWeight"])
	provider, _, _ := unstructured.NestedString(canary.Object, "spec", "provider")
	assert.Equal(t, "gloo", provider)

	// A second run changes nothing.
	_, err = stack.Preview(ctx, optpreview.ExpectNoChanges())
	require.NoError(t, err, "no perpetual diff")

	// A version change is exactly one update: the Deployment's image.
	require.NoError(t, stack.SetConfigWithOptions(ctx, "services.podinfo.version", auto.ConfigValue{Value: "6.0.1"}, &auto.ConfigOptions{Path: true}))
	steps, err := collect(func(ch chan<- events.EngineEvent) error {
		_, err := stack.Up(ctx, optup.EventStreams(ch))
		return err
	})
	require.NoError(t, err)
	var changed []string
	for urn, m := range steps {
		if m.Type != "pulumi:pulumi:Stack" {
			changed = append(changed, fmt.Sprintf("%s %s %v", m.Op, urn[strings.LastIndex(urn, "::")+2:], m.Diffs))
		}
	}
	require.Len(t, changed, 1, "exactly one change: %v", changed)
	assert.Contains(t, changed[0], "update podinfo-deployment")
	deploy, err = server.Core.AppsV1().Deployments(server.ns).Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.1", deploy.Spec.Template.Spec.Containers[0].Image)

	// Destroy leaves nothing of ours, and the stack goes.
	_, err = stack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	_, err = server.Core.CoreV1().Namespaces().Get(ctx, server.ns, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "namespace apps is gone: %v", err)
	for _, kind := range []string{"deployments", "horizontalpodautoscalers", "services"} {
		assert.Empty(t, listNames(t, server, kind), "no %s of ours remain", kind)
	}
	stacks, err := stack.Workspace().ListStacks(ctx)
	require.NoError(t, err)
	assert.Empty(t, stacks, "the stack is removed")

	fmt.Printf("real engine, app layer: preview of a new stack %s, up %s\n", previewTime.Round(100*time.Millisecond), upTime.Round(100*time.Millisecond))
	t.Logf("real engine, app layer: preview %s, up %s", previewTime.Round(100*time.Millisecond), upTime.Round(100*time.Millisecond))
}

// TestRealEngine_BadCanaryIsRejectedReadably applies a Canary with a mistyped field: the server refuses it and the
// error that pulumi up returns names the field. The Canary is never stored, so no Flagger sees it: the test runs
// in a namespace of the shared cluster instead of starting a control plane of its own.
func TestRealEngine_BadCanaryIsRejectedReadably(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	ctx, server := inNewNamespace(t, tools, pulumiOps(2), "bad-canary") // up (refused), destroy
	raw, err := os.ReadFile("e2e/bad-canary.yaml")
	require.NoError(t, err)
	var bad map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &bad))

	stack := newE2EStack(t, tools, "e2e-bad-canary", func(pctx *pulumi.Context) error {
		provider, err := kubernetes.NewProvider(pctx, "e2e", &kubernetes.ProviderArgs{Kubeconfig: pulumi.String(string(server.Kubeconfig))})
		if err != nil {
			return err
		}
		_, err = apiextensions.NewCustomResource(pctx, "bad-canary", &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String("flagger.app/v1beta1"),
			Kind:        pulumi.String("Canary"),
			Metadata:    &metav1pulumi.ObjectMetaArgs{Name: pulumi.String("podinfo-bad"), Namespace: pulumi.String(server.ns)},
			OtherFields: kubernetes.UntypedArgs{"spec": bad["spec"]},
		}, pulumi.Provider(provider))
		return err
	})
	_, err = stack.Up(ctx)
	require.Error(t, err, "the server must reject a mistyped Canary")
	msg := err.Error()
	t.Logf("what pulumi up reports:\n%s", msg[strings.Index(msg, "error:"):])
	assert.Contains(t, msg, "spec.analysis.threshold", "the error names the field")
	assert.Contains(t, msg, "expected numeric", "and says what is wrong with it")
	_, err = server.Dynamic.Resource(schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}).
		Namespace(server.ns).Get(ctx, "podinfo-bad", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "nothing was stored")
	_, err = stack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
}

func listNames(t *testing.T, s *testCluster, kind string) []string {
	t.Helper()
	names := allNames(t, s, kind)
	// What the harness puts where the platform install would (the gateway proxies, the Flagger chart's
	// Prometheus) is not the stack's; nor, on the shared cluster, what other tests' stacks have.
	return slices.DeleteFunc(names, func(n string) bool {
		return strings.HasPrefix(n, "gloo-system/") || strings.HasPrefix(n, "kgateway-system/") ||
			(s.Cluster == shared.cluster && !strings.HasPrefix(n, s.ns+"/"))
	})
}

func allNames(t *testing.T, s *testCluster, kind string) []string {
	t.Helper()
	ctx := context.Background()
	var names []string
	switch kind {
	case "deployments":
		l, err := s.Core.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		for _, d := range l.Items {
			names = append(names, d.Namespace+"/"+d.Name)
		}
	case "horizontalpodautoscalers":
		l, err := s.Core.AutoscalingV2().HorizontalPodAutoscalers("").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		for _, h := range l.Items {
			names = append(names, h.Namespace+"/"+h.Name)
		}
	case "services":
		l, err := s.Core.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		for _, svc := range l.Items {
			if svc.Namespace == corev1.NamespaceDefault && svc.Name == "kubernetes" {
				continue // the API server's own
			}
			names = append(names, svc.Namespace+"/"+svc.Name)
		}
	}
	return names
}

// TestRealEngine_InfraStackContract deploys the app layer onto the cluster of another stack, through the outputs
// contract (kubeconfig, repositoryUrl, clusterName) and a real StackReference on a shared file backend.
func TestRealEngine_InfraStackContract(t *testing.T) {
	tools := findE2ETools(t)
	t.Parallel()
	steps := pulumiOps(4) // the infrastructure stand-in's up, the app layer's up and destroy, and the stand-in's destroy
	server := startCluster(t, tools, steps)
	ctx := within(t, steps)
	backend := t.TempDir()
	const repositoryURL = "111111111111.dkr.ecr.us-west-1.amazonaws.com/ps-flagger-repository"

	// Stands in for an infrastructure stack of this program: the same output names and secrecy.
	infraStack := newE2EStackOn(t, tools, backend, "infra", func(pctx *pulumi.Context) error {
		pctx.Export("kubeconfig", pulumi.ToSecret(pulumi.String(string(server.Kubeconfig))))
		pctx.Export("repositoryUrl", pulumi.String(repositoryURL))
		pctx.Export("clusterName", pulumi.String("ps-eks-66"))
		return nil
	})
	_, err := infraStack.Up(ctx)
	require.NoError(t, err)

	apps := newE2EStackOn(t, tools, backend, "apps", program.Run)
	require.NoError(t, apps.SetAllConfig(ctx, auto.ConfigMap{
		"infraStack":      {Value: "organization/progressive-delivery/infra"},
		"platformInstall": {Value: "false"},
	}))
	up, err := apps.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, repositoryURL+":6.0.0", up.Outputs["podinfoImage"].Value)
	assert.Equal(t, "ps-eks-66", up.Outputs["clusterName"].Value)
	assert.NotContains(t, up.Outputs, "kubeconfig", "the infra stack's kubeconfig is not re-exported")
	deploy, err := server.Core.AppsV1().Deployments(server.ns).Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, repositoryURL+":6.0.0", deploy.Spec.Template.Spec.Containers[0].Image, "the image comes from the infra stack's repository")

	// cmd/rollout on the app stack reaches the cluster through the infra stack's kubeconfig output.
	before, err := apps.Workspace().Stack(ctx)
	require.NoError(t, err)
	src, err := rollout.SourceFromStack(ctx, apps)
	require.NoError(t, err, "the rollout command finds the cluster of an infraStack-mode stack")
	_, err = src.Get(ctx)
	require.NoError(t, err, "and reads the Canary there")
	after, err := apps.Workspace().Stack(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, after, "reading the infra stack's outputs does not select it")

	_, err = apps.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	_, err = infraStack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	assert.Empty(t, listNames(t, server, "deployments"))
}
