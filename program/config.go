package program

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/progressive-delivery/platform/infra"
	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Project is the Pulumi project name; project config keys are "progressive-delivery:<key>".
const Project = "progressive-delivery"

// Config is the stack configuration, read once and validated before any resource is declared.
type Config struct {
	Region            string
	Zones             []string
	VpcCIDR           string
	NATPerZone        bool
	ClusterName       string
	KubernetesVersion string
	PublicAccessCIDRs []string
	// ClusterAdmins are IAM role or user ARNs made cluster admins besides the identity that creates the cluster.
	ClusterAdmins       []string
	NodeGroup           infra.NodeGroupSpec
	SecretsEncryption   bool
	ClusterLogTypes     []string
	ClusterLogRetention int
	ECRMutableTags      bool

	RepositoryName     string
	PodinfoSourceImage string
	PodinfoTags        []string
	// PodinfoDigests pins mirrored tags to upstream digests; a tag without one mirrors what it names at the time.
	PodinfoDigests  map[string]string
	PodinfoVersion  string
	Domain          string
	LoadTesterImage string
	Analysis        manifests.Analysis

	MetricsServerChartVersion string
	GlooChartVersion          string
	FlaggerChartVersion       string
	DatadogChartVersion       string
	DatadogSite               string

	// MetricsProvider is where the canary's checks come from: one of manifests.MetricsProviders.
	MetricsProvider string

	SlackChannel, SlackUser string
	// SlackSeverity and TeamsSeverity are the least severity each alert channel gets: info, warn or error.
	SlackSeverity, TeamsSeverity string
	// Secrets are held as outputs and never printed; the Set flags say whether they were given.
	SlackURL    pulumi.StringOutput
	SlackURLSet bool
	TeamsURL    pulumi.StringOutput
	TeamsURLSet bool
	// AlertWebhookURL receives every canary event (Flagger's event webhook).
	AlertWebhookURL    pulumi.StringOutput
	AlertWebhookURLSet bool
	DatadogAPIKey      pulumi.StringOutput
	DatadogSet         bool
	DatadogAppKey      pulumi.StringOutput
	DatadogAppKeySet   bool

	// InfraStack and Kubeconfig select an existing cluster instead of creating one; at most one is set.
	InfraStack    string
	Kubeconfig    pulumi.StringOutput
	KubeconfigSet bool
	// PlatformInstall false assumes Gloo and Flagger are installed by someone else.
	PlatformInstall bool

	// Deprecations are warnings about old key spellings that still work.
	Deprecations []string
}

// ManagesCluster reports whether this stack creates the AWS side (registry, network, cluster) itself.
func (c Config) ManagesCluster() bool {
	return c.InfraStack == "" && !c.KubeconfigSet
}

// Defaults returns the dev stack's values, those of the reference walkthrough; Pulumi.yaml declares the same
// defaults (a test keeps the two equal), and these apply when the program runs without the CLI, e.g. under mocks.
func Defaults() Config {
	return Config{
		Zones:               []string{"us-west-1a", "us-west-1b"},
		VpcCIDR:             "192.168.0.0/16",
		ClusterName:         "ps-eks-66",
		KubernetesVersion:   "1.24",
		PublicAccessCIDRs:   []string{},
		ClusterAdmins:       []string{},
		SecretsEncryption:   true,
		ClusterLogTypes:     append([]string(nil), eksfacts.AllLogTypes...),
		ClusterLogRetention: 30,
		NodeGroup: infra.NodeGroupSpec{
			Name: "nodegroup", InstanceType: "m5.2xlarge", DiskSizeGiB: 100, MinSize: 2, DesiredSize: 2, MaxSize: 4,
		},
		RepositoryName:            "ps-flagger-repository",
		PodinfoSourceImage:        "ghcr.io/stefanprodan/podinfo",
		PodinfoTags:               []string{"6.0.0", "6.0.1", "6.0.2", "6.1.0", "6.1.5", "6.1.6"},
		PodinfoDigests:            map[string]string{},
		PodinfoVersion:            "6.0.0",
		Domain:                    "podinfo.example.com",
		LoadTesterImage:           "ghcr.io/fluxcd/flagger-loadtester:0.22.0",
		Analysis:                  manifests.DefaultAnalysis,
		MetricsServerChartVersion: "3.8.2",
		GlooChartVersion:          "1.14.10",
		FlaggerChartVersion:       "1.33.0",
		DatadogChartVersion:       "3.69.3",
		DatadogSite:               "datadoghq.com",
		MetricsProvider:           manifests.Prometheus,
		SlackUser:                 "flagger",
		SlackSeverity:             "info",
		TeamsSeverity:             "info",
		PlatformInstall:           true,
	}
}

