package tests

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/progressive-delivery/platform/program"
	"github.com/progressive-delivery/platform/program/services"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadProject(t *testing.T) *workspace.Project {
	t.Helper()
	proj, err := workspace.LoadProject("../Pulumi.yaml")
	require.NoError(t, err, "Pulumi.yaml must load as the CLI loads it")
	return proj
}

// cliString renders a config value the way the CLI hands it to a program: scalars as text, lists as JSON.
func cliString(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case string:
		return v
	case []any, map[string]any:
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return string(b)
	}
	return fmt.Sprint(v)
}

// projectDefaults are the values the CLI passes for keys a stack does not set.
func projectDefaults(t *testing.T, proj *workspace.Project) map[string]string {
	t.Helper()
	out := map[string]string{}
	for key, ct := range proj.Config {
		if ct.Default != nil {
			out[key] = cliString(t, ct.Default)
		}
	}
	return out
}

func TestPulumiYAML_ProjectAndConfigSchema(t *testing.T) {
	t.Parallel()
	proj := loadProject(t)
	assert.Equal(t, "progressive-delivery", string(proj.Name))
	assert.Equal(t, "go", proj.Runtime.Name())
	require.NotNil(t, proj.Backend)
	assert.True(t, strings.HasPrefix(proj.Backend.URL, "file://"), "the embedded default is the local file backend")
	for key, ct := range proj.Config {
		assert.NotNil(t, ct.Type, "%s declares a type", key)
		assert.NotEmpty(t, ct.Description, "%s has a description", key)
		assert.NotNil(t, ct.Default, "%s has a default", key)
	}
}

// TestPulumiYAML_DefaultsMatchTheProgram runs the program's config loader with exactly what the CLI passes for
// an empty stack, and checks it yields the program's own defaults: the two lists cannot drift apart.
func TestPulumiYAML_DefaultsMatchTheProgram(t *testing.T) {
	t.Parallel()
	defaults := projectDefaults(t, loadProject(t))
	var loaded program.Config
	_, err := mocks.Run(func(ctx *pulumi.Context) error {
		var err error
		loaded, err = program.LoadConfig(ctx)
		return err
	}, mocks.RunConfig{Config: defaults})
	require.NoError(t, err)
	assert.Equal(t, program.Defaults(), loaded)
}

type stackFile struct {
	name    string
	config  map[string]string
	secrets []string
}

// loadStacks reads every Pulumi.<stack>.yaml, checks each value against the type Pulumi.yaml declares (as the
// CLI does) and returns the config the CLI would pass: project defaults overlaid with the stack's values.
func loadStacks(t *testing.T) []stackFile {
	t.Helper()
	proj := loadProject(t)
	paths, err := filepath.Glob("../Pulumi.*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(paths), 2, "dev and at least one other stack")
	sort.Strings(paths)
	var stacks []stackFile
	for _, path := range paths {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "Pulumi."), ".yaml")
		ps, err := workspace.LoadProjectStack(nil, proj, path)
		require.NoError(t, err, path)
		sf := stackFile{name: name, config: projectDefaults(t, proj)}
		for key, value := range ps.Config {
			full := key.Namespace() + ":" + key.Name()
			if key.Namespace() == string(proj.Name) {
				full = key.Name()
				ct, declared := proj.Config[key.Name()]
				require.True(t, declared, "%s: %s is not declared in Pulumi.yaml", name, key)
				obj, err := value.ToObject()
				require.NoError(t, err)
				assert.True(t, workspace.ValidateConfigValue(*ct.Type, ct.Items, obj),
					"%s: %s must be of type %s", name, key, *ct.Type)
			}
			if value.Secure() {
				sf.secrets = append(sf.secrets, full)
				sf.config[full] = "secret-placeholder"
				continue
			}
			text, err := value.Value(config.NopDecrypter)
			require.NoError(t, err)
			sf.config[full] = text
		}
		stacks = append(stacks, sf)
	}
	return stacks
}

func TestStacks_DevReproducesTheReference(t *testing.T) {
	t.Parallel()
	var dev *stackFile
	for _, s := range loadStacks(t) {
		if s.name == "dev" {
			dev = &s
		}
	}
	require.NotNil(t, dev, "Pulumi.dev.yaml exists")
	for key, want := range map[string]string{
		"aws:region": "us-west-1", "zones": `["us-west-1a","us-west-1b"]`, "clusterName": "ps-eks-66",
		"kubernetesVersion": "1.24", "nodeInstanceType": "m5.2xlarge",
		"nodeMinSize": "2", "nodeDesiredSize": "2", "nodeMaxSize": "4", "nodeDiskSize": "100",
		"glooChartVersion": "1.14.10", "flaggerChartVersion": "1.33.0", "metricsServerChartVersion": "3.8.2",
	} {
		assert.Equal(t, want, dev.config[key], key)
	}
	specs, err := services.Parse(dev.config["services"])
	require.NoError(t, err)
	require.Equal(t, []string{"podinfo"}, services.Names(specs))
	podinfo := specs["podinfo"]
	assert.Equal(t, "ps-flagger-repository", podinfo.Image.Repository)
	assert.Equal(t, "6.0.0", podinfo.Version)
	assert.Equal(t, "podinfo.example.com", podinfo.Host)
}

