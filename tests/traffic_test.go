package tests

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/progressive-delivery/platform/internal/simcluster"
	"github.com/stretchr/testify/require"
)

// walkthroughHost is the host of the walkthrough's VirtualService, HTTPRoute and load test.
const walkthroughHost = "podinfo.example.com"

// gatewayAddress is the gateway proxy's address on this host, as a user's load balancer address.
func gatewayAddress(t *testing.T, cluster *simcluster.Cluster, namespace string) string {
	t.Helper()
	addr, err := cluster.GatewayAddress(namespace)
	require.NoError(t, err)
	return addr
}

// curlGateway runs the walkthrough's check, `curl -H 'Host: podinfo.example.com' <gateway><path>`, with the real
// curl, and returns what it printed.
func curlGateway(ctx context.Context, t *testing.T, gateway, path string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, "curl", "-s", "-H", "Host: "+walkthroughHost, "http://"+gateway+path).Output()
	require.NoError(t, err, "curl %s%s", gateway, path)
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

func sendBadTraffic(ctx context.Context, gateway, path string) *badTraffic {
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
				out, err := exec.CommandContext(ctx, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
					"-H", "Host: "+walkthroughHost, "http://"+gateway+path).Output()
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
