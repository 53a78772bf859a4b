package simcluster

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
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

// sample is the one value of a Prometheus vector answer, or "" when it has none.
func sample(t *testing.T, resp *http.Response) string {
	t.Helper()
	var answer struct {
		Status string
		Data   struct{ Result []struct{ Value []any } }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&answer))
	require.Equal(t, "success", answer.Status)
	if len(answer.Data.Result) == 0 {
		return ""
	}
	return answer.Data.Result[0].Value[1].(string)
}

func TestStandIn_AnswersFlaggersGlooQueriesAndRecordsCalls(t *testing.T) {
	t.Parallel()
	s, err := StartStandIn("", GoodMetrics)
	require.NoError(t, err)
	defer s.Close()
	query := func(q string) *http.Response {
		return viaProxy(t, s, http.MethodGet, MetricsServerURL+"/api/v1/query?query="+url.QueryEscape(q), "")
	}
	successRate := `sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name=~"apps-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",envoy_response_code!~"5.*"}[1m]))`
	latency := `histogram_quantile(0.99, sum(rate(envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=~"apps-podinfo-canaryupstream-x"}[30s])) by (le))`

	assert.Equal(t, "1", sample(t, query("vector(1)")), "Flagger's availability probe")
	assert.Equal(t, "100", sample(t, query(successRate)))
	assert.Equal(t, "42", sample(t, query(latency)))
	s.SetMetrics(BadMetrics)
	assert.Equal(t, "62.5", sample(t, query(successRate)))
	s.SetMetrics(Metrics{Unanswerable: true})
	assert.Equal(t, "", sample(t, query(successRate)), "no samples, as Prometheus without the series")
	assert.Equal(t, "1", sample(t, query("vector(1)")), "while still online")

	resp := viaProxy(t, s, http.MethodPost, "http://flagger-loadtester.apps/",
		`{"name":"podinfo","namespace":"apps","phase":"Progressing","metadata":{"type":"cmd","cmd":"hey -z 2m"}}`)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	calls := s.Calls()
	require.Len(t, calls, 7)
	assert.Equal(t, Call{Host: "flagger-prometheus.gloo-system:9090", Kind: "query", Provider: "prometheus", Name: "request-success-rate", Query: successRate, At: calls[1].At}, calls[1])
	last := calls[6]
	assert.Equal(t, "webhook", last.Kind)
	assert.Equal(t, "flagger-loadtester.apps", last.Host)
	assert.Equal(t, "hey -z 2m", last.Command)
	assert.Equal(t, "Progressing", last.Phase)

	bad := viaProxy(t, s, http.MethodPost, "http://flagger-loadtester.apps/", "not json")
	assert.Equal(t, http.StatusBadRequest, bad.StatusCode)
}

func TestStandIn_ControlSwitchesMetrics(t *testing.T) {
	t.Parallel()
	s, err := StartStandIn("", GoodMetrics)
	require.NoError(t, err)
	defer s.Close()
	req, err := http.NewRequest(http.MethodPut, s.URL+"/control/metrics?successRate=62.5", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, Metrics{SuccessRate: 62.5, LatencyMs: 42}, s.Metrics())
	req, err = http.NewRequest(http.MethodPut, s.URL+"/control/metrics?latencyMs=slow", nil)
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a value that is not a number is refused")
	assert.Equal(t, Metrics{SuccessRate: 62.5, LatencyMs: 42}, s.Metrics(), "and changes nothing")
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

// TestStandIn_AnswersFlaggersAppMetricQueries: on the Gateway API Flagger queries the app's own
// http_request_duration_seconds series (pkg/metrics/observers/http.go), rendered here for apps/podinfo.
func TestStandIn_AnswersFlaggersAppMetricQueries(t *testing.T) {
	t.Parallel()
	s, err := StartStandIn("", GoodMetrics)
	require.NoError(t, err)
	defer s.Close()
	query := func(q string) *http.Response {
		return viaProxy(t, s, http.MethodGet, "http://flagger-prometheus.kgateway-system:9090/api/v1/query?query="+url.QueryEscape(q), "")
	}
	successRate := `sum(rate(http_request_duration_seconds_count{kubernetes_namespace="apps",kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",status!~"5.*"}[1m])) / ` +
		`sum(rate(http_request_duration_seconds_count{kubernetes_namespace="apps",kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}[1m])) * 100`
	latency := `histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{kubernetes_namespace="apps",kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}[30s])) by (le))`
	assert.Equal(t, "100", sample(t, query(successRate)))
	assert.Equal(t, "0.042", sample(t, query(latency)), "seconds: podinfo's histogram is http_request_duration_seconds")
	calls := s.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, "request-success-rate", calls[0].Name)
	assert.Equal(t, "request-duration", calls[1].Name)
}
