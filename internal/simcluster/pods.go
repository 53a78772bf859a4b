package simcluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// runnableImage matches the images the data plane runs for real; every other pod stays kwok's. The group names the
// image; its tag picks podinfo's binary (tools.sh stamps one per tag).
var runnableImage = regexp.MustCompile(`(?:^|/)(podinfo|flagger-loadtester|prometheus|gloo-envoy-wrapper|envoy-wrapper):([^/:@]+)$`)

// kwokSkipsRunnable is the kwok stage selector expression (gojq) that leaves those pods to the data plane.
var kwokSkipsRunnable = `.spec.containers | map(.image | test("` + runnableImage.String() + `")) | any`

// serviceAccountDir is where a pod's service-account token, CA and namespace are mounted.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// sandboxScript starts a pod's process (or a probe's command) in mount and UTS namespaces of its own, where
// /etc/hosts is the pod's (its own address as localhost, the cluster's services by name), the host name is the
// pod's, the service account is at its usual path and the volumes at their mount paths. With a network namespace
// of its own, the pod addresses the API knows (10.N.0.0/16) are local there. A mount path missing on this machine
// is made inside an overlay of its nearest folder, whose changes go to the pod's folder: nothing is written
// outside it. Arguments: hosts file, host name, service-account folder, working folder, the local prefix or "",
// number of overlays, then folder/upper/work triples, number of mounts, then source/target pairs, then the
// command.
const sandboxScript = `set -e
hosts=$1 name=$2 sa=$3 workdir=$4 local=$5 n=$6; shift 6
while [ "$n" -gt 0 ]; do
  mount -t overlay simcluster -o "lowerdir=$1,upperdir=$2,workdir=$3" "$1"; shift 3; n=$((n-1))
done
n=$1; shift
if [ -n "$local" ]; then
  ip link set lo up
  ip route add local "$local" dev lo table local
fi
mount --bind "$hosts" /etc/hosts
[ -z "$name" ] || hostname "$name"
if [ -n "$sa" ]; then
  mount -t tmpfs -o size=1m simcluster /run
  mkdir -p /run/secrets/kubernetes.io/serviceaccount
  mount --bind "$sa" /run/secrets/kubernetes.io/serviceaccount
fi
cd "$workdir"
while [ "$n" -gt 0 ]; do mkdir -p "$2"; mount --bind "$1" "$2"; shift 2; n=$((n-1)); done
exec "$@"
`

type mount struct{ source, target string }

type overlay struct{ dir, upper, work string }

// sandbox is where one process runs.
type sandbox struct {
	hostsPath, hostname, serviceAccount, workdir string
	overlays                                     []overlay
	mounts                                       []mount
	// ownNetwork gives the process a network namespace in which this prefix is local.
	ownNetwork netip.Prefix
}

func (s sandbox) command(argv []string) (string, []string) {
	args := []string{"--mount", "--uts", "--propagation", "private"}
	local := ""
	if s.ownNetwork.IsValid() {
		args, local = append(args, "--net"), s.ownNetwork.String()
	}
	args = append(args, "sh", "-c", sandboxScript, "sandbox",
		s.hostsPath, s.hostname, s.serviceAccount, s.workdir, local, strconv.Itoa(len(s.overlays)))
	for _, o := range s.overlays {
		args = append(args, o.dir, o.upper, o.work)
	}
	args = append(args, strconv.Itoa(len(s.mounts)))
	for _, m := range s.mounts {
		args = append(args, m.source, m.target)
	}
	return "unshare", append(args, argv...)
}

// dataPlane plays the kubelet of the fake nodes for the pods whose image it knows: podinfo, Flagger's load
// tester and Prometheus run as real processes at the pod's own loopback address, with the container's command,
// args, env and volumes, and their Ready condition comes from their own readiness probe; the gateway's pod runs
// the gateway stand-in in this process.
type dataPlane struct {
	c      *Cluster
	net    *network
	proxy  *serviceProxy
	routes *routeObjects

	mu    sync.Mutex
	pods  map[types.UID]*simPod
	hosts map[string]hostsFile // path -> what it holds

	// cpu is the CPU time (user and system) of the pods' processes that have ended.
	cpu time.Duration

	netMu    sync.Mutex
	exposed  map[types.UID]exposedPod
	isolated map[types.UID]*isolatedPod
}