// settings is every plain key the program reads, with the field it sets.
func (c *Config) settings() []setting {
	a := &c.Analysis
	return []setting{
		{"zones", list(&c.Zones)},
		{"vpcCidr", text(&c.VpcCIDR)},
		{"natGatewayPerZone", boolean(&c.NATPerZone)},
		{"clusterName", text(&c.ClusterName)},
		{"kubernetesVersion", text(&c.KubernetesVersion)},
		{"endpointPublicAccessCidrs", list(&c.PublicAccessCIDRs)},
		{"clusterAdmins", list(&c.ClusterAdmins)},
		{"secretsEncryption", boolean(&c.SecretsEncryption)},
		{"clusterLogTypes", list(&c.ClusterLogTypes)},
		{"clusterLogRetentionDays", integer(&c.ClusterLogRetention)},
		{"ecrMutableTags", boolean(&c.ECRMutableTags)},
		{"nodeGroupName", text(&c.NodeGroup.Name)},
		{"nodeInstanceType", text(&c.NodeGroup.InstanceType)},
		{"nodeDiskSize", integer(&c.NodeGroup.DiskSizeGiB)},
		{"nodeMinSize", integer(&c.NodeGroup.MinSize)},
		{"nodeDesiredSize", integer(&c.NodeGroup.DesiredSize)},
		{"nodeMaxSize", integer(&c.NodeGroup.MaxSize)},
		{"repositoryName", text(&c.RepositoryName)},
		{"podinfoSourceImage", text(&c.PodinfoSourceImage)},
		{"podinfoTags", list(&c.PodinfoTags)},
		{"podinfoDigests", structured(&c.PodinfoDigests, "an object of tag: sha256 digest (pulumi config set --path 'KEY[\"6.0.1\"]' sha256:...)")},
		{"podinfoVersion", text(&c.PodinfoVersion)},
		{"domain", text(&c.Domain)},
		{"loadTesterImage", text(&c.LoadTesterImage)},
		{"canaryInterval", text(&a.Interval)},
		{"canaryThreshold", integer(&a.Threshold)},
		{"canaryMaxWeight", integer(&a.MaxWeight)},
		{"canaryStepWeight", integer(&a.StepWeight)},
		{"canarySuccessRateMin", integerAsFloat(&a.SuccessRateMin)},
		{"canaryLatencyMaxMs", integerAsFloat(&a.LatencyMaxMs)},
		{"metricsServerChartVersion", text(&c.MetricsServerChartVersion)},
		{"glooChartVersion", text(&c.GlooChartVersion)},
		{"flaggerChartVersion", text(&c.FlaggerChartVersion)},
		{"datadogChartVersion", text(&c.DatadogChartVersion)},
		{"datadogSite", text(&c.DatadogSite)},
		{"metricsProvider", text(&c.MetricsProvider)},
		{"slackChannel", text(&c.SlackChannel)},
		{"slackUser", text(&c.SlackUser)},
		{"slackSeverity", text(&c.SlackSeverity)},
		{"teamsSeverity", text(&c.TeamsSeverity)},
		{"infraStack", text(&c.InfraStack)},
		{"platformInstall", boolean(&c.PlatformInstall)},
	}
}

