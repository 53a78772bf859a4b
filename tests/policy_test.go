package tests

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/progressive-delivery/platform/internal/props"
	"github.com/progressive-delivery/platform/policy/rules"
	"github.com/progressive-delivery/platform/program"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stackResources runs the program with a stack file's values under mocks and returns what Pulumi's analyzer sees:
// as a new stack's preview (values not known yet marked so) or after up.
func stackResources(t *testing.T, s stackFile, preview bool) []rules.Resource {
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
	if !preview && s.name == "dev" {
		// up refuses dev's 1.24; dev as it can be deployed today.
		cfg["kubernetesVersion"] = "1.32"
	}
	var zones []string
	require.NoError(t, json.Unmarshal([]byte(cfg["zones"]), &zones))
	mon, err := mocks.Run(program.Run, mocks.RunConfig{Config: cfg, Secrets: secrets, Zones: zones, DryRun: preview})
	require.NoError(t, err)
	var out []rules.Resource
	for _, r := range mon.Registrations() {
		// The engine analyzes URNs of the real stack; the mocks name every stack "test".
		rename := func(urn string) string {
			return strings.Replace(urn, "urn:pulumi:"+mocks.Stack+"::", "urn:pulumi:"+s.name+"::", 1)
		}
		out = append(out, rules.Resource{Type: r.Type, Name: r.Name, URN: rename(r.URN), ID: r.ID, Parent: rename(r.Parent),
			Props: props.PlainMap(r.State)})
	}
	return out
}

// TestPolicyPack_EveryStackFile runs the whole pack over the resource graph of every stack file, as a new
// stack's preview and after up: stacks other than dev have no violation; dev's violations are exactly its
// waivers, and each waiver still matches something.
func TestPolicyPack_EveryStackFile(t *testing.T) {
	t.Parallel()
	for _, s := range loadStacks(t) {
		for _, phase := range []string{"preview", "up"} {
			t.Run(s.name+"/"+phase, func(t *testing.T) {
				t.Parallel()
				resources := stackResources(t, s, phase == "preview")
				violations, used := rules.Evaluate(resources)
				for _, v := range violations {
					t.Errorf("%s: %s: %s", v.Policy, v.URN, v.Message)
				}
				var want []rules.Waiver
				for _, w := range rules.Waivers {
					// After up, dev runs a supported version: only the open endpoint remains waived.
					if (w.Stack == s.name || w.Stack == rules.EveryStack) && (phase == "preview" || w.Policy != "eks-supported-version") {
						want = append(want, w)
					}
				}
				assert.ElementsMatch(t, want, used, "every waiver of stack %s matches a violation, and only waivers are used", s.name)
				unknown := 0
				for _, r := range resources {
					if props.ContainsUnknown(r.Props) {
						unknown++
					}
				}
				if phase == "preview" {
					assert.Greater(t, unknown, 20, "a new stack's preview has values not known yet")
				} else {
					assert.Zero(t, unknown, "after up every value is known")
				}
				fmt.Printf("policy pack on %s (%s): %d resources, %d with unknown values, %d violations, %d waived\n",
					s.name, phase, len(resources), unknown, len(violations), len(used))
			})
		}
	}
}

// TestPolicyPack_ReadsWhatPulumiEKSCreates: the pack's EKS rules see the AWS resources pulumi-eks creates, not
// its components, whose state is empty.
func TestPolicyPack_ReadsWhatPulumiEKSCreates(t *testing.T) {
	t.Parallel()
	for _, s := range loadStacks(t) {
		if s.name != "prod" {
			continue
		}
		resources := stackResources(t, s, false)
		byType := map[string][]rules.Resource{}
		for _, r := range resources {
			byType[r.Type] = append(byType[r.Type], r)
		}
		for _, component := range []string{"eks:index:Cluster", "eks:index:ManagedNodeGroup"} {
			require.Len(t, byType[component], 1)
			assert.Empty(t, byType[component][0].Props, "%s: the analyzer sees no inputs on pulumi-eks's component", component)
		}
		for typ, name := range map[string]string{
			eksfacts.ClusterType: "cluster-eks-eksCluster", eksfacts.NodeGroupType: "cluster-nodes", eksfacts.OIDCProviderType: "cluster-eks-oidcProvider",
		} {
			require.Len(t, byType[typ], 1, typ)
			assert.Equal(t, name, byType[typ][0].Name)
		}
		// Each rule that reads them fails when the value it checks is changed on the real resource.
		for policy, mutate := range map[string]func(map[string]any){
			"eks-public-access-restricted": func(p map[string]any) { p["vpcConfig"].(map[string]any)["publicAccessCidrs"] = []any{"0.0.0.0/0"} },
			"eks-control-plane-logging":    func(p map[string]any) { p["enabledClusterLogTypes"] = []any{"api"} },
			"eks-secrets-encryption":       func(p map[string]any) { delete(p, "encryptionConfig") },
			"eks-supported-version":        func(p map[string]any) { p["version"] = "1.24" },
		} {
			mutated := slices.Clone(resources)
			for i, r := range mutated {
				if r.Type == eksfacts.ClusterType {
					p := maps.Clone(r.Props)
					p["vpcConfig"] = maps.Clone(p["vpcConfig"].(map[string]any))
					mutate(p)
					mutated[i].Props = p
				}
			}
			violations, _ := rules.Evaluate(mutated)
			require.Len(t, violations, 1, policy)
			assert.Equal(t, policy, violations[0].Policy)
			assert.Contains(t, violations[0].URN, "aws:eks/cluster:Cluster::cluster-eks-eksCluster")
		}
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
		assert.NotEqual(t, "prod", w.Stack, "prod takes no waivers of its own")
		assert.Greater(t, len(w.Reason), 40, "waiver %s/%s says why", w.Stack, w.Policy)
	}
}

// TestPolicyPack_AnalysisProvidersAddNoViolation: prod switched to Datadog or CloudWatch checks (the CloudWatch
// role included) still passes the whole pack, in a preview and after up.
func TestPolicyPack_AnalysisProvidersAddNoViolation(t *testing.T) {
	t.Parallel()
	var prod stackFile
	for _, s := range loadStacks(t) {
		if s.name == "prod" {
			prod = s
		}
	}
	require.Equal(t, "prod", prod.name)
	for provider, extra := range map[string]map[string]string{
		"cloudwatch": {},
		"datadog":    {"datadogApiKey": "api", "datadogAppKey": "app"},
	} {
		s := prod
		s.config = maps.Clone(prod.config)
		s.config["metricsProvider"] = provider
		// Their templates read Gloo's Envoy statistics, so they run on prod's values with Gloo Edge 1.22.
		s.config["ingress"], s.config["glooChartVersion"] = "gloo", program.Current.Gloo
		s.secrets = slices.Clone(prod.secrets)
		for k, v := range extra {
			s.config[k] = v
			s.secrets = append(s.secrets, k)
		}
		for _, preview := range []bool{true, false} {
			resources := stackResources(t, s, preview)
			violations, used := rules.Evaluate(resources)
			assert.Empty(t, violations, "%s (preview %v)", provider, preview)
			for _, w := range used {
				assert.Equal(t, rules.EveryStack, w.Stack, "prod has no waiver of its own")
			}
			if provider == "cloudwatch" {
				assert.True(t, slices.ContainsFunc(resources, func(r rules.Resource) bool {
					return r.Type == "aws:iam/role:Role" && r.Name == "flagger-metrics-reader-role"
				}),
					"the pack saw the role")
			}
		}
	}
}