// walkthroughHostOf is the host of the stack's podinfo.
func walkthroughHostOf(t *testing.T, cfg map[string]string) string {
	t.Helper()
	specs, err := services.Parse(cfg["services"])
	require.NoError(t, err)
	return specs["podinfo"].Host
}

// TestStacks_EachStackFileRunsUnderMocks previews the program with each stack file's values, as a pull request's
// preview of a new stack does. Secrets an operator sets once per stack (the prod Slack webhook) are supplied as
// secrets, as `pulumi config set --secret` would.
func TestStacks_EachStackFileRunsUnderMocks(t *testing.T) {
	t.Parallel()
	operatorSecrets := map[string]map[string]string{
		"prod": {"slackUrl": "https://hooks.slack.com/services/T000/B000/XXXX"},
	}
	for _, s := range loadStacks(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			cfg := map[string]string{}
			for k, v := range s.config {
				cfg[k] = v
			}
			secrets := append([]string{}, s.secrets...)
			for k, v := range operatorSecrets[s.name] {
				cfg[k] = v
				secrets = append(secrets, k)
			}
			var zones []string
			require.NoError(t, json.Unmarshal([]byte(cfg["zones"]), &zones))
			mon, err := mocks.Run(program.Run, mocks.RunConfig{Config: cfg, Secrets: secrets, Zones: zones, DryRun: true})
			require.NoError(t, err)
			g := graph.NewGraph(mon.Registrations())
			_, upErr := mocks.Run(program.Run, mocks.RunConfig{Config: cfg, Secrets: secrets, Zones: zones})
			if s.name == "dev" {
				require.Error(t, upErr, "up of dev's 1.24 is refused before anything is created")
				assert.Contains(t, upErr.Error(), "EKS no longer creates clusters at this version")
			} else {
				assert.NoError(t, upErr)
			}
			eks := g.MustOne(t, "eks:index:Cluster", "cluster-eks")
			assert.Equal(t, cfg["clusterName"], graph.MustLookup(t, eks.Inputs, "name"))
			assert.Equal(t, cfg["kubernetesVersion"], graph.MustLookup(t, eks.Inputs, "version"))
			assert.Len(t, g.Find("aws:ec2/subnet:Subnet"), 2*len(zones))
			flagger := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-flagger")
			assert.Equal(t, cfg["flaggerChartVersion"], graph.MustLookup(t, flagger.Inputs, "version"))
			if cfg["ingress"] == "gatewayapi" {
				kgateway := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-kgateway")
				assert.Equal(t, cfg["kgatewayChartVersion"], graph.MustLookup(t, kgateway.Inputs, "version"))
				gw := g.MustOne(t, "kubernetes:gateway.networking.k8s.io/v1:Gateway", "platform-gateway")
				assert.Equal(t, walkthroughHostOf(t, cfg), graph.MustLookup(t, gw.Inputs, "spec", "listeners", 0, "hostname"))
				assert.Equal(t, []any{walkthroughHostOf(t, cfg)}, graph.MustLookup(t, g.MustOne(t, "kubernetes:flagger.app/v1beta1:Canary", "podinfo-canary").Inputs,
					"spec", "service", "hosts"))
			} else {
				gloo := g.MustOne(t, "kubernetes:helm.sh/v3:Release", "platform-gloo")
				assert.Equal(t, cfg["glooChartVersion"], graph.MustLookup(t, gloo.Inputs, "version"))
				vs := g.MustOne(t, "kubernetes:gateway.solo.io/v1:VirtualService", "podinfo-route")
				assert.Equal(t, []any{walkthroughHostOf(t, cfg)}, graph.MustLookup(t, vs.Inputs, "spec", "virtualHost", "domains"))
			}
			if s.name == "prod" {
				assert.Len(t, g.Find("aws:ec2/natGateway:NatGateway"), len(zones), "prod: a NAT gateway per zone")
				slack := g.MustOne(t, "kubernetes:flagger.app/v1beta1:AlertProvider", "apps-analysis-slack-alerts")
				assert.Equal(t, "deployments", graph.MustLookup(t, slack.Inputs, "spec", "channel"), "prod: Slack on")
				assert.True(t, graph.IsSecret(g.MustOne(t, "kubernetes:core/v1:Secret", "apps-analysis-slack").Inputs, "stringData", "address"))
				ng := g.MustOne(t, "eks:index:ManagedNodeGroup", "cluster-nodes")
				assert.Equal(t, float64(3), graph.MustLookup(t, ng.Inputs, "scalingConfig", "minSize"))
			}
		})
	}
}

