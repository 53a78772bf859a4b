package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
	"k8s.io/client-go/dynamic"
	k8sclient "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// e2eTools are the real-engine binaries built by tests/e2e/tools.sh.
type e2eTools struct {
	bin, pulumi, provider, apiserver, etcd string
	providerVersion                        string
}

// findE2ETools locates the tools; it skips without them on a developer machine and fails in CI, where .ci/run
// builds them first.
func findE2ETools(t *testing.T) e2eTools {
	t.Helper()
	bin := os.Getenv("E2E_TOOLS_BIN")
	tools := e2eTools{bin: bin, pulumi: filepath.Join(bin, "pulumi"), provider: filepath.Join(bin, "pulumi-resource-kubernetes"),
		apiserver: filepath.Join(bin, "kube-apiserver"), etcd: filepath.Join(bin, "etcd"),
		providerVersion: os.Getenv("E2E_K8S_PROVIDER_VERSION")}
	var missing []string
	for _, p := range []string{tools.pulumi, tools.provider, tools.apiserver, tools.etcd} {
		if _, err := os.Stat(p); bin == "" || err != nil {
			missing = append(missing, filepath.Base(p))
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("real-engine tools missing (%s); build them with: eval \"$(bash tests/e2e/tools.sh)\"", strings.Join(missing, ", "))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("skipped: " + msg)
	}
	if tools.providerVersion == "" {
		tools.providerVersion = "4.32.0"
	}
	return tools
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProcess runs a server for the test's lifetime, its output in a log file shown on failure.
func startProcess(t *testing.T, dir, name string, cmd *exec.Cmd) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start(), name)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		_ = logFile.Close()
		if t.Failed() {
			if out, err := os.ReadFile(logPath); err == nil {
				tail := out
				if len(tail) > 4000 {
					tail = tail[len(tail)-4000:]
				}
				t.Logf("--- %s log (tail) ---\n%s", name, tail)
			}
		}
	})
}

// apiServer is a local etcd + kube-apiserver on loopback with a static admin token; no controller-manager.
type apiServer struct {
	kubeconfig []byte
	core       k8sclient.Interface
	dyn        dynamic.Interface
}

