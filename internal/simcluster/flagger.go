package simcluster

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// FlaggerOptions configures the Flagger controller.
type FlaggerOptions struct {
	// Chart is the Flagger chart the stack pins, with the program's values: its Prometheus runs in the cluster.
	Chart FlaggerChart
	// MetricsServer is the Prometheus URL of the built-in checks; default the in-cluster address the Flagger
	// chart with Gloo sets (its own Prometheus).
	MetricsServer string
	// ExtraArgs are more flags (e.g. -event-webhook).
	ExtraArgs []string
}

// MetricsServerURL is where Flagger's Prometheus would be in the cluster (the Flagger chart's own Prometheus).
const MetricsServerURL = "http://flagger-prometheus.gloo-system:9090"

// StartFlagger starts what Flagger works with — each ingress's gateway proxy (the gateway stand-in) and the
// Flagger chart's Prometheus — then runs the real Flagger controller with meshProvider gloo. Flagger's HTTP
// clients (webhooks, Prometheus, Datadog, CloudWatch, Slack) honour HTTP_PROXY and HTTPS_PROXY and Go sends only
// loopback destinations direct, so every URL it calls reaches the stand-in, which passes in-cluster hosts on to
// their services (the load tester, Prometheus) and plays the outside APIs; the API server (on loopback) is
// reached directly.
func (c *Cluster) StartFlagger(ctx context.Context, o FlaggerOptions) error {
	if err := c.startPlatform(ctx, o.Chart); err != nil {
		return err
	}
	if o.MetricsServer == "" {
		o.MetricsServer = MetricsServerURL
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	_, c.flaggerPort, _ = net.SplitHostPort(addr)
	c.flaggerArgs = append([]string{"-kubeconfig", c.KubeconfigPath, "-mesh-provider=gloo",
		"-metrics-server=" + o.MetricsServer, "-port=" + c.flaggerPort, "-enable-leader-election=false",
		"-control-loop-interval=2s", "-log-level=info"}, o.ExtraArgs...)
	return c.runFlagger(ctx)
}

// RestartFlagger kills Flagger (as a crash would) and starts it again with the same flags.
func (c *Cluster) RestartFlagger(ctx context.Context) error {
	if c.flagger == nil {
		return errors.New("flagger is not running")
	}
	if err := c.flagger.kill(); err != nil {
		return err
	}
	c.forget(c.flagger)
	return c.runFlagger(ctx)
}

func (c *Cluster) runFlagger(ctx context.Context) error {
	env := []string{"HTTP_PROXY=" + c.StandIn.URL, "http_proxy=" + c.StandIn.URL, "NO_PROXY=", "no_proxy=",
		// Datadog, CloudWatch and Slack are HTTPS: tunnelled to the stand-in, whose CA Flagger trusts alone.
		"HTTPS_PROXY=" + c.StandIn.URL, "https_proxy=" + c.StandIn.URL, "SSL_CERT_FILE=" + c.StandIn.CAFile,
		"AWS_CA_BUNDLE=" + c.StandIn.CAFile,
		// What IRSA gives Flagger on EKS; the stand-in only reads the signature's scope.
		"AWS_ACCESS_KEY_ID=STANDINACCESSKEY", "AWS_SECRET_ACCESS_KEY=stand-in-secret", "AWS_EC2_METADATA_DISABLED=true"}
	p, err := c.start("flagger", env, c.tools.Path("flagger"), c.flaggerArgs...)
	if err != nil {
		return err
	}
	c.flagger = p
	client := &http.Client{Timeout: 2 * time.Second}
	return c.poll(ctx, time.Minute, "flagger /healthz", func(context.Context) (bool, error) {
		resp, err := client.Get("http://127.0.0.1:" + c.flaggerPort + "/healthz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// FlaggerLog is Flagger's log so far.
func (c *Cluster) FlaggerLog() string {
	if c.flagger == nil {
		return ""
	}
	return c.flagger.logTail(1 << 20)
}
