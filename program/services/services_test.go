package services

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/manifests"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParse_PodinfoEntryChangesOnlyWhatItSets: `pulumi config set --path services.podinfo.version 6.0.1` on a
// stack stores {"podinfo":{"version":"6.0.1"}}; every other field stays the walkthrough's.
func TestParse_PodinfoEntryChangesOnlyWhatItSets(t *testing.T) {
	t.Parallel()
	got, err := Parse(`{"podinfo":{"version":"6.0.1","env":{"EXTRA":"1"}}}`)
	require.NoError(t, err)
	want := Defaults()["podinfo"]
	want.Version = "6.0.1"
	want.Env["EXTRA"] = "1"
	assert.Equal(t, want, got["podinfo"], "objects merge field by field")
}

func TestParse_AnotherServiceStartsFromTheGenericDefaults(t *testing.T) {
	t.Parallel()
	got, err := Parse(`{"cart":{"image":{"source":"ghcr.io/acme/cart"},"version":"2","port":"8081","host":"cart.example.com"}}`)
	require.NoError(t, err)
	require.Equal(t, []string{"cart"}, Names(got), "a stack that sets services holds exactly its services")
	cart := got["cart"]
	assert.Equal(t, "2", cart.Version, "pulumi config set --path stores 2 as a number; the version is still the tag 2")
	assert.Equal(t, 8081, cart.Port, "and a port given as a string still reads")
	assert.Equal(t, Generic().ReadinessPath, cart.ReadinessPath)
	assert.Equal(t, manifests.StrategyCanary, cart.Strategy)
	assert.False(t, cart.Image.Mirrored(), "no tags: the nodes pull source:version")
}

func TestParse_RefusesUnknownFieldsAndNonObjects(t *testing.T) {
	t.Parallel()
	_, err := Parse(`{"podinfo":{"replicas":3}}`)
	assert.ErrorContains(t, err, `services.podinfo: unknown field "replicas"`)
	_, err = Parse(`["podinfo"]`)
	assert.ErrorContains(t, err, "services: want an object of service name: spec")
	_, err = Parse(`{"podinfo":"6.0.1"}`)
	assert.ErrorContains(t, err, "services.podinfo: want an object of fields")
}

// TestRelease_StackKeysFillTheAnalysis: a service's analysis takes the stack's canary* keys for what it leaves
// unset; iteration strategies get 10 iterations and no weights.
func TestRelease_StackKeysFillTheAnalysis(t *testing.T) {
	t.Parallel()
	s := Defaults()["podinfo"]
	r := s.Release("podinfo", manifests.DefaultAnalysis)
	assert.Equal(t, manifests.DefaultAnalysis, r.Analysis)
	assert.Equal(t, manifests.WalkthroughService("apps", "podinfo.example.com"), r, "the walkthrough's release")

	s.Strategy = manifests.StrategyBlueGreen
	s.Analysis.Threshold = 2
	bg := s.Release("podinfo", manifests.DefaultAnalysis).Analysis
	assert.Equal(t, DefaultIterations, bg.Iterations)
	assert.Zero(t, bg.StepWeight)
	assert.Zero(t, bg.MaxWeight)
	assert.Equal(t, 2, bg.Threshold)
	assert.Equal(t, "10s", bg.Interval)
	assert.Zero(t, bg.ProgressDeadlineSeconds, "Flagger's default, left out of the Canary")

	s.Analysis.ProgressDeadline = "2m"
	assert.Equal(t, int32(120), s.Release("podinfo", manifests.DefaultAnalysis).Analysis.ProgressDeadlineSeconds)
}

// TestFields_CoverEverySpecField: the docs table is generated from Fields, so a field of Spec without an entry
// would be undocumented, and an entry without a field would document nothing.
func TestFields_CoverEverySpecField(t *testing.T) {
	t.Parallel()
	var paths []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Type.Kind() == reflect.Struct && structPaths[prefix+name] {
				walk(prefix+name+".", f.Type)
				continue
			}
			paths = append(paths, prefix+name)
		}
	}
	walk("", reflect.TypeFor[Spec]())
	var documented []string
	for _, f := range Fields {
		documented = append(documented, f.Path)
		assert.NotEmpty(t, f.Description, f.Path)
	}
	slices.Sort(paths)
	slices.Sort(documented)
	assert.Equal(t, paths, documented)
}

func TestValidate_TheDefaultsAreValidOnBothIngresses(t *testing.T) {
	t.Parallel()
	for _, ingress := range manifests.Ingresses {
		assert.Empty(t, Validate(Defaults(), Stack{Ingress: manifests.MustIngress(ingress)}), ingress)
	}
}

func TestValidate_ServicesOfTheirOwn(t *testing.T) {
	t.Parallel()
	cart := Generic()
	cart.Image.Source, cart.Version, cart.Host, cart.Namespace = "ghcr.io/acme/cart", "1.0.0", "cart.example.com", "shop"
	cart.Strategy = manifests.StrategyABTest
	cart.Match = []Match{{Header: "X-Canary", Value: "insider"}, {Cookie: "canary=always"}}
	cart.Gate = manifests.GateManual
	minRate := 1.0
	cart.Analysis.Checks = []Check{{Name: "orders", Query: "sum(rate(orders_total[1m]))", Min: &minRate, Interval: "1m"}}
	specs := Defaults()
	specs["cart"] = cart
	gloo := Stack{Ingress: manifests.MustIngress(manifests.IngressGloo), Reserved: []string{"gloo-system"}}
	gatewayAPI := Stack{Ingress: manifests.MustIngress(manifests.IngressGatewayAPI), Reserved: []string{"kgateway-system"}}
	assert.Empty(t, Validate(specs, gatewayAPI), "any of a header and a cookie")
	cart.Match = cart.Match[:1]
	specs["cart"] = cart
	assert.Empty(t, Validate(specs, gloo), "one match on Gloo")

	cart.Match = []Match{{Cookie: "canary"}, {Header: "x-canary"}, {Header: "x", Value: "1", Cookie: "a=b"}}
	cart.Resources.Requests.CPU = "3"
	cart.MinReplicas = 9
	cart.ExtraPorts = map[string]int{"http": 9000}
	specs["cart"] = cart
	var got []string
	for _, err := range Validate(specs, gloo) {
		got = append(got, err.Error())
	}
	assert.ElementsMatch(t, []string{
		`services.cart.match[0].cookie: want name=value such as canary=always, got "canary"`,
		`services.cart.match[1]: want a header name and the exact value it must have, got header "x-canary", value ""`,
		"services.cart.match[2]: set either cookie or header and value, not both",
		"services.cart.match: 3 matches, but ingress gloo takes one: Flagger's gloo router would require all of them at once, not any (docs/services.md)",
		"services.cart.resources.requests.cpu: 3 is above the limit 1000m; want requests <= limits",
		"services.cart.minReplicas: want 1 <= minReplicas <= maxReplicas, got 9 and 4",
		`services.cart.extraPorts: "http": want a port name of at most 15 lowercase letters, digits and '-', other than http and http-metrics`,
	}, got, "one message per problem, each naming its path")
}
