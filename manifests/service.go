package manifests

import (
	"strconv"
	"strings"
)

// Deployment strategies, as Flagger's "Deployment Strategies" page names them.
const (
	// StrategyCanary shifts a growing share of traffic to the new version (stepWeight up to maxWeight).
	StrategyCanary = "canary"
	// StrategyABTest sends the requests that match a header or cookie to the new version, for some iterations.
	StrategyABTest = "abtest"
	// StrategyBlueGreen sends no user traffic to the new version before promotion: only the load test reaches
	// it, through its own Service, for some iterations.
	StrategyBlueGreen = "bluegreen"
	// StrategyMirror is blue/green where the gateway also sends the new version a copy of every request and drops
	// its answer.
	StrategyMirror = "mirror"
	// StrategySessionAffinity is canary where a client sent to the new version once stays on it (a cookie).
	StrategySessionAffinity = "sessionaffinity"
)

// Strategies are every strategy a service can name.
var Strategies = []string{StrategyCanary, StrategyABTest, StrategyBlueGreen, StrategyMirror, StrategySessionAffinity}

// Weighted reports whether the strategy shifts traffic by weight (stepWeight, maxWeight) rather than running a
// number of iterations.
func Weighted(strategy string) bool {
	return strategy == StrategyCanary || strategy == StrategySessionAffinity
}

// Gates: who decides that a canary that passed its analysis is promoted.
const (
	// GateNone promotes as soon as the analysis passes.
	GateNone = "none"
	// GateManual waits at the load tester's gate (Flagger's confirm-promotion webhook) until someone opens it;
	// a rollback gate lets that person roll the release back too.
	GateManual = "manual"
)

// Gates are the gate choices.
var Gates = []string{GateNone, GateManual}

// NoLoadTest is the load-test value of a service that has only real traffic to be analysed with.
const NoLoadTest = "none"

// SessionCookie is the cookie Flagger sets to keep a client on the canary (strategy sessionaffinity).
const SessionCookie = "flagger-session"

// Service is one service Flagger releases, as its Canary and route need it.
type Service struct {
	// Name names its Deployment, HPA and Canary; Flagger derives <name>-primary and <name>-canary from it.
	Name, Namespace string
	// Host is the host name the gateway serves the service on.
	Host string
	// Port is the container's HTTP port; the Canary's Services expose it on the same number.
	Port int32
	// Strategy is one of Strategies.
	Strategy string
	// Analysis is how often and how far. Weighted strategies use MaxWeight and StepWeight, the others Iterations.
	Analysis Analysis
	// Match are the requests an A/B test sends to the new version; any one of them matches.
	Match []Match
	// Checks are the service's own PromQL checks, besides the success rate and latency.
	Checks []Check
	// AcceptanceTest is a command the load tester runs before any traffic shifts ("" none); LoadTest is the
	// command that sends traffic during the analysis (NoLoadTest for real traffic only). Both may name
	// {host}, {gateway} and {canary} (the new version's own Service, http://<name>-canary:<port>).
	AcceptanceTest, LoadTest string
	// Gate is one of Gates.
	Gate string
	// AlertSeverity, when set, is the least severity of this service's notifications on every alert channel.
	AlertSeverity string
}

// Match is one kind of request an A/B test sends to the new version: a header with a value, or a cookie.
type Match struct {
	// Header and Value: the header's exact value.
	Header, Value string `json:",omitempty"`
	// Cookie is name=value: a request carrying that cookie matches.
	Cookie string `json:",omitempty"`
}

// Check is a PromQL check of a service's own: the query's result must stay within [Min, Max].
type Check struct {
	Name string
	// Query is PromQL; Flagger fills {{ namespace }}, {{ target }} and {{ interval }}.
	Query string
	// Min and Max bound the result; at least one is set.
	Min, Max *float64 `json:",omitempty"`
	// Interval is the window the query's {{ interval }} stands for, e.g. 1m.
	Interval string
}

// expand fills a command's {host}, {gateway} and {canary}.
func (s *Service) expand(cmd, gatewayURL string) string {
	return strings.NewReplacer(
		"{host}", s.Host,
		"{gateway}", gatewayURL,
		"{canary}", "http://"+s.Name+"-canary:"+strconv.Itoa(int(s.Port)),
	).Replace(cmd)
}

// NeedsLoadTester reports whether the service's Canary calls a load tester in its namespace.
func (s *Service) NeedsLoadTester() bool {
	return s.AcceptanceTest != "" || (s.LoadTest != "" && s.LoadTest != NoLoadTest) || s.Gate == GateManual
}

// WalkthroughService is podinfo as the walkthrough releases it, on the given host and namespace.
func WalkthroughService(namespace, host string) Service {
	return Service{
		Name: AppName, Namespace: namespace, Host: host, Port: ServicePort,
		Strategy: StrategyCanary, Analysis: DefaultAnalysis, Gate: GateNone,
		AcceptanceTest: "curl -sd 'test' {canary}/token | grep token",
		LoadTest:       "hey -z 2m -q 5 -c 2 -host {host} {gateway}",
	}
}
