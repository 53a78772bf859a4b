package simcluster

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/cloudwatch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// httpsClient reaches HTTPS hosts through the stand-in as Flagger does: HTTPS_PROXY, trusting only its CA.
func httpsClient(t *testing.T, s *StandIn) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(s.CAFile)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(pem))
	proxy, err := url.Parse(s.URL)
	require.NoError(t, err)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}}
}

// startStandInWithClient starts a stand-in answering with m, stopped when the test ends, and a client that
// reaches it as Flagger does.
func startStandInWithClient(t *testing.T, m Metrics) (*StandIn, *http.Client) {
	t.Helper()
	s, err := StartStandIn("", m)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, httpsClient(t, s)
}

// latestPoints are the last value of each series of a Datadog query's answer.
func latestPoints(t *testing.T, resp *http.Response) []float64 {
	t.Helper()
	var body struct {
		Series []struct{ Pointlist [][]float64 }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	var out []float64
	for _, series := range body.Series {
		out = append(out, series.Pointlist[len(series.Pointlist)-1][1])
	}
	return out
}

func TestStandIn_DatadogAPIOverTLSWithTheKeys(t *testing.T) {
	t.Parallel()
	s, client := startStandInWithClient(t, GoodMetrics)
	get := func(path string, keys bool) *http.Response {
		req, err := http.NewRequest(http.MethodGet, "https://api.datadoghq.eu"+path, nil)
		require.NoError(t, err)
		if keys {
			req.Header.Set("DD-API-KEY", "api")
			req.Header.Set("DD-APPLICATION-KEY", "app")
		}
		resp, err := client.Do(req)
		require.NoError(t, err, "TLS to api.datadoghq.eu is terminated with a certificate the CA signed")
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	assert.Equal(t, http.StatusForbidden, get("/api/v1/validate", false).StatusCode, "no keys, no answer")
	assert.Equal(t, http.StatusOK, get("/api/v1/validate", true).StatusCode)
	successRate := "/api/v1/query?query=" + url.QueryEscape("100 * sum:envoy.cluster.upstream_rq.count{envoy_cluster:x,!envoy_response_code:5*}.as_count() / sum:envoy.cluster.upstream_rq.count{envoy_cluster:x}.as_count()")
	assert.Equal(t, []float64{100}, latestPoints(t, get(successRate, true)))
	assert.Equal(t, []float64{42}, latestPoints(t, get("/api/v1/query?query="+url.QueryEscape("p99:envoy.cluster.upstream_rq_time{envoy_cluster:x}"), true)))
	s.SetMetrics(Metrics{Unanswerable: true})
	assert.Empty(t, latestPoints(t, get(successRate, true)), "no series, as Datadog without the metric")

	var queries []Call
	for _, c := range s.Calls() {
		if c.Provider == "datadog" && c.Kind == "query" {
			queries = append(queries, c)
		}
	}
	require.Len(t, queries, 5)
	assert.Equal(t, []string{"rejected", "probe", "request-success-rate", "request-duration", "request-success-rate"},
		[]string{queries[0].Name, queries[1].Name, queries[2].Name, queries[3].Name, queries[4].Name})
	assert.Equal(t, "api.datadoghq.eu", queries[2].Host)
	assert.Equal(t, "api/app", queries[2].Credential)
}

// TestStandIn_EachNamespaceItsOwnValues: values set for a namespace answer the queries about its canary's Envoy
// cluster and no other, so tests sharing one stand-in do not decide each other's canaries.
func TestStandIn_EachNamespaceItsOwnValues(t *testing.T) {
	t.Parallel()
	s, client := startStandInWithClient(t, GoodMetrics)
	successRate := func(namespace string) []float64 {
		cluster := namespace + "-podinfo-canaryupstream-9898_" + namespace
		req, err := http.NewRequest(http.MethodGet, "https://api.datadoghq.com/api/v1/query?query="+url.QueryEscape(
			"100 * sum:envoy.cluster.upstream_rq.count{envoy_cluster:"+cluster+",!envoy_response_code:5*}.as_count()"), nil)
		require.NoError(t, err)
		req.Header.Set("DD-API-KEY", "api")
		req.Header.Set("DD-APPLICATION-KEY", "app")
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return latestPoints(t, resp)
	}

	s.SetMetricsFor("cw-canary", BadMetrics)
	s.SetMetricsFor("gone", Metrics{Unanswerable: true})
	assert.Equal(t, []float64{62.5}, successRate("cw-canary"))
	assert.Empty(t, successRate("gone"))
	assert.Equal(t, []float64{100}, successRate("dd-canary"), "another namespace keeps the values of SetMetrics")
	assert.Equal(t, []float64{100}, successRate("canary"), "a namespace whose name ends another's is another")
	s.SetMetrics(BadMetrics)
	assert.Equal(t, []float64{62.5}, successRate("dd-canary"))
}

// TestStandIn_CloudWatchGetMetricDataWithTheAWSSDK: the stand-in's CloudWatch answers aws-sdk-go v1, the SDK
// and version Flagger 1.36.1's CloudWatch provider uses, with the request shape that provider sends.
func TestStandIn_CloudWatchGetMetricDataWithTheAWSSDK(t *testing.T) {
	t.Parallel()
	s, err := StartStandIn("", BadMetrics)
	require.NoError(t, err)
	defer s.Close()
	ca, err := os.ReadFile(s.CAFile)
	require.NoError(t, err)
	// As AWS_CA_BUNDLE does for Flagger (the SDK replaces the client's roots with the bundle).
	sess, err := session.NewSessionWithOptions(session.Options{CustomCABundle: bytes.NewReader(ca),
		Config: *aws.NewConfig().WithRegion("eu-west-1").WithMaxRetries(0).WithHTTPClient(httpsClient(t, s)).
			WithCredentials(credentials.NewStaticCredentials("STANDINACCESSKEY", "secret", ""))})
	require.NoError(t, err)
	cw := cloudwatch.New(sess)
	metric := func(id, name string) *cloudwatch.MetricDataQuery {
		return &cloudwatch.MetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(false), MetricStat: &cloudwatch.MetricStat{
			Period: aws.Int64(60), Stat: aws.String("Sum"),
			Metric: &cloudwatch.Metric{Namespace: aws.String("ContainerInsights/Prometheus"), MetricName: aws.String(name)},
		}}
	}
	out, err := cw.GetMetricData(&cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(time.Now().Add(-10 * time.Minute)), EndTime: aws.Time(time.Now()), MaxDatapoints: aws.Int64(20),
		MetricDataQueries: []*cloudwatch.MetricDataQuery{
			metric("errors", "envoy_cluster_upstream_rq_xx"), metric("total", "envoy_cluster_upstream_rq_total"),
			{Id: aws.String("success_rate"), Expression: aws.String("100 - 100 * FILL(errors, 0) / total"), ReturnData: aws.Bool(true)},
		},
	})
	require.NoError(t, err, "the SDK parses the stand-in's answer")
	require.Len(t, out.MetricDataResults, 1, "only the expression returns data")
	assert.Equal(t, "success_rate", *out.MetricDataResults[0].Id)
	assert.Equal(t, []*float64{aws.Float64(62.5)}, out.MetricDataResults[0].Values)

	// Flagger's availability probe: an empty query list.
	_, err = cw.GetMetricData(&cloudwatch.GetMetricDataInput{StartTime: aws.Time(time.Time{}), EndTime: aws.Time(time.Time{}),
		MetricDataQueries: []*cloudwatch.MetricDataQuery{}})
	require.NoError(t, err)

	calls := s.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, "request-success-rate", calls[0].Name)
	assert.Equal(t, "monitoring.eu-west-1.amazonaws.com", calls[0].Host)
	assert.Contains(t, calls[0].Credential, "Credential=STANDINACCESSKEY/", "signed with the given credentials")
	assert.True(t, strings.Contains(calls[0].Credential, "/eu-west-1/monitoring/aws4_request"), "for the region and service")
	assert.Equal(t, "probe", calls[1].Name)
}

