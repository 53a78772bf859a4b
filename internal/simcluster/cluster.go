package simcluster

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

//go:embed gloo-crds.yaml
var glooCRDs []byte

// controllers are the kube-controller-manager loops a Deployment needs to run pods and be cleaned up: the
// deployment and replicaset controllers, the HPA (it raises a Deployment to minReplicas even without metrics),
// endpoints (Pulumi awaits a Service's endpoints), the garbage collector (Flagger's objects are owned by the
// Canary), the namespace and serviceaccount controllers (pods wait for the default ServiceAccount) and the
// resource quota controller (the API server's quota admission enforces only the hard limits it has copied into a
// quota's status).
var controllers = []string{
	"deployment-controller", "replicaset-controller", "horizontal-pod-autoscaler-controller",
	"endpoints-controller", "endpointslice-controller", "garbage-collector-controller",
	"namespace-controller", "serviceaccount-controller", "resourcequota-controller",
}

// kwokStages are the kwok stage files tools.sh copies from the kwok module: kwok has no behaviour of its own.
var kwokStages = []string{"node-initialize", "node-heartbeat", "pod-ready", "pod-complete", "pod-delete"}

// Options configures Start.
type Options struct {
	Tools Tools
	// Dir holds the logs and the kubeconfig. Optional; default a new temporary folder, removed by Stop.
	Dir string
	// Nodes are the fake nodes. Optional; default DevNodes().
	Nodes []Node
	// Metrics are the stand-in's first values. Optional; default GoodMetrics.
	Metrics *Metrics
	// StandInAddr is the stand-in's loopback address. Optional; default a free port.
	StandInAddr string
}

// Cluster is a running simulated cluster.
type Cluster struct {
	// Kubeconfig is a cluster-admin kubeconfig (client certificate); KubeconfigPath holds the same on disk.
	Kubeconfig     []byte
	KubeconfigPath string
	Config         *rest.Config
	Core           kubernetes.Interface
	Dynamic        dynamic.Interface
	StandIn        *StandIn
	Dir            string
	// OpenAPIWarmup is how long the API server took to build its OpenAPI v2 document at the last (re)start.
	OpenAPIWarmup time.Duration

	tools       Tools
	removeDir   bool
	env         *envtest.Environment
	processes   []*process
	flagger     *process
	flaggerArgs []string
	flaggerPort string
	// apiServer is kube-apiserver once StartAPIServer has restarted it; apiServerArgs are envtest's arguments.
	apiServer     *process
	apiServerArgs []string
	// net is the loopback block of the pods and services; dataPlane runs the pods that matter for real.
	net           *network
	egress        *egressProxy
	dataPlane     *dataPlane
	stopInformers chan struct{}
}

// Start brings the cluster up and returns once the nodes are Ready and pods can be admitted. On error everything
// started so far is stopped.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	c = &Cluster{tools: o.Tools, Dir: o.Dir}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "simcluster-"); err != nil {
			return nil, err
		}
		c.removeDir = true
	} else if err = os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	metrics := GoodMetrics
	if o.Metrics != nil {
		metrics = *o.Metrics
	}
	if c.StandIn, err = StartStandIn(o.StandInAddr, metrics); err != nil {
		return c, err
	}
	if c.net, err = claimNetwork(); err != nil {
		return c, err
	}
	if err = c.startControlPlane(); err != nil {
		return c, err
	}
	if err = c.startDataPlane(ctx); err != nil {
		return c, err
	}
	if err = c.startControllers(); err != nil {
		return c, err
	}
	nodes := o.Nodes
	if nodes == nil {
		nodes = DevNodes()
	}
	if err = c.addNodes(ctx, nodes); err != nil {
		return c, err
	}
	if err = c.waitForDefaultServiceAccount(ctx); err != nil {
		return c, err
	}
	return c, c.warmOpenAPI(ctx)
}

