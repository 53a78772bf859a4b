package program

import (
	"slices"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/progressive-delivery/platform/program/services"
	"github.com/progressive-delivery/platform/program/teams"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

//go:generate go run ../internal/configgen -project .. -docs ../docs

// Key is one configuration key of the project namespace: the single definition from which LoadConfig reads it,
// Defaults takes its default, and `go generate` writes Pulumi.yaml's config block and docs/configuration.md.
type Key struct {
	Name        string
	Group       string
	Description string
	// Secret keys are accepted only when set with `pulumi config set --secret`; their default is always empty.
	Secret bool
	// Default is the value of an unset key, of the Go type the field has.
	Default any
	// field is a pointer to the Config field the key sets, for a Config given; nil for secrets.
	field func(*Config) any
	// secret is where a secret key lands, and check validates its plain value without printing it.
	secret func(*Config) (*pulumi.StringOutput, *bool)
	check  func(string) error
}

// Groups of keys, in the order the docs list them.
const (
	groupCluster  = "Network and cluster"
	groupNodes    = "Nodes"
	groupRegistry = "Services"
	groupCanary   = "Canary analysis"
	groupPlatform = "Ingress and platform charts"
	groupAlerts   = "Metrics provider and alerts"
	groupTarget   = "Existing cluster"
)

func key[T any](group, name string, def T, field func(*Config) *T, description string) Key {
	return Key{Name: name, Group: group, Description: description, Default: def,
		field: func(c *Config) any { return field(c) }}
}

func secretKey(group, name string, field func(*Config) (*pulumi.StringOutput, *bool), check func(string) error, description string) Key {
	return Key{Name: name, Group: group, Secret: true, Default: "", secret: field, check: check,
		Description: description + " Secret only: `pulumi config set --secret " + name + " ...`."}
}

// Keys is every configuration key of the project, in the order Pulumi.yaml and the docs list them. The
// defaults are the walkthrough's, the dev stack's values.
var Keys = []Key{
	key(groupCluster, "zones", []string{"us-west-1a", "us-west-1b"}, func(c *Config) *[]string { return &c.Zones },
		"Availability zones of aws:region for the VPC and cluster (2 to 4, distinct, visible to the account)."),
	key(groupCluster, "vpcCidr", "192.168.0.0/16", func(c *Config) *string { return &c.VpcCIDR },
		"IPv4 CIDR of the dedicated VPC (/16 to /24), split into eight equal subnets as eksctl does."),
	key(groupCluster, "natGatewayPerZone", false, func(c *Config) *bool { return &c.NATPerZone },
		"One NAT gateway per zone (zone-independent egress) instead of one shared NAT gateway."),
	key(groupCluster, "clusterName", "ps-eks-66", func(c *Config) *string { return &c.ClusterName },
		"EKS cluster name."),
	key(groupCluster, "kubernetesVersion", "1.24", func(c *Config) *string { return &c.KubernetesVersion },
		"Kubernetes minor version, 1.NN. A version past EKS support gives a warning at preview, and `up` refuses to create a cluster EKS no longer creates."),
	key(groupCluster, "endpointPublicAccessCidrs", []string{}, func(c *Config) *[]string { return &c.PublicAccessCIDRs },
		"CIDRs allowed to reach the public API endpoint (where pulumi and kubectl run); required, no open default. Private access is always on."),
	key(groupCluster, "clusterAdmins", []string{}, func(c *Config) *[]string { return &c.ClusterAdmins },
		"IAM role or user ARNs made cluster admins through EKS access entries, besides the identity that creates the cluster (e.g. CI's role and your team's)."),
	key(groupCluster, "secretsEncryption", true, func(c *Config) *bool { return &c.SecretsEncryption },
		"Envelope-encrypt Kubernetes secrets with a KMS key of the cluster (rotation on)."),
	key(groupCluster, "clusterLogTypes", slices.Clone(eksfacts.AllLogTypes), func(c *Config) *[]string { return &c.ClusterLogTypes },
		"EKS control-plane logs sent to CloudWatch (subset of api, audit, authenticator, controllerManager, scheduler)."),
	key(groupCluster, "clusterLogRetentionDays", 30, func(c *Config) *int { return &c.ClusterLogRetention },
		"Days CloudWatch keeps the control-plane logs; the program owns the log group, so destroy removes it."),

	key(groupNodes, "nodeGroupName", "nodegroup", func(c *Config) *string { return &c.NodeGroup.Name },
		"Managed node group name."),
	key(groupNodes, "nodeInstanceType", "m5.2xlarge", func(c *Config) *string { return &c.NodeGroup.InstanceType },
		"EC2 instance type of the nodes (x86_64)."),
	key(groupNodes, "nodeDiskSize", 100, func(c *Config) *int { return &c.NodeGroup.DiskSizeGiB },
		"Node root volume size in GiB (20 to 16384)."),
	key(groupNodes, "nodeMinSize", 2, func(c *Config) *int { return &c.NodeGroup.MinSize },
		"Minimum node count (1 <= min <= desired <= max)."),
	key(groupNodes, "nodeDesiredSize", 2, func(c *Config) *int { return &c.NodeGroup.DesiredSize },
		"Desired node count."),
	key(groupNodes, "nodeMaxSize", 4, func(c *Config) *int { return &c.NodeGroup.MaxSize },
		"Maximum node count (at most 100)."),

	key(groupRegistry, "ecrMutableTags", false, func(c *Config) *bool { return &c.ECRMutableTags },
		"Allow a tag to be pushed again with other content; false keeps the services' mirrors immutable."),
	key(groupRegistry, teams.Key, teams.Defaults(), func(c *Config) *map[string]teams.Spec { return &c.Teams },
		"The teams that release services, by name: each one's namespaces, IAM principals (EKS access entries scoped to those namespaces), "+
			"access policy, quota and default limits (fields: docs/teams.md). Unset (or {}): one team, apps, owning the services' namespaces, with no principals."),
	key(groupRegistry, services.Key, services.Defaults(), func(c *Config) *map[string]services.Spec { return &c.Services },
		"The services Flagger releases, by name: each one's image, ports, probes, strategy, analysis, gate and load test (fields: docs/services.md). "+
			"An entry named podinfo starts from the walkthrough's podinfo, any other from the generic defaults, so "+
			"`pulumi config set --path 'services.podinfo.version' 6.0.1` changes one field."),
	key(groupRegistry, "loadTesterImage", "ghcr.io/fluxcd/flagger-loadtester:0.22.0", func(c *Config) *string { return &c.LoadTesterImage },
		"Flagger load tester image, tag pinned."),

	key(groupCanary, "canaryInterval", manifests.DefaultAnalysis.Interval, func(c *Config) *string { return &c.Analysis.Interval },
		"Interval between canary checks (Go duration, at least 1s)."),
	key(groupCanary, "canaryThreshold", manifests.DefaultAnalysis.Threshold, func(c *Config) *int { return &c.Analysis.Threshold },
		"Failed checks before Flagger rolls back."),
	key(groupCanary, "canaryMaxWeight", manifests.DefaultAnalysis.MaxWeight, func(c *Config) *int { return &c.Analysis.MaxWeight },
		"Maximum percentage of traffic sent to the canary (1 to 100)."),
	key(groupCanary, "canaryStepWeight", manifests.DefaultAnalysis.StepWeight, func(c *Config) *int { return &c.Analysis.StepWeight },
		"Traffic percentage added per successful check (1 to canaryMaxWeight)."),
	// Pulumi.yaml has no fractional type: these two are whole numbers held as floats.
	key(groupCanary, "canarySuccessRateMin", manifests.DefaultAnalysis.SuccessRateMin, func(c *Config) *float64 { return &c.Analysis.SuccessRateMin },
		"Minimum request success rate in percent over 1m (whole number)."),
	key(groupCanary, "canaryLatencyMaxMs", manifests.DefaultAnalysis.LatencyMaxMs, func(c *Config) *float64 { return &c.Analysis.LatencyMaxMs },
		"Maximum P99 request duration in milliseconds over 30s (whole number)."),

	key(groupPlatform, "ingress", manifests.IngressGloo, func(c *Config) *string { return &c.Ingress },
		"Where traffic enters and which router Flagger shifts: gloo (Gloo Edge, the walkthrough's; Gloo Edge OSS ends on 2026-12-31) or gatewayapi (kgateway on the Kubernetes Gateway API)."),
	key(groupPlatform, "platformInstall", true, func(c *Config) *bool { return &c.PlatformInstall },
		"Install the ingress and Flagger; false assumes someone else installed them (with this program's names) and deploys only the app layer."),
	key(groupPlatform, "metricsServerChartVersion", "3.8.2", func(c *Config) *string { return &c.MetricsServerChartVersion },
		"metrics-server chart version (exact)."),
	key(groupPlatform, "glooChartVersion", "1.14.10", func(c *Config) *string { return &c.GlooChartVersion },
		"Gloo Edge chart version (exact)."),
	key(groupPlatform, "kgatewayChartVersion", "", func(c *Config) *string { return &c.KgatewayChartVersion },
		"kgateway chart version, for both its charts (kgateway-crds and kgateway), exact as kgateway tags them, e.g. v2.2.4; required with ingress gatewayapi."),
	key(groupPlatform, "gatewayApiVersion", "", func(c *Config) *string { return &c.GatewayAPIVersion },
		"Gateway API release whose standard-channel CRDs are installed, exact, e.g. v1.4.1; required with ingress gatewayapi."),
	key(groupPlatform, "flaggerChartVersion", "1.33.0", func(c *Config) *string { return &c.FlaggerChartVersion },
		"Flagger chart version (exact)."),
	key(groupPlatform, "datadogChartVersion", "3.69.3", func(c *Config) *string { return &c.DatadogChartVersion },
		"Datadog chart version (exact), used when datadogApiKey is set."),

	key(groupAlerts, "metricsProvider", manifests.Prometheus, func(c *Config) *string { return &c.MetricsProvider },
		"Where the canary's success-rate and latency checks come from: prometheus (Flagger's own), datadog (needs datadogApiKey and datadogAppKey) or cloudwatch (needs a cluster this stack creates; Flagger gets an IAM role)."),
	key(groupAlerts, "datadogSite", "datadoghq.com", func(c *Config) *string { return &c.DatadogSite },
		"Datadog site, used when datadogApiKey is set."),
	secretKey(groupAlerts, "datadogApiKey", func(c *Config) (*pulumi.StringOutput, *bool) { return &c.DatadogAPIKey, &c.DatadogSet }, nil,
		"Datadog API key; setting it installs the Datadog agent."),
	secretKey(groupAlerts, "datadogAppKey", func(c *Config) (*pulumi.StringOutput, *bool) { return &c.DatadogAppKey, &c.DatadogAppKeySet }, nil,
		"Datadog application key, with datadogApiKey what Flagger queries Datadog with (metricsProvider datadog)."),
	secretKey(groupAlerts, "slackUrl", func(c *Config) (*pulumi.StringOutput, *bool) { return &c.SlackURL, &c.SlackURLSet }, checkHTTPSURL,
		"Slack incoming-webhook URL (https); Flagger's Slack AlertProvider."),
	key(groupAlerts, "slackChannel", "", func(c *Config) *string { return &c.SlackChannel },
		"Slack channel of Flagger's notifications; required with slackUrl (Flagger's Slack notifier refuses none)."),
	key(groupAlerts, "slackUser", "flagger", func(c *Config) *string { return &c.SlackUser },
		"Slack user name of Flagger's notifications."),
	key(groupAlerts, "slackSeverity", "info", func(c *Config) *string { return &c.SlackSeverity },
		"Least severity sent to Slack: info (every step), warn or error (failures only)."),
	secretKey(groupAlerts, "teamsUrl", func(c *Config) (*pulumi.StringOutput, *bool) { return &c.TeamsURL, &c.TeamsURLSet }, checkHTTPSURL,
		"Microsoft Teams incoming-webhook URL (https); Flagger's msteams AlertProvider."),
	key(groupAlerts, "teamsSeverity", "info", func(c *Config) *string { return &c.TeamsSeverity },
		"Least severity sent to Microsoft Teams: info, warn or error."),
	secretKey(groupAlerts, "alertWebhookUrl", func(c *Config) (*pulumi.StringOutput, *bool) { return &c.AlertWebhookURL, &c.AlertWebhookURLSet }, checkWebhookURL,
		"URL that receives every canary event as JSON (Flagger's event webhook, any receiver)."),

	key(groupTarget, "infraStack", "", func(c *Config) *string { return &c.InfraStack },
		"Deploy only onto the cluster of another stack of this program (org/project/stack); its outputs kubeconfig, repositoryUrl and clusterName are the contract. No AWS resources are declared."),
	secretKey(groupTarget, "kubeconfig", func(c *Config) (*pulumi.StringOutput, *bool) { return &c.Kubeconfig, &c.KubeconfigSet }, nil,
		`Deploy only onto the cluster of this kubeconfig (not managed by Pulumi), e.g. "$(cat kubeconfig)". Excludes infraStack.`),
}

// Defaults returns the configuration of a stack that sets no key: every Key's default.
func Defaults() Config {
	var c Config
	for _, k := range Keys {
		if k.field == nil {
			continue
		}
		switch dst := k.field(&c).(type) {
		case *[]string:
			*dst = slices.Clone(k.Default.([]string))
		case *map[string]services.Spec:
			// A fresh map of fresh specs: a caller that changes one does not change the next Defaults().
			*dst = services.Defaults()
		case *map[string]teams.Spec:
			*dst = teams.Defaults()
		case *string:
			*dst = k.Default.(string)
		case *int:
			*dst = k.Default.(int)
		case *float64:
			*dst = k.Default.(float64)
		case *bool:
			*dst = k.Default.(bool)
		}
	}
	return c
}

// Type is the key's Pulumi.yaml type: string, integer, boolean, array (of strings) or object.
func (k Key) Type() string {
	switch k.Default.(type) {
	case int, float64:
		return "integer"
	case bool:
		return "boolean"
	case []string:
		return "array"
	case map[string]services.Spec, map[string]teams.Spec:
		return "object"
	}
	return "string"
}
