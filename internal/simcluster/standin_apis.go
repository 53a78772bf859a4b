package simcluster

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The hosted APIs the stand-in plays (no real server for them exists here). It is a stand-in, not these
// services: it answers their request shapes with the values set by SetMetrics and SetMetricsFor and records
// what it was sent.

// checkOf names the canary check a metrics query answers (PromQL, Datadog or CloudWatch), from the Envoy metric
// names in it.
func checkOf(query string) string {
	switch {
	// Gloo's Envoy statistics (pkg/metrics/observers/gloo.go).
	case strings.Contains(query, "upstream_rq_time"):
		return "request-duration"
	case strings.Contains(query, "upstream_rq"):
		return "request-success-rate"
	// The app's own metrics, which Flagger queries for gatewayapi:* (pkg/metrics/observers/http.go).
	case strings.Contains(query, "http_request_duration_seconds_bucket"):
		return "request-duration"
	case strings.Contains(query, "http_request_duration_seconds_count"):
		return "request-success-rate"
	}
	return ""
}

// envoyClusterNamespace finds the namespace in the name of the Envoy cluster Gloo makes for a canary's
// upstream, <namespace>-<service>-canaryupstream-<port>_<namespace>, as Flagger's templates select it.
var envoyClusterNamespace = regexp.MustCompile(`-canaryupstream-\d+_([a-z0-9]([-a-z0-9]*[a-z0-9])?)`)

// value is what check (checkOf(query)) gets now: the values of the namespace of the canary query is about; ok is
// false for a query that is no check, or when the metrics are set unanswerable.
func (s *StandIn) value(check, query string) (v float64, ok bool) {
	namespace := ""
	if m := envoyClusterNamespace.FindStringSubmatch(query); m != nil {
		namespace = m[1]
	}
	m := s.metricsFor(namespace)
	if check == "" || m.Unanswerable {
		return 0, false
	}
	if check == "request-duration" {
		return m.LatencyMs, true
	}
	return m.SuccessRate, true
}

// datadog answers Datadog's key validation and metrics query API (api.<site>/api/v1/...).
func (s *StandIn) datadog(w http.ResponseWriter, r *http.Request, host string) {
	apiKey, appKey := r.Header.Get("DD-API-KEY"), r.Header.Get("DD-APPLICATION-KEY")
	call := Call{Host: host, Provider: "datadog", Credential: apiKey + "/" + appKey}
	if apiKey == "" || appKey == "" {
		s.record(withKind(call, "query", "rejected"))
		http.Error(w, `{"errors":["Forbidden"]}`, http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/v1/validate":
		s.record(withKind(call, "query", "probe"))
		_, _ = io.WriteString(w, `{"valid":true}`)
	case "/api/v1/query":
		call.Query = r.URL.Query().Get("query")
		check := checkOf(call.Query)
		s.record(withKind(call, "query", check))
		series := []any{}
		if v, ok := s.value(check, call.Query); ok {
			series = append(series, map[string]any{"pointlist": [][]float64{{float64(time.Now().UnixMilli()), v}}})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "series": series})
	default:
		http.NotFound(w, r)
	}
}

var cloudWatchQueryField = regexp.MustCompile(`^MetricDataQueries\.member\.(\d+)\.(Id|Expression|MetricStat\.Metric\.MetricName|MetricStat\.Metric\.Dimensions\.member\.\d+\.Value)$`)

// cloudWatch answers CloudWatch's GetMetricData (query protocol, as aws-sdk-go v1 sends it) with one result for
// the query that returns data.
func (s *StandIn) cloudWatch(w http.ResponseWriter, r *http.Request, host string) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("Action") != "GetMetricData" {
		http.Error(w, "want Action=GetMetricData", http.StatusBadRequest)
		return
	}
	// Signature V4's credential scope says which region and service Flagger signed for.
	call := Call{Host: host, Provider: "cloudwatch", Credential: r.Header.Get("Authorization")}
	ids, expressions := map[string]string{}, map[string]string{}
	var metricNames, dimensions []string
	for key, values := range r.PostForm {
		m := cloudWatchQueryField.FindStringSubmatch(key)
		if m == nil || len(values) == 0 {
			continue
		}
		switch m[2] {
		case "Id":
			ids[m[1]] = values[0]
		case "Expression":
			expressions[m[1]] = values[0]
		case "MetricStat.Metric.MetricName":
			metricNames = append(metricNames, values[0])
		default:
			dimensions = append(dimensions, values[0])
		}
	}
	type result struct {
		ID         string    `xml:"Id"`
		StatusCode string    `xml:"StatusCode"`
		Timestamps []string  `xml:"Timestamps>member"`
		Values     []float64 `xml:"Values>member"`
	}
	var results []result
	if len(ids) == 0 {
		// Flagger's availability check sends no query.
		s.record(withKind(call, "query", "probe"))
	} else {
		// The metric names, then the dimension values (which canary's Envoy cluster, which EKS cluster).
		slices.Sort(metricNames)
		slices.Sort(dimensions)
		call.Query = strings.Join(metricNames, ",") + " " + strings.Join(slices.Compact(dimensions), ",")
		check := checkOf(call.Query)
		s.record(withKind(call, "query", check))
		// Only expressions return data here; the metric queries they combine have ReturnData false.
		for n := range expressions {
			res := result{ID: ids[n], StatusCode: "Complete"}
			if v, ok := s.value(check, call.Query); ok {
				res.Timestamps, res.Values = []string{time.Now().UTC().Format(time.RFC3339)}, []float64{v}
			}
			results = append(results, res)
		}
	}
	w.Header().Set("Content-Type", "text/xml")
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"http://monitoring.amazonaws.com/doc/2010-08-01/ GetMetricDataResponse"`
		Results   []result `xml:"GetMetricDataResult>MetricDataResults>member"`
		RequestID string   `xml:"ResponseMetadata>RequestId"`
	}{Results: results, RequestID: fmt.Sprintf("standin-%d", time.Now().UnixNano())})
}

// notification records a Slack or Microsoft Teams message Flagger posted for an AlertProvider.
func (s *StandIn) notification(w http.ResponseWriter, r *http.Request, host, provider string) {
	var payload struct {
		// Slack.
		Channel     string `json:"channel"`
		Attachments []struct {
			Color string `json:"color"`
			Text  string `json:"text"`
		} `json:"attachments"`
		// Microsoft Teams.
		Sections []struct {
			ActivityTitle string `json:"activityTitle"`
		} `json:"sections"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&payload); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	call := Call{Host: host, Kind: "alert", Provider: provider, Name: payload.Channel}
	switch {
	case len(payload.Attachments) > 0:
		call.Message, call.EventType = payload.Attachments[0].Text, payload.Attachments[0].Color
	case len(payload.Sections) > 0:
		call.Message = payload.Sections[0].ActivityTitle
	}
	s.record(call)
	_, _ = io.WriteString(w, "ok")
}

func withKind(c Call, kind, name string) Call {
	c.Kind, c.Name = kind, name
	return c
}
