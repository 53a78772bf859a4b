package simcluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"syscall"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
)

// Metrics are the values the Datadog and CloudWatch stand-ins answer Flagger's queries with. Prometheus is not
// stood in for: Flagger's Prometheus queries go to the Flagger chart's real Prometheus, which measures real traffic.
type Metrics struct {
	// SuccessRate is request-success-rate in percent (Flagger compares it with thresholdRange.min).
	SuccessRate float64
	// LatencyMs is request-duration, the P99 in milliseconds (compared with thresholdRange.max).
	LatencyMs float64
	// Unanswerable makes every query return no data, as a metrics API without the gateway's series would.
	Unanswerable bool
}

// GoodMetrics pass the walkthrough's analysis (success rate >= 99 %, P99 <= 500 ms).
var GoodMetrics = Metrics{SuccessRate: 100, LatencyMs: 42}

// BadMetrics fail its success-rate check.
var BadMetrics = Metrics{SuccessRate: 62.5, LatencyMs: 42}

// Call is one request Flagger sent to the stand-in.
type Call struct {
	// Host is where Flagger meant to send it (flagger-loadtester.apps, flagger-prometheus.gloo-system:9090).
	Host string
	// Kind is "webhook" (the load tester), "event" (Flagger's event webhook), "query" or "alert" (a Slack or
	// Teams message).
	Kind string
	// Provider is the metrics API a query went to (prometheus, datadog, cloudwatch) or the alert's channel type
	// (slack, msteams).
	Provider string
	// Name is the canary a webhook or event is called for, the check a query answers ("request-success-rate",
	// "request-duration", "probe") or the Slack channel of an alert.
	Name string
	// Command is the webhook's metadata.cmd; Query the query text.
	Command, Query string
	// Message and EventType are an event's or alert's text and its type (Normal/Warning; Slack's colour).
	Message, EventType string
	// Credential is what authenticated a query: Datadog's API/application keys, CloudWatch's signature header.
	Credential string
	// Phase is the canary phase a webhook was called in.
	Phase string
	At    time.Time
}

// StandIn is Flagger's outbound proxy, on one loopback port, through HTTP_PROXY and HTTPS_PROXY (trusting CAFile
// for HTTPS). It forwards what Flagger sends to in-cluster services, the real Prometheus and load testers, as the
// cluster network would, recording each query and webhook command. For what cannot run here it is a stand-in: an
// event-webhook receiver, and, over HTTPS, the Datadog and CloudWatch metrics APIs (answering with the values set
// by SetMetrics and SetMetricsFor) and Slack and Teams incoming webhooks; it records every call.
type StandIn struct {
	URL string
	// CAFile is the PEM file of the CA that signs the stand-in's HTTPS certificates.
	CAFile string

	server    *http.Server
	intercept *interceptor
	// resolve maps an in-cluster host to its service's address (the cluster's service proxy); nil before the
	// cluster runs.
	resolve func(host string) (string, bool)
	mu      sync.Mutex
	values  Metrics
	// valuesFor are the values of the canaries of one namespace, where a test set its own (SetMetricsFor).
	valuesFor map[string]Metrics
	calls     []Call
}

// StartStandIn listens on addr (host:port on loopback; port 0 picks a free one).
func StartStandIn(addr string, initial Metrics) (*StandIn, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("stand-in: %s is in use by another process; choose another port or 0 for any free one", addr)
		}
		return nil, fmt.Errorf("stand-in: %w", err)
	}
	s := &StandIn{URL: "http://" + l.Addr().String(), values: initial}
	if s.intercept, err = newInterceptor(s); err != nil {
		return nil, errors.Join(fmt.Errorf("stand-in: %w", err), l.Close())
	}
	s.CAFile = s.intercept.CAFile
	s.server = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.server.Serve(l) }()
	return s, nil
}

// Close stops the server.
func (s *StandIn) Close() error { return errors.Join(s.server.Close(), s.intercept.close()) }

// SetMetrics changes the values every later query gets.
func (s *StandIn) SetMetrics(m Metrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values = m
}

// SetMetricsFor changes the values later queries about the canaries of namespace get, and only those: tests that
// share the stand-in each set their own.
func (s *StandIn) SetMetricsFor(namespace string, m Metrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.valuesFor == nil {
		s.valuesFor = map[string]Metrics{}
	}
	s.valuesFor[namespace] = m
}

// metricsFor returns the values a query about the canaries of namespace gets now.
func (s *StandIn) metricsFor(namespace string) Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.valuesFor[namespace]; ok {
		return m
	}
	return s.values
}

// Calls returns a copy of the calls so far.
func (s *StandIn) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsSince returns the calls made at or after t.
func (s *StandIn) CallsSince(t time.Time) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if !c.At.Before(t) {
			out = append(out, c)
		}
	}
	return out
}

func (s *StandIn) record(c Call) {
	c.At = time.Now()
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

// ServeHTTP answers proxied requests (absolute URLs) as well as direct ones.
func (s *StandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Host
	if host == "" {
		host = r.Host
	}
	hostname := strings.Split(host, ":")[0]
	if s.resolve != nil {
		if target, ok := s.resolve(host); ok {
			s.forward(w, r, host, target)
			return
		}
	}
	switch {
	case r.Method == http.MethodConnect:
		s.intercept.connect(w, r)
	case strings.HasPrefix(hostname, "api.") && strings.Contains(hostname, "datadoghq."):
		s.datadog(w, r, hostname)
	case strings.HasPrefix(hostname, "monitoring.") && strings.HasSuffix(hostname, ".amazonaws.com"):
		s.cloudWatch(w, r, hostname)
	case hostname == "hooks.slack.com":
		s.notification(w, r, hostname, "slack")
	case strings.HasSuffix(hostname, ".webhook.office.com"):
		s.notification(w, r, hostname, "msteams")
	case r.Method == http.MethodPost:
		s.webhook(w, r, host)
	default:
		http.NotFound(w, r)
	}
}

func (s *StandIn) webhook(w http.ResponseWriter, r *http.Request, host string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var p flaggerv1.CanaryWebhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "not a Flagger webhook payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	call := Call{Host: host, Kind: "webhook", Name: p.Name, Command: p.Metadata["cmd"], Phase: string(p.Phase)}
	if message, isEvent := p.Metadata["eventMessage"]; isEvent {
		call.Kind, call.Message, call.EventType = "event", message, p.Metadata["eventType"]
	}
	s.record(call)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
}

// forward passes a request for an in-cluster service on to it, as the cluster network would, recording what
// Flagger sent: a webhook's command (to the load tester) or a query's text (to Prometheus). The answer is the
// service's.
func (s *StandIn) forward(w http.ResponseWriter, r *http.Request, host, target string) {
	switch {
	case r.Method == http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var p flaggerv1.CanaryWebhookPayload
		if json.Unmarshal(body, &p) == nil && p.Name != "" {
			s.record(Call{Host: host, Kind: "webhook", Name: p.Name, Command: p.Metadata["cmd"], Phase: string(p.Phase)})
		}
	case r.URL.Path == "/api/v1/query":
		q := r.URL.Query().Get("query")
		name := "probe"
		if !strings.Contains(q, "vector(1)") {
			name = checkOf(q)
		}
		s.record(Call{Host: host, Kind: "query", Provider: "prometheus", Name: name, Query: q})
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = "http", target, host
	}}
	proxy.ServeHTTP(w, r)
}
