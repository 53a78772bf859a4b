package program

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/progressive-delivery/platform/infra"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/progressive-delivery/platform/program/services"
	"github.com/progressive-delivery/platform/program/teams"
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

	// Teams own the namespaces the services run in, by name; TeamsSet says the stack sets them (otherwise one
	// team owns every service's namespace).
	Teams    map[string]teams.Spec
	TeamsSet bool
	// Services are the services Flagger releases, by name.
	Services        map[string]services.Spec
	LoadTesterImage string
	// Analysis is the stack's canary* keys: what every service's analysis leaves unset.
	Analysis manifests.Analysis

	// Ingress is where traffic enters: one of manifests.Ingresses.
	Ingress                   string
	KgatewayChartVersion      string
	GatewayAPIVersion         string
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

// LoadConfig reads the stack configuration over Defaults, key by key as Keys defines them. It returns parse
// errors, one per key; Validate checks the values.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	c := Defaults()
	c.Region = config.New(ctx, "aws").Get("region")
	cfg := config.New(ctx, "")
	var errs []error
	for _, k := range Keys {
		errs = append(errs, k.read(ctx, cfg, &c))
	}
	if !c.TeamsSet {
		c.Teams = teams.OwningAll(serviceNamespaces(c.Services))
	}
	errs = append(errs, c.readOldPlatformInstall(cfg))
	errs = append(errs, replacedByServices(cfg)...)
	if cfg.Get("nodeSshKeyName") != "" {
		// Ignoring it would leave the user believing SSH works.
		errs = append(errs, errors.New("nodeSshKeyName: no longer supported (nodes have no SSH key); reach a node with "+
			"`kubectl debug node/<name> -it --image=busybox` and run `pulumi config rm nodeSshKeyName`"))
	}
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

// replacedKeys are the keys of the single-service model and the field of the walkthrough's service that took each
// one's place.
var replacedKeys = []struct{ key, field string }{
	{"repositoryName", "image.repository"},
	{"podinfoSourceImage", "image.source"},
	{"podinfoTags", "image.tags"},
	{"podinfoDigests", "image.digests"},
	{"podinfoVersion", "version"},
	{"domain", "host"},
	{"appNamespace", "namespace"},
}

// replacedByServices refuses each key the services key replaced, with the commands that move its value: ignoring
// it would deploy the defaults instead of what the stack says.
func replacedByServices(cfg *config.Config) []error {
	var errs []error
	for _, r := range replacedKeys {
		raw := cfg.Get(r.key)
		if raw == "" {
			continue
		}
		path := fmt.Sprintf("%s.%s.%s", services.Key, services.Walkthrough, r.field)
		var set []string
		var list []string
		var obj map[string]string
		switch {
		case json.Unmarshal([]byte(raw), &list) == nil:
			for i, v := range list {
				set = append(set, fmt.Sprintf("pulumi config set --path '%s[%d]' %s", path, i, v))
			}
		case json.Unmarshal([]byte(raw), &obj) == nil:
			for _, k := range slices.Sorted(maps.Keys(obj)) {
				set = append(set, fmt.Sprintf(`pulumi config set --path '%s["%s"]' %s`, path, k, obj[k]))
			}
		default:
			set = append(set, fmt.Sprintf("pulumi config set --path '%s' %s", path, raw))
		}
		errs = append(errs, fmt.Errorf("%s: replaced by %s (the services key, docs/services.md); run `pulumi config rm %s` and `%s`",
			r.key, path, r.key, strings.Join(set, "` and `")))
	}
	return errs
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

// serviceNamespaces are the namespaces the services run in, sorted.
func serviceNamespaces(specs map[string]services.Spec) []string {
	var out []string
	for _, name := range services.Names(specs) {
		if ns := specs[name].Namespace; !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out
}