func startAPIServer(t *testing.T, tools e2eTools) *apiServer {
	t.Helper()
	dir := t.TempDir()
	etcdPort, peerPort, apiPort := freePort(t), freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	startProcess(t, dir, "etcd", exec.Command(tools.etcd,
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-cluster", fmt.Sprintf("default=http://127.0.0.1:%d", peerPort)))

	tokenBytes := make([]byte, 16)
	_, err := rand.Read(tokenBytes)
	require.NoError(t, err)
	token := hex.EncodeToString(tokenBytes)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(token+`,admin,admin,"system:masters"`+"\n"), 0o600))
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sa.key"), keyPEM, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600))

	startProcess(t, dir, "kube-apiserver", exec.Command(tools.apiserver,
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(apiPort),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range", "10.96.0.0/24",
		"--endpoint-reconciler-type", "none"))

	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	kubeconfig := []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: %s
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
`, server, token))
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	require.NoError(t, err)
	s := &apiServer{kubeconfig: kubeconfig}
	s.core, err = k8sclient.NewForConfig(cfg)
	require.NoError(t, err)
	s.dyn, err = dynamic.NewForConfig(cfg)
	require.NoError(t, err)

	start := time.Now()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 90*time.Second, 250*time.Millisecond, "kube-apiserver never became ready")
	t.Logf("etcd + kube-apiserver ready in %s", time.Since(start).Round(100*time.Millisecond))
	return s
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installCRDs creates the CRDs in the given multi-document YAML files and waits until they are served.
func (s *apiServer) installCRDs(t *testing.T, paths ...string) {
	t.Helper()
	ctx := context.Background()
	var names []string
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, doc := range bytes.Split(raw, []byte("\n---")) {
			var obj map[string]any
			require.NoError(t, yaml.Unmarshal(doc, &obj))
			if obj == nil || obj["kind"] != "CustomResourceDefinition" {
				continue
			}
			u := &unstructured.Unstructured{Object: obj}
			_, err := s.dyn.Resource(crdResource).Create(ctx, u, metav1.CreateOptions{})
			require.NoError(t, err, u.GetName())
			names = append(names, u.GetName())
		}
	}
	require.Eventually(t, func() bool {
		for _, n := range names {
			u, err := s.dyn.Resource(crdResource).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			established := false
			for _, c := range conds {
				m := c.(map[string]any)
				established = established || (m["type"] == "Established" && m["status"] == "True")
			}
			if !established {
				return false
			}
		}
		return true
	}, 30*time.Second, 200*time.Millisecond, "CRDs %v never established", names)
}

// appResources are the kinds the app layer creates, for the garbage-collector stand-in below.
var appResources = []schema.GroupVersionResource{
	{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"},
	{Group: "gateway.solo.io", Version: "v1", Resource: "virtualservices"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
	{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "namespaces"},
}

// collectGarbage plays the parts of kube-controller-manager this server lacks, so deletions complete as in a
// cluster: the garbage collector releases foreground deletions (Pulumi deletes with propagation Foreground, and our
// objects own nothing here), and the namespace controller finalizes a namespace being deleted.
func (s *apiServer) collectGarbage(ctx context.Context, logf func(string, ...any)) {
	for ctx.Err() == nil {
		for _, gvr := range appResources {
			list, err := s.dyn.Resource(gvr).Namespace("").List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for i := range list.Items {
				obj := &list.Items[i]
				if obj.GetDeletionTimestamp() == nil || !slices.Contains(obj.GetFinalizers(), metav1.FinalizerDeleteDependents) {
					continue
				}
				var keep []string
				for _, f := range obj.GetFinalizers() {
					if f != metav1.FinalizerDeleteDependents {
						keep = append(keep, f)
					}
				}
				obj.SetFinalizers(keep)
				_, err := s.dyn.Resource(gvr).Namespace(obj.GetNamespace()).Update(ctx, obj, metav1.UpdateOptions{})
				if err != nil && ctx.Err() == nil {
					logf("releasing %s %s/%s: %v", gvr.Resource, obj.GetNamespace(), obj.GetName(), err)
				}
			}
		}
		list, err := s.core.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range list.Items {
				ns := list.Items[i]
				if ns.DeletionTimestamp != nil && len(ns.Spec.Finalizers) > 0 {
					ns.Spec.Finalizers = nil
					_, _ = s.core.CoreV1().Namespaces().Finalize(ctx, &ns, metav1.UpdateOptions{})
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// skipReadinessAwait marks Deployments and Services so the provider does not wait for pods: this server has no
// controller-manager or kubelet, so no pod ever runs. Everything else awaits as in production.
func skipReadinessAwait(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
	if args.Type != "kubernetes:apps/v1:Deployment" && args.Type != "kubernetes:core/v1:Service" {
		return nil
	}
	meta, _ := args.Props["metadata"].(pulumi.Map)
	if meta == nil {
		meta = pulumi.Map{}
	}
	annotations := pulumi.Map{}
	switch a := meta["annotations"].(type) {
	case pulumi.Map:
		for k, v := range a {
			annotations[k] = v
		}
	case pulumi.StringMap:
		for k, v := range a {
			annotations[k] = v
		}
	}
	annotations["pulumi.com/skipAwait"] = pulumi.String("true")
	meta["annotations"] = annotations
	args.Props["metadata"] = meta
	return &pulumi.ResourceTransformResult{Props: args.Props, Opts: args.Opts}
}

// newE2EStack creates a stack of program on a file backend in a temp dir, driven by the real CLI.
func newE2EStack(t *testing.T, tools e2eTools, name string, prog pulumi.RunFunc) auto.Stack {
	t.Helper()
	return newE2EStackOn(t, tools, t.TempDir(), name, prog)
}

// newE2EStackOn creates the stack on the file backend in backendDir, so several stacks can reference each other.
func newE2EStackOn(t *testing.T, tools e2eTools, backendDir, name string, prog pulumi.RunFunc) auto.Stack {
	t.Helper()
	ctx := context.Background()
	home := filepath.Join(t.TempDir(), "pulumi-home")
	env := map[string]string{
		"PULUMI_BACKEND_URL":       "file://" + backendDir,
		"PULUMI_CONFIG_PASSPHRASE": "e2e-passphrase",
		"PULUMI_SKIP_UPDATE_CHECK": "true",
		"PULUMI_HOME":              home,
	}
	install := exec.Command(tools.pulumi, "plugin", "install", "resource", "kubernetes", tools.providerVersion, "--file", tools.provider)
	install.Env = append(os.Environ(), "PULUMI_HOME="+home, "PULUMI_SKIP_UPDATE_CHECK=true")
	out, err := install.CombinedOutput()
	require.NoError(t, err, string(out))
	// Only the CLI goes in the command's root, so the engine uses the installed plugin and no ambient one.
	root := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(root, "bin"), 0o755))
	require.NoError(t, os.Symlink(tools.pulumi, filepath.Join(root, "bin", "pulumi")))
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
	require.NoError(t, err)
	stack, err := auto.UpsertStackInlineSource(ctx, name, program.Project, prog,
		auto.Pulumi(cmd), auto.PulumiHome(home), auto.EnvVars(env))
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
// platform.install=false, the CRDs installed the way Gloo and Flagger would).
func TestRealEngine_AppLayerUpPreviewUpdateDestroy(t *testing.T) {
	tools := findE2ETools(t)
	server := startAPIServer(t, tools)
	flaggerDir := moduleDir(t, "github.com/fluxcd/flagger")
	server.installCRDs(t, filepath.Join(flaggerDir, "artifacts/flagger/crd.yaml"), "e2e/virtualservice-crd.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	go server.collectGarbage(ctx, t.Logf)

	stack := newE2EStack(t, tools, "e2e", func(pctx *pulumi.Context) error {
		if err := pctx.RegisterResourceTransform(skipReadinessAwait); err != nil {
			return err
		}
		return program.Run(pctx)
	})
	require.NoError(t, stack.SetConfig(ctx, "kubeconfig", auto.ConfigValue{Value: string(server.kubeconfig), Secret: true}))
	require.NoError(t, stack.SetConfig(ctx, "platform.install", auto.ConfigValue{Value: "false"}))

	start := time.Now()
	prev, err := stack.Preview(ctx)
	require.NoError(t, err)
	previewTime := time.Since(start)
	// Stack, ClusterConnection, provider, App, and the eight objects of the app layer.
	assert.Equal(t, 12, prev.ChangeSummary[apitype.OpCreate], "preview of a new stack: %v", prev.ChangeSummary)

	start = time.Now()
	up, err := stack.Up(ctx)
	require.NoError(t, err)
	upTime := time.Since(start)
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.0", up.Outputs["podinfoImage"].Value)

	// What the server now holds.
	_, err = server.core.CoreV1().Namespaces().Get(ctx, "apps", metav1.GetOptions{})
	require.NoError(t, err, "namespace apps")
	deploy, err := server.core.AppsV1().Deployments("apps").Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	c := deploy.Spec.Template.Spec.Containers[0]
	assert.Equal(t, "podinfod", c.Name)
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.0", c.Image)
	assert.Equal(t, int32(60), *deploy.Spec.ProgressDeadlineSeconds)
	assert.Equal(t, "true", deploy.Annotations["pulumi.com/skipAwait"])
	assert.Equal(t, "9797", deploy.Spec.Template.Annotations["prometheus.io/port"])
	assert.Equal(t, []string{"podcli", "check", "http", "localhost:9898/readyz"}, c.ReadinessProbe.Exec.Command)
	hpa, err := server.core.AutoscalingV2().HorizontalPodAutoscalers("apps").Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), *hpa.Spec.MinReplicas)
	assert.Equal(t, int32(4), hpa.Spec.MaxReplicas)
	assert.Equal(t, int32(99), *hpa.Spec.Metrics[0].Resource.Target.AverageUtilization)
	tester, err := server.core.AppsV1().Deployments("apps").Get(ctx, "flagger-loadtester", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/fluxcd/flagger-loadtester:0.22.0", tester.Spec.Template.Spec.Containers[0].Image)
	svc, err := server.core.CoreV1().Services("apps").Get(ctx, "flagger-loadtester", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(80), svc.Spec.Ports[0].Port)
	vs, err := server.dyn.Resource(schema.GroupVersionResource{Group: "gateway.solo.io", Version: "v1", Resource: "virtualservices"}).
		Namespace("apps").Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	domains, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "virtualHost", "domains")
	assert.Equal(t, []string{"podinfo.example.com"}, domains)
	canary, err := server.dyn.Resource(schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}).
		Namespace("apps").Get(ctx, "podinfo", metav1.GetOptions{})
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
	require.NoError(t, stack.SetConfig(ctx, "podinfoVersion", auto.ConfigValue{Value: "6.0.1"}))
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
	assert.Contains(t, changed[0], "update app-podinfo")
	deploy, err = server.core.AppsV1().Deployments("apps").Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/stefanprodan/podinfo:6.0.1", deploy.Spec.Template.Spec.Containers[0].Image)

	// Destroy leaves nothing of ours, and the stack goes.
	_, err = stack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	_, err = server.core.CoreV1().Namespaces().Get(ctx, "apps", metav1.GetOptions{})
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
// error that pulumi up returns names the field.
func TestRealEngine_BadCanaryIsRejectedReadably(t *testing.T) {
	tools := findE2ETools(t)
	server := startAPIServer(t, tools)
	server.installCRDs(t, filepath.Join(moduleDir(t, "github.com/fluxcd/flagger"), "artifacts/flagger/crd.yaml"))
	raw, err := os.ReadFile("e2e/bad-canary.yaml")
	require.NoError(t, err)
	var bad map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &bad))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	stack := newE2EStack(t, tools, "e2e-bad-canary", func(pctx *pulumi.Context) error {
		provider, err := kubernetes.NewProvider(pctx, "e2e", &kubernetes.ProviderArgs{Kubeconfig: pulumi.String(string(server.kubeconfig))})
		if err != nil {
			return err
		}
		_, err = apiextensions.NewCustomResource(pctx, "bad-canary", &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String("flagger.app/v1beta1"),
			Kind:        pulumi.String("Canary"),
			Metadata:    &metav1pulumi.ObjectMetaArgs{Name: pulumi.String("podinfo-bad"), Namespace: pulumi.String("default")},
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
	_, err = server.dyn.Resource(schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}).
		Namespace("default").Get(ctx, "podinfo-bad", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "nothing was stored")
	_, err = stack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
}

func listNames(t *testing.T, s *apiServer, kind string) []string {
	t.Helper()
	ctx := context.Background()
	var names []string
	switch kind {
	case "deployments":
		l, err := s.core.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		for _, d := range l.Items {
			names = append(names, d.Namespace+"/"+d.Name)
		}
	case "horizontalpodautoscalers":
		l, err := s.core.AutoscalingV2().HorizontalPodAutoscalers("").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		for _, h := range l.Items {
			names = append(names, h.Namespace+"/"+h.Name)
		}
	case "services":
		l, err := s.core.CoreV1().Services("").List(ctx, metav1.ListOptions{})
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

// moduleDir returns the module cache folder of a dependency of this module.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// TestRealEngine_RolloutWatchesRealServer drives the rollout command's watch against the real API server: the
// test writes Canary status updates as Flagger would, and the watch follows them to Succeeded.
func TestRealEngine_RolloutWatchesRealServer(t *testing.T) {
	tools := findE2ETools(t)
	server := startAPIServer(t, tools)
	server.installCRDs(t, filepath.Join(moduleDir(t, "github.com/fluxcd/flagger"), "artifacts/flagger/crd.yaml"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := server.core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: rollout.CanaryNamespace}}, metav1.CreateOptions{})
	require.NoError(t, err)
	canaries := server.dyn.Resource(rollout.CanaryResource).Namespace(rollout.CanaryNamespace)
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
		"metadata": map[string]any{"name": rollout.CanaryName, "namespace": rollout.CanaryNamespace},
		"spec": map[string]any{
			"provider":  "gloo",
			"targetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
			"service":   map[string]any{"port": int64(9898)},
			"analysis":  map[string]any{"interval": "10s", "threshold": int64(5), "maxWeight": int64(50), "stepWeight": int64(5)},
		},
	}}
	_, err = canaries.Create(ctx, obj, metav1.CreateOptions{})
	require.NoError(t, err)

	src, err := rollout.SourceFromKubeconfig(server.kubeconfig)
	require.NoError(t, err)
	out := &lockedBuffer{}
	code := make(chan int, 1)
	go func() { code <- rollout.Follow(ctx, src, rollout.NewPrinter(out), time.Minute) }()

	setStatus := func(phase string, weight int) {
		t.Helper()
		cur, err := canaries.Get(ctx, rollout.CanaryName, metav1.GetOptions{})
		require.NoError(t, err)
		require.NoError(t, unstructured.SetNestedMap(cur.Object, map[string]any{
			"phase": phase, "canaryWeight": int64(weight), "failedChecks": int64(0),
		}, "status"))
		_, err = canaries.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return strings.Contains(out.String(), phase) }, 10*time.Second, 20*time.Millisecond,
			"the watch shows %s:\n%s", phase, out.String())
	}
	setStatus("Initialized", 0)
	for _, w := range []int{5, 25, 50} {
		setStatus("Progressing", w)
		require.Eventually(t, func() bool { return strings.Contains(out.String(), fmt.Sprintf("%3d%%/50%%", w)) }, 10*time.Second, 20*time.Millisecond)
	}
	setStatus("Promoting", 50)
	setStatus("Succeeded", 0)
	select {
	case c := <-code:
		assert.Equal(t, rollout.ExitSucceeded, c)
	case <-ctx.Done():
		t.Fatal("the watch did not end on Succeeded")
	}
	assert.Contains(t, out.String(), "rollout succeeded")
}

// lockedBuffer is a writer the test reads while the watch writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRealEngine_InfraStackContract deploys the app layer onto the cluster of another stack, through the outputs
// contract (kubeconfig, repositoryUrl, clusterName) and a real StackReference on a shared file backend.
func TestRealEngine_InfraStackContract(t *testing.T) {
	tools := findE2ETools(t)
	server := startAPIServer(t, tools)
	server.installCRDs(t, filepath.Join(moduleDir(t, "github.com/fluxcd/flagger"), "artifacts/flagger/crd.yaml"), "e2e/virtualservice-crd.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	go server.collectGarbage(ctx, t.Logf)
	backend := t.TempDir()
	const repositoryURL = "111111111111.dkr.ecr.us-west-1.amazonaws.com/ps-flagger-repository"

	// Stands in for an infrastructure stack of this program: the same output names and secrecy.
	infraStack := newE2EStackOn(t, tools, backend, "infra", func(pctx *pulumi.Context) error {
		pctx.Export("kubeconfig", pulumi.ToSecret(pulumi.String(string(server.kubeconfig))))
		pctx.Export("repositoryUrl", pulumi.String(repositoryURL))
		pctx.Export("clusterName", pulumi.String("ps-eks-66"))
		return nil
	})
	_, err := infraStack.Up(ctx)
	require.NoError(t, err)

	apps := newE2EStackOn(t, tools, backend, "apps", func(pctx *pulumi.Context) error {
		if err := pctx.RegisterResourceTransform(skipReadinessAwait); err != nil {
			return err
		}
		return program.Run(pctx)
	})
	require.NoError(t, apps.SetConfig(ctx, "infraStack", auto.ConfigValue{Value: "organization/progressive-delivery/infra"}))
	require.NoError(t, apps.SetConfig(ctx, "platform.install", auto.ConfigValue{Value: "false"}))
	up, err := apps.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, repositoryURL+":6.0.0", up.Outputs["podinfoImage"].Value)
	assert.Equal(t, "ps-eks-66", up.Outputs["clusterName"].Value)
	assert.NotContains(t, up.Outputs, "kubeconfig", "the infra stack's kubeconfig is not re-exported")
	deploy, err := server.core.AppsV1().Deployments("apps").Get(ctx, "podinfo", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, repositoryURL+":6.0.0", deploy.Spec.Template.Spec.Containers[0].Image, "the image comes from the infra stack's repository")

	_, err = apps.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	_, err = infraStack.Destroy(ctx, optdestroy.Remove())
	require.NoError(t, err)
	assert.Empty(t, listNames(t, server, "deployments"))
}
