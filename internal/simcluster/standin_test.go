package simcluster

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// viaProxy sends a request for an in-cluster URL through the stand-in as Flagger does (HTTP_PROXY).
func viaProxy(t *testing.T, s *StandIn, method, target, body string) *http.Response {
	t.Helper()
	proxy, err := url.Parse(s.URL)
	require.NoError(t, err)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestStandIn_ForwardsInClusterHostsAndRecordsWhatFlaggerSent: a request for an in-cluster service (Prometheus,
// the load tester) goes on to the service's address, whose answer Flagger gets; the stand-in records the query's
// text and the webhook's command. A host that is neither in the cluster nor an API the stand-in plays gets 404.
func TestStandIn_ForwardsInClusterHostsAndRecordsWhatFlaggerSent(t *testing.T) {
	t.Parallel()
	var got []string
	var mu sync.Mutex
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.Host+" "+r.URL.RequestURI()+" "+string(body))
		mu.Unlock()
		_, _ = io.WriteString(w, "from the service")
	}))
	defer backend.Close()
	s, err := StartStandIn("", GoodMetrics)
	require.NoError(t, err)
	defer s.Close()
	s.resolve = func(host string) (string, bool) {
		if host == "flagger-prometheus.gloo-system:9090" || host == "flagger-loadtester.apps" {
			return strings.TrimPrefix(backend.URL, "http://"), true
		}
		return "", false
	}
	successRate := `sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name=~"apps-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",envoy_response_code!~"5.*"}[1m]))`
	resp := viaProxy(t, s, http.MethodGet, MetricsServerURL+"/api/v1/query?query="+url.QueryEscape(successRate), "")
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "from the service", string(body), "the answer is the service's")
	webhook := `{"name":"podinfo","namespace":"apps","phase":"Progressing","metadata":{"type":"cmd","cmd":"hey -z 2m"}}`
	resp = viaProxy(t, s, http.MethodPost, "http://flagger-loadtester.apps/", webhook)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, http.StatusNotFound, viaProxy(t, s, http.MethodGet, "http://nowhere.example.com/", "").StatusCode)

	mu.Lock()
	assert.Equal(t, []string{
		"GET flagger-prometheus.gloo-system:9090 /api/v1/query?query=" + url.QueryEscape(successRate) + " ",
		"POST flagger-loadtester.apps / " + webhook,
	}, got, "each request reached the service unchanged, Host included")
	mu.Unlock()
	calls := s.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, Call{Host: "flagger-prometheus.gloo-system:9090", Kind: "query", Provider: "prometheus", Name: "request-success-rate",
		Query: successRate, At: calls[0].At}, calls[0])
	assert.Equal(t, Call{Host: "flagger-loadtester.apps", Kind: "webhook", Name: "podinfo", Command: "hey -z 2m", Phase: "Progressing",
		At: calls[1].At}, calls[1])
}

func TestStandIn_PortInUseIsSaidPlainly(t *testing.T) {
	t.Parallel()
	first, err := StartStandIn("", GoodMetrics)
	require.NoError(t, err)
	defer first.Close()
	_, err = StartStandIn(strings.TrimPrefix(first.URL, "http://"), GoodMetrics)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is in use by another process")
}
