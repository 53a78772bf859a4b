//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// walkthroughHost is the host of the walkthrough's VirtualService, HTTPRoute and load test.
const walkthroughHost = "podinfo.example.com"

// gatewayTarget is where a user's curl goes: the gateway proxy's address on this host (as a user's load balancer
// address) and the Host header of the test's app.
type gatewayTarget struct{ addr, host string }

// gatewayAddress is the target of the test's app through the gateway proxy in namespace.
func gatewayAddress(t *testing.T, cluster *testCluster, namespace string) gatewayTarget {
	t.Helper()
	addr, err := cluster.GatewayAddress(namespace)
	require.NoError(t, err)
	return gatewayTarget{addr: addr, host: cluster.host}
}

// curl runs the real curl with the target's Host header on path, with args before the URL.
func (g gatewayTarget) curl(ctx context.Context, path string, args ...string) ([]byte, error) {
	args = append(append([]string{"-s"}, args...), "-H", "Host: "+g.host, "http://"+g.addr+path)
	return exec.CommandContext(ctx, "curl", args...).Output()
}

// curlGateway runs the walkthrough's check, `curl -H 'Host: podinfo.example.com' <gateway><path>`, and returns
// what curl printed.
func curlGateway(ctx context.Context, t *testing.T, gateway gatewayTarget, path string) string {
	t.Helper()
	out, err := gateway.curl(ctx, path)
	require.NoError(t, err, "curl %s%s", gateway.addr, path)
	return string(out)
}

// podinfoVersion is the version in podinfo's answer to GET /.
func podinfoVersion(t *testing.T, body string) string {
	t.Helper()
	var answer struct {
		Version string `json:"version"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &answer), "podinfo's JSON: %s", body)
	return answer.Version
}

// badTraffic is the walkthrough's `watch curl -H 'Host: podinfo.example.com' <gateway>/status/500` (or
// /delay/2) with the real curl, started five times a second instead of watch's once in two seconds, so that an
// analysis interval of 10 s (the walkthrough's is 1 min) sees as many requests, until stop.
type badTraffic struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	codes  map[string]int
}

// curlArgs go before the URL, e.g. a header ("-H", "X-Canary: insider").
func sendBadTraffic(ctx context.Context, gateway gatewayTarget, path string, curlArgs ...string) *badTraffic {
	ctx, cancel := context.WithCancel(ctx)
	b := &badTraffic{cancel: cancel, done: make(chan struct{}), codes: map[string]int{}}
	go func() {
		defer close(b.done)
		var running sync.WaitGroup
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				running.Wait()
				return
			case <-tick.C:
			}
			running.Go(func() {
				out, err := gateway.curl(ctx, path, append([]string{"-o", "/dev/null", "-w", "%{http_code}"}, curlArgs...)...)
				if err == nil {
					b.mu.Lock()
					b.codes[strings.TrimSpace(string(out))]++
					b.mu.Unlock()
				}
			})
		}
	}()
	return b
}

// stop ends the loop and returns how many answers of each status code it got.
func (b *badTraffic) stop() map[string]int {
	b.cancel()
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.codes
}

// sendUserTraffic is users' requests through the gateway, five a second from Go's HTTP client (cheaper than a
// curl process each, for the scenarios that only need the traffic), with the given headers, until stop.
func sendUserTraffic(ctx context.Context, gateway gatewayTarget, path string, header http.Header) *badTraffic {
	ctx, cancel := context.WithCancel(ctx)
	b := &badTraffic{cancel: cancel, done: make(chan struct{}), codes: map[string]int{}}
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(b.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+gateway.addr+path, nil)
			if err != nil {
				continue
			}
			req.Host, req.Header = gateway.host, header.Clone()
			resp, err := client.Do(req)
			if err != nil {
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			b.mu.Lock()
			b.codes[strconv.Itoa(resp.StatusCode)]++
			b.mu.Unlock()
		}
	}()
	return b
}
