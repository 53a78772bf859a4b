package simcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// gatewayProxies are the namespaces of each ingress's gateway proxy and the image the data plane runs the
// gateway stand-in for (tagged as what it is).
var gatewayProxies = map[string]string{
	"gloo-system":     "quay.io/solo-io/gloo-envoy-wrapper:stand-in",
	"kgateway-system": "cr.kgateway.dev/kgateway-dev/envoy-wrapper:stand-in",
}

// FlaggerChart is the Flagger chart the stack pins and the values the program installs it with.
type FlaggerChart struct {
	Version string
	Values  map[string]any
}

// startPlatform puts onto the cluster what the platform install would and the tests need: each ingress's
// gateway proxy (the gateway stand-in, as a pod behind the gateway-proxy Service, with the Gloo chart's
// Prometheus annotations) and the Prometheus of the Flagger chart the dev stack pins, rendered with the program's
// own Flagger values, in Flagger's namespace.
func (c *Cluster) startPlatform(ctx context.Context, chart FlaggerChart) error {
	if chart.Version == "" {
		return fmt.Errorf("the Flagger chart's version is required (the stack's flaggerChartVersion)")
	}
	for namespace, image := range gatewayProxies {
		if err := c.startGatewayProxy(ctx, namespace, image); err != nil {
			return err
		}
	}
	charts, err := ChartsDir()
	if err != nil {
		return err
	}
	version := chart.Version
	rendered, err := RenderChart(filepath.Join(charts, "flagger-"+version), "flagger", flaggerNamespace, chart.Values)
	if err != nil {
		return fmt.Errorf("rendering the Flagger chart %s: %w", version, err)
	}
	manifest, ok := rendered["flagger/templates/prometheus.yaml"]
	if !ok {
		return fmt.Errorf("the Flagger chart %s has no templates/prometheus.yaml", version)
	}
	if err := c.applyManifest(ctx, manifest); err != nil {
		return fmt.Errorf("applying the Flagger chart's Prometheus: %w", err)
	}
	return c.waitForReady(ctx, flaggerNamespace, "flagger-prometheus")
}

// flaggerNamespace is where the walkthrough installs Flagger (with Gloo), so where its Prometheus runs.
const flaggerNamespace = "gloo-system"

func (c *Cluster) ensureNamespace(ctx context.Context, name string) error {
	_, err := c.Core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (c *Cluster) startGatewayProxy(ctx context.Context, namespace, image string) error {
	if err := c.ensureNamespace(ctx, namespace); err != nil {
		return err
	}
	labels := map[string]string{"gloo": "gateway-proxy", "gateway-proxy-id": "gateway-proxy"}
	deployment := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "gateway-proxy", Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					"prometheus.io/path": "/metrics", "prometheus.io/port": fmt.Sprint(gatewayMetricsPort), "prometheus.io/scrape": "true",
				}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "gateway-proxy", Image: image,
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: gatewayHTTPPort}, {Name: "http-monitoring", ContainerPort: gatewayMetricsPort}},
				}}},
			},
		},
	}
	if _, err := c.Core.AppsV1().Deployments(namespace).Create(ctx, deployment, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	service := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "gateway-proxy", Namespace: namespace, Labels: labels},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromInt32(gatewayHTTPPort)},
		}},
	}
	if _, err := c.Core.CoreV1().Services(namespace).Create(ctx, service, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return c.waitForReady(ctx, namespace, "gateway-proxy")
}

// waitForReady waits until the Deployment has all its replicas available; if it does not, the error shows its
// pods' states and logs.
func (c *Cluster) waitForReady(ctx context.Context, namespace, name string) error {
	err := c.poll(ctx, 2*time.Minute, "deployment "+namespace+"/"+name+" available", func(ctx context.Context) (bool, error) {
		d, err := c.Core.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return d.Spec.Replicas != nil && d.Status.AvailableReplicas == *d.Spec.Replicas, nil
	})
	if err != nil {
		err = fmt.Errorf("%w\n%s", err, c.PodStates(context.Background(), namespace))
	}
	return err
}

// PodStates describes every pod of namespace (phase, Ready, container state) with the end of its log, for
// failure messages.
func (c *Cluster) PodStates(ctx context.Context, namespace string) string {
	pods, err := c.Core.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		ready := "?"
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady {
				ready = string(cond.Status)
			}
		}
		fmt.Fprintf(&b, "pod %s/%s: %s, Ready %s, IP %s\n", p.Namespace, p.Name, p.Status.Phase, ready, p.Status.PodIP)
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil {
				fmt.Fprintf(&b, "  %s waiting: %s: %s\n", cs.Name, w.Reason, w.Message)
			}
		}
		if log := c.PodLog(p.Namespace, p.Name); log != "" {
			fmt.Fprintf(&b, "  log (tail):\n%s\n", log[max(0, len(log)-1500):])
		}
	}
	return b.String()
}

// apiServerHostPort is the API server's host:port.
func (c *Cluster) apiServerHostPort() string {
	u, err := url.Parse(c.Config.Host)
	if err != nil || u.Host == "" {
		return strings.TrimSuffix(strings.TrimPrefix(c.Config.Host, "https://"), "/")
	}
	return u.Host
}

// GatewayAddress is where the gateway-proxy Service of namespace (gloo-system, kgateway-system) answers on this
// host: what a user's load balancer address is.
func (c *Cluster) GatewayAddress(namespace string) (string, error) {
	if c.dataPlane == nil {
		return "", fmt.Errorf("the cluster is not running")
	}
	addr, ok := c.dataPlane.proxy.resolve("gateway-proxy." + namespace + ":80")
	if !ok {
		return "", fmt.Errorf("no gateway-proxy Service in %s", namespace)
	}
	return addr, nil
}

// GatewayCounters is what the gateway stand-in in namespace reports to Prometheus for the Envoy clusters whose
// name contains match (a canary's upstreams), one line per series: when a canary finds "no values", it tells
// whether traffic reached the gateway, which cluster it went to and what it answered.
func (c *Cluster) GatewayCounters(ctx context.Context, namespace, match string) (string, error) {
	if c.dataPlane == nil {
		return "", fmt.Errorf("the cluster is not running")
	}
	pods, err := c.Core.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "gloo=gateway-proxy"})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, pod := range pods.Items {
		ip, err := netip.ParseAddr(pod.Status.PodIP)
		if err != nil {
			continue
		}
		addr := netip.AddrPortFrom(c.dataPlane.proxy.net.hostAddr(ip), gatewayMetricsPort)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr.String()+"/metrics", nil)
		if err != nil {
			return "", err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", pod.Name, err)
			continue
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return "", err
		}
		for line := range strings.Lines(string(body)) {
			if strings.HasPrefix(line, "envoy_cluster_upstream_rq{") && strings.Contains(line, match) {
				b.WriteString(line)
			}
		}
	}
	return b.String(), nil
}