// startControlPlane runs etcd and kube-apiserver through envtest, with the Flagger, Gloo and Gateway API CRDs
// installed.
func (c *Cluster) startControlPlane() error {
	crds, err := decodeCRDs(glooCRDs)
	if err != nil {
		return err
	}
	c.env = &envtest.Environment{
		BinaryAssetsDirectory: c.tools.Bin,
		CRDs:                  crds,
		// Flagger's, and the Gateway API's standard channel (HTTPRoute, which Flagger weights on that ingress).
		CRDDirectoryPaths:     []string{c.tools.Path("flagger-crds.yaml"), c.tools.Path("gateway-api-crds")},
		ErrorIfCRDPathMissing: true,
		// envtest waits 10 s for the CRDs to be served; a busy machine took longer (the demo's Ctrl-C test failed
		// there under the suite's load, 2026-12-05).
		CRDInstallOptions:        envtest.CRDInstallOptions{MaxTime: 2 * time.Minute},
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	var egressConfig string
	if c.egress, egressConfig, err = startEgressProxy(c.Dir, c.net); err != nil {
		return err
	}
	api := c.env.ControlPlane.GetAPIServer()
	api.Configure().
		// Its service and pod proxies reach the pods through the simulated network (egress.go).
		Set("egress-selector-config-file", egressConfig).
		// Debian's etcd 3.4 lacks what the WatchList feature needs: without this, watches (kwok's, Flagger's)
		// keep failing and pods turn Ready late.
		Set("feature-gates", "WatchList=false").
		// A loopback advertise address needs this on 1.37.
		Set("endpoint-reconciler-type", "none").
		// Admit pods as a real cluster does (ServiceAccount on); no node-lifecycle controller runs to lift the
		// not-ready taint that TaintNodesByCondition puts on new nodes, so that plugin is off.
		Set("disable-admission-plugins", "TaintNodesByCondition")
	cfg, err := c.env.Start()
	if err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver (envtest): %w", err)
	}
	admin, err := c.env.AddUser(envtest.User{Name: "simcluster-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the admin user: %w", err)
	}
	if c.Kubeconfig, err = admin.KubeConfig(); err != nil {
		return err
	}
	c.KubeconfigPath = filepath.Join(c.Dir, "kubeconfig")
	if err := os.WriteFile(c.KubeconfigPath, c.Kubeconfig, 0o600); err != nil {
		return err
	}
	c.Config = cfg
	if c.Core, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	c.Dynamic, err = dynamic.NewForConfig(cfg)
	return err
}

func decodeCRDs(raw []byte) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(doc, &crd); err != nil {
			return nil, fmt.Errorf("decoding CRD: %w", err)
		}
		if crd.Name != "" {
			out = append(out, &crd)
		}
	}
	return out, nil
}

func (c *Cluster) startControllers() error {
	kwokAddr, err := freeAddr()
	if err != nil {
		return err
	}
	args := []string{"--kubeconfig", c.KubeconfigPath, "--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + fakeNodeAnnotation + "=fake",
		"--node-lease-duration-seconds=0", "--server-address=" + kwokAddr}
	for _, s := range kwokStages {
		path := filepath.Join(c.tools.Path("kwok-stages"), s+".yaml")
		if s == "pod-ready" {
			if path, err = c.leaveRunnablePodsToDataPlane(path); err != nil {
				return err
			}
		}
		args = append(args, "--config", path)
	}
	// kwok first, so that Stop, which goes in reverse, stops it last: pods must still be deleted till then.
	if _, err := c.start("kwok", nil, c.tools.Path("kwok"), args...); err != nil {
		return err
	}
	if _, err := c.start("kube-controller-manager", nil, c.tools.Path("kube-controller-manager"),
		"--kubeconfig", c.KubeconfigPath, "--leader-elect=false", "--secure-port=0",
		"--controllers", strings.Join(controllers, ","),
		"--horizontal-pod-autoscaler-sync-period=5s"); err != nil {
		return err
	}
	_, err = c.start("kube-scheduler", nil, c.tools.Path("kube-scheduler"),
		"--kubeconfig", c.KubeconfigPath, "--leader-elect=false", "--secure-port=0")
	return err
}

func (c *Cluster) start(name string, env []string, path string, args ...string) (*process, error) {
	p, err := startProcess(c.Dir, name, env, path, args...)
	if err != nil {
		return nil, err
	}
	c.processes = append(c.processes, p)
	return p, nil
}

// forget drops a process that was stopped on purpose, so that its exit is not taken for a crash.
func (c *Cluster) forget(stopped *process) {
	c.processes = slices.DeleteFunc(c.processes, func(p *process) bool { return p == stopped })
}

