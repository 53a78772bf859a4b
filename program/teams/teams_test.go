package teams

import (
	"reflect"
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/program/services"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse_EntriesStartFromTheGenericTeam(t *testing.T) {
	t.Parallel()
	// `pulumi config set --path teams.shop.quota.requests.cpu 2` stores the number 2; pods may arrive as "20".
	got, err := Parse(`{"shop":{"namespaces":["shop","shop-pay"],"access":"view","quota":{"requests":{"cpu":2},"pods":"20"}}}`)
	require.NoError(t, err)
	require.Equal(t, []string{"shop"}, Names(got))
	shop := got["shop"]
	assert.Equal(t, []string{"shop", "shop-pay"}, shop.NamespacesOf("shop"))
	assert.Equal(t, AccessView, shop.Access)
	assert.Equal(t, "2", shop.Quota.Requests.CPU)
	assert.Equal(t, 20, shop.Quota.Pods)
	assert.Equal(t, Generic().Quota.Requests.Memory, shop.Quota.Requests.Memory, "objects merge field by field")
	assert.Equal(t, Generic().Limits, shop.Limits)

	_, err = Parse(`{"shop":{"role":"admin"}}`)
	assert.ErrorContains(t, err, `teams.shop: unknown field "role"`)
	_, err = Parse(`["shop"]`)
	assert.ErrorContains(t, err, "teams: want an object of team name: spec")
}

func TestNamespacesOf_DefaultsToTheTeamsName(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"checkout"}, Generic().NamespacesOf("checkout"))
	assert.Equal(t, map[string]string{"apps": Walkthrough}, Owners(Defaults()), "the walkthrough's namespace is the default team's")
	assert.Equal(t, map[string]string{"shop": Walkthrough, "shop-pay": Walkthrough}, Owners(OwningAll([]string{"shop", "shop-pay"})),
		"a stack without teams: one team owns every service's namespace")
	assert.Equal(t, Defaults(), OwningAll([]string{"apps"}), "and on the walkthrough's stack that team is the default")
}

func TestFields_CoverSpec(t *testing.T) {
	t.Parallel()
	var paths []string
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, prefix string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix+name+".")
				continue
			}
			paths = append(paths, prefix+name)
		}
	}
	walk(reflect.TypeFor[Spec](), "")
	var documented []string
	for _, f := range Fields {
		documented = append(documented, f.Path)
	}
	assert.ElementsMatch(t, paths, documented)
}

// TestCanaryWarnings_QuotaMustHoldPrimaryAndCanary: maxReplicas 4 of 250m doubles to 2 CPU of requests, above a
// quota of 1500m; at maxReplicas 3 it fits.
func TestCanaryWarnings_QuotaMustHoldPrimaryAndCanary(t *testing.T) {
	t.Parallel()
	team := Generic()
	team.Namespaces = []string{"shop"}
	team.Quota.Requests.CPU = "1500m"
	cart := services.Generic()
	cart.Namespace, cart.MaxReplicas = "shop", 4
	cart.Resources.Requests.CPU = "250m"
	warnings := CanaryWarnings(map[string]Spec{"shop": team}, map[string]services.Spec{"cart": cart})
	require.Len(t, warnings, 1)
	assert.Equal(t, "services.cart: a release runs up to 8 pods (maxReplicas 4 × 2, primary and canary), which need requests.cpu 2 > 1500m: "+
		"above team shop's quota in shop, so the canary would not scale. Raise teams.shop.quota or lower maxReplicas", warnings[0])

	cart.MaxReplicas = 3
	assert.Empty(t, CanaryWarnings(map[string]Spec{"shop": team}, map[string]services.Spec{"cart": cart}))
	assert.Empty(t, CanaryWarnings(Defaults(), services.Defaults()), "the walkthrough's podinfo fits the default quota in a release")
}

// TestNeed_EmptyQuantitiesAreSetAsTheAPIServerSetsThem: an empty request takes the service's own limit when it has
// one, else the LimitRange's default request; an empty limit takes the LimitRange's default.
func TestNeed_EmptyQuantitiesAreSetAsTheAPIServerSetsThem(t *testing.T) {
	t.Parallel()
	team := Generic()
	cart := services.Generic()
	cart.Resources = services.Resources{Limits: services.Quantities{CPU: "300m"}}
	got := team.Need(cart, 2)
	assert.Equal(t, "600m", got.RequestsCPU.String(), "the request is the service's own limit")
	assert.Equal(t, "128Mi", got.RequestsMemory.String(), "the LimitRange's default request, 64Mi")
	assert.Equal(t, "600m", got.LimitsCPU.String())
	assert.Equal(t, "512Mi", got.LimitsMemory.String(), "the LimitRange's default limit, 256Mi")
	assert.Equal(t, int64(2), got.Pods)
}
