package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/props"
	"github.com/progressive-delivery/platform/internal/pulumitest"
	"github.com/progressive-delivery/platform/policy/rules"
	"github.com/progressive-delivery/platform/program"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stackResources runs the program with a stack file's values under mocks and returns what the policy pack sees.
func stackResources(t *testing.T, s stackFile) []rules.Resource {
	t.Helper()
	cfg := map[string]string{}
	for k, v := range s.config {
		cfg[k] = v
	}
	secrets := append([]string{}, s.secrets...)
	if s.config["slackChannel"] != "" {
		cfg["slackUrl"] = "https://hooks.slack.com/services/T000/B000/XXXX"
		secrets = append(secrets, "slackUrl")
	}
	var zones []string
	require.NoError(t, json.Unmarshal([]byte(cfg["zones"]), &zones))
	mon, err := pulumitest.Run(program.Run, pulumitest.RunConfig{Config: cfg, Secrets: secrets, Zones: zones})
	require.NoError(t, err)
	var out []rules.Resource
	for _, r := range mon.Registrations() {
		// The engine analyzes URNs of the real stack; the mocks name every stack "test".
		urn := strings.Replace(r.URN, "urn:pulumi:"+pulumitest.Stack+"::", "urn:pulumi:"+s.name+"::", 1)
		out = append(out, rules.Resource{Type: r.Type, Name: r.Name, URN: urn, ID: r.Name + "-id", Props: props.PlainMap(r.Inputs)})
	}
	return out
}

// TestPolicyPack_EveryStackFile runs the whole pack over the resource graph of every stack file: stacks other than
// dev have no violation; dev's violations are exactly its waivers, and each waiver still matches something.
func TestPolicyPack_EveryStackFile(t *testing.T) {
	t.Parallel()
	for _, s := range loadStacks(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			resources := stackResources(t, s)
			violations, used := rules.Evaluate(resources)
			for _, v := range violations {
				t.Errorf("%s: %s: %s", v.Policy, v.URN, v.Message)
			}
			var want []rules.Waiver
			for _, w := range rules.Waivers {
				if w.Stack == s.name {
					want = append(want, w)
				}
			}
			assert.ElementsMatch(t, want, used, "every waiver of stack %s matches a violation, and only waivers are used", s.name)
			fmt.Printf("policy pack on %s: %d resources, %d violations, %d waived\n", s.name, len(resources), len(violations), len(used))
		})
	}
}

func TestPolicyPack_WaiversAreExplained(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, r := range rules.All {
		names[r.Name] = true
	}
	for _, w := range rules.Waivers {
		assert.True(t, names[w.Policy], "waiver names an existing rule: %s", w.Policy)
		assert.NotEqual(t, "prod", w.Stack, "prod takes no waivers")
		assert.Greater(t, len(w.Reason), 40, "waiver %s/%s says why", w.Stack, w.Policy)
	}
}