// waitForDefaultServiceAccount returns once the serviceaccount controller runs: pods are refused until then.
func (c *Cluster) waitForDefaultServiceAccount(ctx context.Context) error {
	return c.poll(ctx, time.Minute, "the default ServiceAccount (kube-controller-manager)", func(ctx context.Context) (bool, error) {
		_, err := c.Core.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, nil
	})
}

// poll waits for done, failing early with the log of a process that exited meanwhile.
func (c *Cluster) poll(ctx context.Context, timeout time.Duration, what string, done wait.ConditionWithContextFunc) error {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, p := range c.processes {
			if exited, perr := p.exited(); exited {
				return false, fmt.Errorf("%s exited (%v):\n%s", p.name, perr, p.logTail(3000))
			}
		}
		return done(ctx)
	})
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	return nil
}

// LogTails are the ends of every process's log, for a failing test to print.
func (c *Cluster) LogTails(n int) string {
	var b strings.Builder
	for _, p := range c.processes {
		fmt.Fprintf(&b, "--- %s (tail) ---\n%s\n", p.name, p.logTail(n))
	}
	return b.String()
}

// Stop stops Flagger, the controllers, kwok (last of them, so pods still get deleted), then the API server and
// etcd, and the stand-in; it removes the temporary folder it made.
func (c *Cluster) Stop() error {
	var errs []error
	if c.stopInformers != nil {
		close(c.stopInformers)
		c.stopInformers = nil
	}
	if c.dataPlane != nil {
		c.dataPlane.close()
		c.dataPlane = nil
	}
	for i := len(c.processes) - 1; i >= 0; i-- {
		errs = append(errs, c.processes[i].stop(10*time.Second))
	}
	c.processes = nil
	if c.apiServer != nil {
		errs = append(errs, c.apiServer.stop(30*time.Second))
		c.apiServer = nil
	}
	if c.env != nil {
		errs = append(errs, c.env.Stop())
		c.env = nil
	}
	if c.StandIn != nil {
		errs = append(errs, c.StandIn.Close())
	}
	if c.egress != nil {
		errs = append(errs, c.egress.close())
	}
	errs = append(errs, c.net.release())
	if c.removeDir {
		errs = append(errs, os.RemoveAll(c.Dir))
	}
	return errors.Join(errs...)
}

// startDataPlane watches pods, services and endpoints, and runs the pods the data plane knows.
func (c *Cluster) startDataPlane(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(c.Core, 0)
	d, err := newDataPlane(c, c.net, factory)
	if err != nil {
		return err
	}
	c.dataPlane = d
	// One Flagger and one Prometheus serve both ingresses here, in gloo-system. A Gateway API platform has its own
	// in kgateway-system, the address its stacks' MetricTemplates name: the one Prometheus answers there too.
	c.StandIn.resolve = func(host string) (string, bool) {
		if addr, ok := d.proxy.resolve(host); ok {
			return addr, true
		}
		if rest, ok := strings.CutPrefix(host, "flagger-prometheus.kgateway-system"); ok {
			return d.proxy.resolve("flagger-prometheus." + flaggerNamespace + rest)
		}
		return "", false
	}
	c.stopInformers = make(chan struct{})
	d.routes = newRouteObjects(c.Dynamic, factory.Core().V1().Services().Lister(), c.stopInformers)
	factory.Start(c.stopInformers)
	for typ, synced := range factory.WaitForCacheSync(ctx.Done()) {
		if !synced {
			return fmt.Errorf("the data plane's %v informer did not sync", typ)
		}
	}
	return nil
}

// leaveRunnablePodsToDataPlane writes a copy of kwok's pod-ready stage that skips the pods the data plane runs:
// their status comes from their processes and probes.
func (c *Cluster) leaveRunnablePodsToDataPlane(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var stage map[string]any
	if err := yaml.Unmarshal(raw, &stage); err != nil {
		return "", err
	}
	selector, _ := stage["spec"].(map[string]any)["selector"].(map[string]any)
	if selector == nil {
		return "", fmt.Errorf("%s: no spec.selector", path)
	}
	expressions, _ := selector["matchExpressions"].([]any)
	selector["matchExpressions"] = append(expressions, map[string]any{
		"key": kwokSkipsRunnable, "operator": "NotIn", "values": []any{"true"},
	})
	out, err := yaml.Marshal(stage)
	if err != nil {
		return "", err
	}
	copied := filepath.Join(c.Dir, "kwok-pod-ready.yaml")
	return copied, os.WriteFile(copied, out, 0o600)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