type hostsFile struct {
	namespace, pod string
	self           netip.Addr
}

type simPod struct {
	namespace, name string
	uid             types.UID
	// ip is the pod's address on this host, apiIP the one the API knows.
	ip, apiIP netip.Addr
	dir       string
	cancel    context.CancelFunc
	done      chan struct{}
	// current is the running process, if any.
	current atomic.Pointer[process]
}

func newDataPlane(c *Cluster, n *network, factory informers.SharedInformerFactory) (*dataPlane, error) {
	d := &dataPlane{c: c, net: n, pods: map[types.UID]*simPod{}, hosts: map[string]hostsFile{},
		exposed: map[types.UID]exposedPod{}, isolated: map[types.UID]*isolatedPod{}}
	var err error
	if d.proxy, err = newServiceProxy(n, factory, d.writeHostsFiles); err != nil {
		return nil, err
	}
	_, err = factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { d.sync(obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { d.sync(obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				d.stopPod(pod.UID)
			}
		},
	})
	return d, err
}

// sync starts a pod that was bound to a node and runs an image the data plane knows, and stops one being deleted.
func (d *dataPlane) sync(pod *corev1.Pod) {
	if pod.DeletionTimestamp != nil {
		d.stopPod(pod.UID)
		return
	}
	if pod.Spec.NodeName == "" || len(pod.Spec.Containers) == 0 || !runnableImage.MatchString(pod.Spec.Containers[0].Image) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pods == nil || d.pods[pod.UID] != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &simPod{namespace: pod.Namespace, name: pod.Name, uid: pod.UID, ip: d.net.podIP(), cancel: cancel, done: make(chan struct{}),
		dir: podDir(d.c.Dir, pod.Namespace, pod.Name)}
	p.apiIP = d.net.apiAddr(p.ip)
	d.pods[pod.UID] = p
	go func() {
		defer close(p.done)
		d.run(ctx, p, pod.DeepCopy())
	}()
}

func (d *dataPlane) stopPod(uid types.UID) {
	d.mu.Lock()
	p := d.pods[uid]
	delete(d.pods, uid)
	d.mu.Unlock()
	if p != nil {
		p.cancel()
		<-p.done
	}
}

func (d *dataPlane) close() {
	d.mu.Lock()
	pods := d.pods
	d.pods = nil
	d.mu.Unlock()
	for _, p := range pods {
		p.cancel()
		<-p.done
	}
	d.proxy.close()
}

func (d *dataPlane) addCPU(proc *process) {
	if done, _ := proc.exited(); !done || proc.cmd.ProcessState == nil {
		return
	}
	d.mu.Lock()
	d.cpu += proc.cmd.ProcessState.UserTime() + proc.cmd.ProcessState.SystemTime()
	d.mu.Unlock()
}

// DataPlaneCPU is the CPU time (user and system) the pods' processes have used so far: podinfo, the load tester
// with the hey and curl it ran, Prometheus. The gateway stand-in runs in this process and is not counted.
func (c *Cluster) DataPlaneCPU() time.Duration {
	d := c.dataPlane
	if d == nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	total := d.cpu
	for _, p := range d.pods {
		if proc := p.current.Load(); proc != nil {
			total += liveCPU(proc.cmd.Process.Pid)
		}
	}
	return total
}