// LoadConfig reads the stack configuration over Defaults. It returns parse errors, one per key; Validate checks
// the values.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	c := Defaults()
	c.Region = config.New(ctx, "aws").Get("region")
	cfg := config.New(ctx, "")
	var errs []error
	for _, s := range c.settings() {
		errs = append(errs, s.read(cfg, s.key))
	}
	errs = append(errs, c.readOldPlatformInstall(cfg))
	if cfg.Get("nodeSshKeyName") != "" {
		// Ignoring it would leave the user believing SSH works.
		errs = append(errs, errors.New("nodeSshKeyName: no longer supported (nodes have no SSH key); reach a node with "+
			"`kubectl debug node/<name> -it --image=busybox` and run `pulumi config rm nodeSshKeyName`"))
	}
	var err error
	c.SlackURL, c.SlackURLSet, err = secret(ctx, cfg, "slackUrl", checkHTTPSURL)
	errs = append(errs, err)
	c.TeamsURL, c.TeamsURLSet, err = secret(ctx, cfg, "teamsUrl", checkHTTPSURL)
	errs = append(errs, err)
	c.AlertWebhookURL, c.AlertWebhookURLSet, err = secret(ctx, cfg, "alertWebhookUrl", checkWebhookURL)
	errs = append(errs, err)
	c.DatadogAPIKey, c.DatadogSet, err = secret(ctx, cfg, "datadogApiKey", nil)
	errs = append(errs, err)
	c.DatadogAppKey, c.DatadogAppKeySet, err = secret(ctx, cfg, "datadogAppKey", nil)
	errs = append(errs, err)
	c.Kubeconfig, c.KubeconfigSet, err = secret(ctx, cfg, "kubeconfig", nil)
	errs = append(errs, err)
	return c, errors.Join(errs...)
}

// readOldPlatformInstall accepts platform.install, the spelling before platformInstall, for one more release:
// as the literal key (`pulumi config set platform.install false`) or as the object `pulumi config set --path`
// writes.
func (c *Config) readOldPlatformInstall(cfg *config.Config) error {
	raw, set := cfg.Get("platform.install"), cfg.Get("platform.install") != ""
	if !set && cfg.Get("platform") != "" {
		var obj map[string]any
		if err := cfg.TryObject("platform", &obj); err != nil {
			return fmt.Errorf("platform.install: want true or false, got %s", cfg.Get("platform"))
		}
		if v, ok := obj["install"]; ok {
			raw, set = fmt.Sprint(v), true
		}
	}
	if !set {
		return nil
	}
	old, err := strconv.ParseBool(raw)
	if err != nil {
		return fmt.Errorf("platform.install: want true or false, got %q", raw)
	}
	c.Deprecations = append(c.Deprecations, "platform.install is deprecated and will be removed in the next release: run "+
		"`pulumi config rm platform.install` (or `rm --path platform.install`) and `pulumi config set platformInstall "+raw+"`")
	// The old key wins: the CLI always passes platformInstall (Pulumi.yaml's default), so a stack that still
	// sets the old key has not chosen the new one.
	c.PlatformInstall = old
	return nil
}

// checkHTTPSURL accepts an https incoming-webhook URL (Slack, Teams). The value itself is a credential: the
// message describes it without printing it.
func checkHTTPSURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return errors.New("want an https:// incoming-webhook URL (value not shown: it is a secret)")
	}
	return nil
}

// checkWebhookURL accepts any http(s) URL: an event receiver may well be inside the cluster.
func checkWebhookURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("want an http:// or https:// URL (value not shown: it is a secret)")
	}
	return nil
}

// DatadogAPI is the Datadog API base URL of the configured site.
func (c Config) DatadogAPI() string { return "https://api." + c.DatadogSite }

// Partition returns the AWS partition of the region, for managed policy ARNs.
func (c Config) Partition() string {
	switch {
	case strings.HasPrefix(c.Region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(c.Region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