// TestStacks_ProdWithoutItsWebhookStopsClearly: the prod stack turns Slack on, so until the operator sets the
// webhook its preview fails with what to run.
func TestStacks_ProdWithoutItsWebhookStopsClearly(t *testing.T) {
	t.Parallel()
	for _, s := range loadStacks(t) {
		if s.name != "prod" {
			continue
		}
		var zones []string
		require.NoError(t, json.Unmarshal([]byte(s.config["zones"]), &zones))
		_, err := mocks.Run(program.Run, mocks.RunConfig{Config: s.config, Secrets: s.secrets, Zones: zones})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "slackChannel: set, but slackUrl is not; set it with `pulumi config set --secret slackUrl")
		return
	}
	t.Fatal("Pulumi.prod.yaml not found")
}

func TestStacks_SecondStackIsAnotherEnvironment(t *testing.T) {
	t.Parallel()
	stacks := loadStacks(t)
	byName := map[string]stackFile{}
	for _, s := range stacks {
		byName[s.name] = s
	}
	dev, prod := byName["dev"], byName["prod"]
	require.NotNil(t, prod.config, "Pulumi.prod.yaml exists")
	assert.NotEqual(t, dev.config["aws:region"], prod.config["aws:region"], "another region")
	assert.NotEqual(t, dev.config["zones"], prod.config["zones"], "other zones")
	assert.NotEqual(t, dev.config["kubernetesVersion"], prod.config["kubernetesVersion"])
	prodMin, err := strconv.Atoi(prod.config["nodeMinSize"])
	require.NoError(t, err)
	devMin, err := strconv.Atoi(dev.config["nodeMinSize"])
	require.NoError(t, err)
	assert.Greater(t, prodMin, devMin, "a larger node minimum")
	// Deliberately against today's date: when this fails, prod's version has left EKS standard support and
	// program.Current (with the stack file) needs a newer one, with chart versions that support it.
	assert.Empty(t, eksfacts.SupportWarning(prod.config["kubernetesVersion"], time.Now()), "prod runs in EKS standard support")
	assert.Contains(t, eksfacts.SupportWarning(dev.config["kubernetesVersion"], time.Now()), "past EKS extended support",
		"dev keeps 1.24 for fidelity and is warned")
	assert.NotEmpty(t, prod.config["slackChannel"], "Slack on")
	// The versions a refused up of dev names are prod's, which are tested together.
	_, err = mocks.Run(program.Run, mocks.RunConfig{Config: dev.config, Secrets: dev.secrets})
	require.Error(t, err)
	for _, key := range []string{"kubernetesVersion", "ingress", "kgatewayChartVersion", "gatewayApiVersion", "metricsServerChartVersion", "flaggerChartVersion"} {
		assert.Contains(t, err.Error(), "`pulumi config set "+key+" "+prod.config[key]+"`")
	}
}

// TestStacks_ProdRunsTheCurrentVersions: program.Current, the one home of the current versions, is what prod runs.
func TestStacks_ProdRunsTheCurrentVersions(t *testing.T) {
	t.Parallel()
	for _, s := range loadStacks(t) {
		if s.name != "prod" {
			continue
		}
		c := program.Current
		for key, want := range map[string]string{"ingress": c.Ingress, "kubernetesVersion": c.Kubernetes, "kgatewayChartVersion": c.Kgateway,
			"gatewayApiVersion": c.GatewayAPI, "flaggerChartVersion": c.Flagger, "metricsServerChartVersion": c.MetricsServer} {
			assert.Equal(t, want, s.config[key], key)
		}
		// A preview of prod warns of nothing about its versions: no extended support, no Gloo end of life.
		var zones []string
		require.NoError(t, json.Unmarshal([]byte(s.config["zones"]), &zones))
		var warnings []string
		_, err := mocks.Run(func(ctx *pulumi.Context) error {
			cfg, err := program.LoadConfig(ctx)
			if err != nil {
				return err
			}
			w, err := program.ClusterVersionWarnings(ctx, cfg, time.Now())
			warnings = append(append(warnings, w...), program.Warnings(cfg, time.Now())...)
			return err
		}, mocks.RunConfig{Config: s.config, Secrets: s.secrets, Zones: zones, DryRun: true})
		require.NoError(t, err)
		assert.Empty(t, warnings)
		return
	}
	t.Fatal("Pulumi.prod.yaml not found")
}