// liveCPU reads a running process's CPU time and its reaped children's from /proc (utime, stime, cutime, cstime
// in clock ticks of 1/100 s).
func liveCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	var ticks int64
	for _, i := range []int{11, 12, 13, 14} { // utime, stime, cutime, cstime are fields 14-17
		if i < len(fields) {
			n, _ := strconv.ParseInt(fields[i], 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// podDir is where a pod's volumes, hosts file and container.log are.
func podDir(clusterDir, namespace, name string) string {
	return filepath.Join(clusterDir, "pods", namespace+"_"+name)
}

// PodLog is the output of the running (or last) process of a pod the data plane ran, for tests to read.
func (c *Cluster) PodLog(namespace, name string) string {
	b, _ := os.ReadFile(filepath.Join(podDir(c.Dir, namespace, name), "container.log"))
	return string(b)
}

// writeHostsFiles rewrites every hosts file in place: the bind mounts point at the files, so a rename would
// leave the pods on the old one. Go re-reads /etc/hosts when its modification time changes, glibc at every lookup.
func (d *dataPlane) writeHostsFiles() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for path, h := range d.hosts {
		_ = d.writeHosts(path, h)
	}
}

func (d *dataPlane) writeHosts(path string, h hostsFile) error {
	return os.WriteFile(path, []byte(d.proxy.hosts(h.namespace, h.pod, h.self)), 0o644)
}

func (d *dataPlane) newHostsFile(path, namespace, pod string, self netip.Addr) error {
	h := hostsFile{namespace: namespace, pod: pod, self: self}
	d.mu.Lock()
	d.hosts[path] = h
	d.mu.Unlock()
	return d.writeHosts(path, h)
}

// run prepares the pod, reports it Running at its address and keeps its process running (restarting it when it
// exits, as restartPolicy Always does) with Ready following the readiness probe, until ctx ends.
func (d *dataPlane) run(ctx context.Context, p *simPod, pod *corev1.Pod) {
	container := pod.Spec.Containers[0]
	fail := func(reason string, err error) {
		_ = d.setStatus(ctx, p, pod, containerWaiting(container, reason, err.Error()), false)
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		fail("CreateContainerError", err)
		return
	}
	hostsPath := filepath.Join(p.dir, "hosts")
	if err := d.newHostsFile(hostsPath, p.namespace, p.name, p.ip); err != nil {
		fail("CreateContainerError", err)
		return
	}
	defer func() {
		d.mu.Lock()
		delete(d.hosts, hostsPath)
		d.mu.Unlock()
	}()
	image := runnableImage.FindStringSubmatch(container.Image)
	if image[1] == "gloo-envoy-wrapper" || image[1] == "envoy-wrapper" {
		d.runGateway(ctx, p, pod, container)
		return
	}
	argv, workdir, err := d.entrypoint(image[1], image[2], container, p.ip)
	if err != nil {
		fail("ErrImagePull", err)
		return
	}
	box, ok := d.prepareUntilDone(ctx, p, pod, container, workdir, hostsPath)
	if !ok {
		return
	}
	if workdir != "" {
		box.workdir = filepath.Join(p.dir, "rootfs", workdir)
	}
	if image[1] == "prometheus" {
		box.ownNetwork = d.net.apiPrefix()
	}
	env := d.env(p, pod, container)
	var restarts int32
	for backoff := time.Second; ; backoff = min(2*backoff, 10*time.Second) {
		path, args := box.command(argv)
		proc, err := startProcess(p.dir, "container", env, path, args...)
		if err != nil {
			fail("RunContainerError", err)
			return
		}
		p.current.Store(proc)
		started := metav1.Now()
		if box.ownNetwork.IsValid() {
			if err := d.joinNetwork(p, container, proc); err != nil {
				_ = proc.stop(5 * time.Second)
				fail("RunContainerError", err)
				return
			}
		}
		d.expose(p, container)
		_ = d.setStatus(ctx, p, pod, containerRunning(container, started, restarts, false), false)
		exited := d.probeUntilExit(ctx, p, pod, container, proc, started, restarts)
		d.unexpose(p.uid)
		if !exited {
			_ = proc.stop(5 * time.Second)
		}
		p.current.Store(nil)
		d.addCPU(proc)
		if !exited {
			return
		}
		restarts++
		_ = d.setStatus(ctx, p, pod, containerWaiting(container, "CrashLoopBackOff",
			fmt.Sprintf("exited (%v):\n%s", proc.err, proc.logTail(2000))), false)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// prepareUntilDone retries prepare until it succeeds or ctx ends (false), as the kubelet retries a pod's sync: a
// volume's ConfigMap may come after the pod, and the service-account token needs the API server, which may be
// away for a while (a pod given up then stays Pending for good).
func (d *dataPlane) prepareUntilDone(ctx context.Context, p *simPod, pod *corev1.Pod, container corev1.Container, workdir, hostsPath string) (sandbox, bool) {
	for backoff := time.Second; ; backoff = min(2*backoff, 10*time.Second) {
		box, err := d.prepare(ctx, p, pod, container, workdir, hostsPath)
		if err == nil {
			return box, true
		}
		_ = d.setStatus(ctx, p, pod, containerWaiting(container, "CreateContainerConfigError", err.Error()), false)
		select {
		case <-ctx.Done():
			return box, false
		case <-time.After(backoff):
		}
	}
}

// probeUntilExit runs the readiness probe until the process exits (true) or ctx ends (false), reporting Ready as
// the probe's thresholds decide. Probes run every min(periodSeconds, 2 s), so that tests wait less.
func (d *dataPlane) probeUntilExit(ctx context.Context, p *simPod, pod *corev1.Pod, container corev1.Container, proc *process, started metav1.Time, restarts int32) bool {
	probe := container.ReadinessProbe
	// reported is whether the API server has ready: a status the server did not take (it was away) is sent
	// again at the next probe.
	ready, reported := false, false
	report := func(r bool) {
		if r != ready || !reported {
			ready = r
			reported = d.setStatus(ctx, p, pod, containerRunning(container, started, restarts, r), r) == nil
		}
	}
	if probe == nil {
		for {
			report(true)
			select {
			case <-proc.done:
				return true
			case <-ctx.Done():
				return false
			case <-time.After(2 * time.Second):
			}
		}
	}
	// periodSeconds defaults to 10 in the API.
	period := min(time.Duration(cmp.Or(probe.PeriodSeconds, 10))*time.Second, 2*time.Second)
	next := time.After(time.Duration(probe.InitialDelaySeconds) * time.Second)
	successes, failures := int32(0), int32(0)
	for {
		select {
		case <-proc.done:
			return true
		case <-ctx.Done():
			return false
		case <-next:
		}
		if d.probe(ctx, p, pod, container, probe) {
			successes, failures = successes+1, 0
			if successes >= max(probe.SuccessThreshold, 1) {
				report(true)
			}
		} else {
			successes, failures = 0, failures+1
			if failures >= max(probe.FailureThreshold, 1) || !ready {
				report(false)
			} else if !reported {
				report(ready)
			}
		}
		next = time.After(period)
	}
}

// probe runs one readiness check against the pod: an HTTP GET, a TCP connect, or a command in the pod's sandbox.
func (d *dataPlane) probe(ctx context.Context, p *simPod, pod *corev1.Pod, container corev1.Container, probe *corev1.Probe) bool {
	timeout := time.Duration(max(probe.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case probe.HTTPGet != nil:
		port, err := containerPort(container, probe.HTTPGet.Port)
		if err != nil {
			return false
		}
		host := probe.HTTPGet.Host
		if host == "" {
			host = p.ip.String()
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, strconv.Itoa(int(port)))+probe.HTTPGet.Path, nil)
		if err != nil {
			return false
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode >= 200 && resp.StatusCode < 400
	case probe.TCPSocket != nil:
		port, err := containerPort(container, probe.TCPSocket.Port)
		if err != nil {
			return false
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(p.ip.String(), strconv.Itoa(int(port))))
		if err != nil {
			return false
		}
		conn.Close()
		return true
	case probe.Exec != nil:
		argv := probe.Exec.Command
		if len(argv) > 0 && argv[0] == "podcli" {
			argv = append([]string{d.c.tools.Path("podcli")}, argv[1:]...)
		}
		box := sandbox{hostsPath: filepath.Join(p.dir, "hosts"), hostname: p.name, workdir: p.dir}
		path, args := box.command(argv)
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Env = d.env(p, pod, container)
		return cmd.Run() == nil
	}
	return true
}

func containerPort(c corev1.Container, port intstr.IntOrString) (int32, error) {
	if port.Type == intstr.Int {
		return port.IntVal, nil
	}
	for _, cp := range c.Ports {
		if cp.Name == port.StrVal {
			return cp.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %s", c.Name, port.StrVal)
}

// entrypoint is the command line the image would run, with this machine's binary, and the image's working folder
// where it matters. Listeners bind the pod's address: pods share this host's network namespace.
func (d *dataPlane) entrypoint(image, tag string, c corev1.Container, ip netip.Addr) (argv []string, workdir string, err error) {
	line := append(append([]string{}, c.Command...), c.Args...)
	binary := func(name string) (string, error) {
		path := d.c.tools.Path(name)
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("image %s: no %s in the tools folder (tools.sh builds podinfo for the tags it lists)", c.Image, name)
		}
		return path, nil
	}
	switch image {
	case "podinfo":
		path, err := binary("podinfo-" + tag)
		if err != nil {
			return nil, "", err
		}
		if len(line) == 0 || filepath.Base(line[0]) != "podinfo" {
			line = append([]string{"./podinfo"}, line...)
		}
		return append(append([]string{path}, line[1:]...), "--host="+ip.String()), "", nil
	case "flagger-loadtester":
		path, err := binary("flagger-loadtester")
		if err != nil {
			return nil, "", err
		}
		if len(line) == 0 || filepath.Base(line[0]) != "loadtester" {
			line = append([]string{"./loadtester"}, line...)
		}
		return append([]string{path}, line[1:]...), "", nil
	case "prometheus":
		path, err := binary("prometheus")
		if err != nil {
			return nil, "", err
		}
		if len(c.Command) > 0 {
			return nil, "", errors.New("prometheus: a command other than the image's entrypoint is not supported")
		}
		// The image's entrypoint is /bin/prometheus in WORKDIR /prometheus (so data/ is /prometheus/data). It
		// listens on every address, which in its own network namespace are its alone.
		args := slices.Clone(c.Args)
		for i, a := range args {
			// Older Flagger charts pass Prometheus 2's alias of this flag, which Prometheus 3 dropped; the module
			// proxy serves Prometheus 3 only.
			if v, ok := strings.CutPrefix(a, "--storage.tsdb.retention="); ok {
				args[i] = "--storage.tsdb.retention.time=" + v
			}
		}
		return append([]string{path}, args...), "/prometheus", nil
	}
	return nil, "", fmt.Errorf("image %s is not one the data plane runs", c.Image)
}

// env is the container's environment, as the kubelet gives it, with the address the patched listeners bind.
func (d *dataPlane) env(p *simPod, pod *corev1.Pod, c corev1.Container) []string {
	host, port, _ := net.SplitHostPort(d.c.apiServerHostPort())
	env := []string{
		"PATH=" + d.c.tools.Bin + ":/usr/local/bin:/usr/bin:/bin", "HOME=" + p.dir, "HOSTNAME=" + p.name,
		"SIMCLUSTER_POD_IP=" + p.ip.String(), "KUBERNETES_SERVICE_HOST=" + host, "KUBERNETES_SERVICE_PORT=" + port,
	}
	for _, e := range c.Env {
		value := e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			switch e.ValueFrom.FieldRef.FieldPath {
			case "metadata.name":
				value = pod.Name
			case "metadata.namespace":
				value = pod.Namespace
			case "status.podIP":
				value = p.apiIP.String()
			case "spec.nodeName":
				value = pod.Spec.NodeName
			}
		}
		env = append(env, e.Name+"="+value)
	}
	return env
}

// prepare writes the pod's volumes (ConfigMaps, emptyDirs, the projected service-account token) and says where
// each is mounted. A mount path under the image's working folder is made there; any other is bind-mounted in the
// sandbox, inside an overlay of its nearest existing folder when it does not exist on this machine.
func (d *dataPlane) prepare(ctx context.Context, p *simPod, pod *corev1.Pod, c corev1.Container, workdir, hostsPath string) (sandbox, error) {
	box := sandbox{hostsPath: hostsPath, hostname: p.name, workdir: p.dir}
	volumes := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(p.dir, "volumes", v.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return box, err
		}
		volumes[v.Name] = dir
		switch {
		case v.EmptyDir != nil:
		case v.ConfigMap != nil:
			cm, err := d.c.Core.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if err != nil {
				return box, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			for key, value := range cm.Data {
				if err := os.WriteFile(filepath.Join(dir, key), []byte(value), 0o644); err != nil {
					return box, err
				}
			}
		case v.Projected != nil:
			if err := d.writeServiceAccount(ctx, pod, dir); err != nil {
				return box, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		default:
			return box, fmt.Errorf("volume %s: only emptyDir, configMap and the service-account volume are simulated", v.Name)
		}
	}
	for _, m := range c.VolumeMounts {
		source := volumes[m.Name]
		if isUnder(d.c.tools.Bin, m.MountPath) {
			// A volume over a folder holding the tools (a tools cache under /tmp) would hide the pod's own
			// binaries: the process keeps that folder of this machine instead.
			continue
		}
		switch {
		case m.MountPath == serviceAccountDir:
			box.serviceAccount = source
		case workdir == "" || !strings.HasPrefix(m.MountPath, workdir+"/"):
			if !exists(m.MountPath) {
				parent := filepath.Dir(m.MountPath)
				for !exists(parent) {
					parent = filepath.Dir(parent)
				}
				if parent == "/" {
					return box, fmt.Errorf("mount %s: a new top-level folder cannot be simulated", m.MountPath)
				}
				if !slices.ContainsFunc(box.overlays, func(o overlay) bool { return o.dir == parent }) {
					layer := filepath.Join(p.dir, "overlays", strings.ReplaceAll(strings.Trim(parent, "/"), "/", "_"))
					o := overlay{dir: parent, upper: filepath.Join(layer, "upper"), work: filepath.Join(layer, "work")}
					for _, dir := range []string{o.upper, o.work} {
						if err := os.MkdirAll(dir, 0o755); err != nil {
							return box, err
						}
					}
					box.overlays = append(box.overlays, o)
				}
			}
			box.mounts = append(box.mounts, mount{source: source, target: m.MountPath})
		default:
			target := filepath.Join(p.dir, "rootfs", m.MountPath)
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return box, err
			}
			if err := os.Symlink(source, target); err != nil && !os.IsExist(err) {
				return box, err
			}
		}
	}
	// A mount over a folder that holds the pod's own (/tmp holds the test's temporary folders) goes last, so that it
	// hides no source of another; the sandbox enters the working folder before mounting.
	slices.SortStableFunc(box.mounts, func(a, b mount) int {
		return cmpBool(isUnder(p.dir, a.target), isUnder(p.dir, b.target))
	})
	return box, nil
}

func isUnder(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// writeServiceAccount writes what the kube-api-access volume holds: a token of the pod's service account bound to
// the pod (TokenRequest), the cluster CA and the namespace.
func (d *dataPlane) writeServiceAccount(ctx context.Context, pod *corev1.Pod, dir string) error {
	expiry := int64(3600)
	token, err := d.c.Core.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: &expiry,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("service-account token: %w", err)
	}
	for name, content := range map[string][]byte{"token": []byte(token.Status.Token), "ca.crt": d.c.Config.CAData, "namespace": []byte(pod.Namespace)} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// setStatus reports the pod Running at its address with the container's state and Ready as given.
func (d *dataPlane) setStatus(ctx context.Context, p *simPod, pod *corev1.Pod, state corev1.ContainerStatus, ready bool) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := d.c.Core.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		if current.UID != p.uid || current.DeletionTimestamp != nil {
			return nil
		}
		now := metav1.Now()
		s := &current.Status
		s.Phase = corev1.PodRunning
		s.PodIP, s.PodIPs = p.apiIP.String(), []corev1.PodIP{{IP: p.apiIP.String()}}
		s.HostIP, s.HostIPs = "127.0.0.1", []corev1.HostIP{{IP: "127.0.0.1"}}
		if s.StartTime == nil {
			s.StartTime = &now
		}
		s.ContainerStatuses = []corev1.ContainerStatus{state}
		readyStatus := corev1.ConditionFalse
		if ready {
			readyStatus = corev1.ConditionTrue
		}
		setCondition(s, corev1.PodInitialized, corev1.ConditionTrue, now)
		setCondition(s, corev1.ContainersReady, readyStatus, now)
		setCondition(s, corev1.PodReady, readyStatus, now)
		_, err = d.c.Core.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, current, metav1.UpdateOptions{})
		return err
	})
}

func setCondition(s *corev1.PodStatus, t corev1.PodConditionType, status corev1.ConditionStatus, now metav1.Time) {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			if s.Conditions[i].Status != status {
				s.Conditions[i].Status, s.Conditions[i].LastTransitionTime = status, now
			}
			return
		}
	}
	s.Conditions = append(s.Conditions, corev1.PodCondition{Type: t, Status: status, LastTransitionTime: now})
}

func containerRunning(c corev1.Container, started metav1.Time, restarts int32, ready bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: ready, RestartCount: restarts, Started: &ready,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}
}

func containerWaiting(c corev1.Container, reason, message string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: c.Name, Image: c.Image,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}}
}