func TestStandIn_RecordsSlackTeamsAndEventMessages(t *testing.T) {
	t.Parallel()
	s, client := startStandInWithClient(t, GoodMetrics)
	post := func(client *http.Client, target, body string) {
		resp, err := client.Post(target, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, target)
	}
	post(client, "https://hooks.slack.com/services/T/B/X",
		`{"channel":"releases","attachments":[{"color":"danger","text":"Canary analysis failed, rollback finished."}]}`)
	post(client, "https://example.webhook.office.com/webhookb2/T",
		`{"summary":"podinfo.apps","sections":[{"activityTitle":"New revision detected, progressing canary analysis."}]}`)
	viaProxy(t, s, http.MethodPost, "http://alerts.example.test/flagger",
		`{"name":"podinfo","namespace":"apps","phase":"Progressing","metadata":{"eventMessage":"Advance podinfo.apps canary weight 5","eventType":"Normal"}}`)

	calls := s.Calls()
	require.Len(t, calls, 3)
	assert.Equal(t, Call{Host: "hooks.slack.com", Kind: "alert", Provider: "slack", Name: "releases",
		Message: "Canary analysis failed, rollback finished.", EventType: "danger", At: calls[0].At}, calls[0])
	assert.Equal(t, "msteams", calls[1].Provider)
	assert.Equal(t, "New revision detected, progressing canary analysis.", calls[1].Message)
	assert.Equal(t, Call{Host: "alerts.example.test", Kind: "event", Name: "podinfo", Message: "Advance podinfo.apps canary weight 5",
		EventType: "Normal", Phase: "Progressing", At: calls[2].At}, calls[2])
}
