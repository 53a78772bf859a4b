package program

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/progressive-delivery/platform/infra"
	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/progressive-delivery/platform/program/services"
	"github.com/progressive-delivery/platform/program/teams"
	"github.com/progressive-delivery/platform/workloads"
	"golang.org/x/mod/semver"
)

var (
	regionPattern       = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$`)
	instanceTypePattern = regexp.MustCompile(`^([a-z]+)(\d+)([a-z-]*)\.(nano|micro|small|medium|large|\d*xlarge|metal(-\d+xl)?)$`)
	clusterNamePattern  = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`)
	nodeGroupPattern    = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,62}$`)
	stackRefPattern     = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$`)
)

// logRetentionDays are the retention periods CloudWatch Logs accepts.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// gravitonFamily matches instance families with an AWS Graviton (arm64) processor, e.g. m6g, c7gn, t4g.
var gravitonFamily = regexp.MustCompile(`^[a-z]+\d+g[a-z]*$`)

// checkChartVersion accepts an exact SemVer 2 version: a range would let a preview drift without a config change.
func checkChartVersion(key, v string) error {
	if !semver.IsValid("v"+v) || semver.Canonical("v"+v) != "v"+strings.SplitN(v, "+", 2)[0] {
		return fmt.Errorf("%s: want an exact chart version such as 1.2.3, got %q", key, v)
	}
	return nil
}

// Validate checks every value and reports all problems together, each naming the key, the bad value and what is
// allowed.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if c.InfraStack != "" && c.KubeconfigSet {
		add("infraStack/kubeconfig: both set; set at most one source of an existing cluster (neither creates one)")
	}
	if c.InfraStack != "" && !stackRefPattern.MatchString(c.InfraStack) {
		add("infraStack: want a stack name such as organization/progressive-delivery/dev, got %q", c.InfraStack)
	}
	if c.Region == "" {
		if c.ManagesCluster() {
			add("aws:region: not set; run `pulumi config set aws:region us-west-1`")
		}
	} else if !regionPattern.MatchString(c.Region) {
		add("aws:region: want an AWS region such as us-west-1, got %q", c.Region)
	}
	if len(c.Zones) < 2 || len(c.Zones) > infra.MaxZones {
		add("zones: want 2 to %d availability zones (EKS needs two), got %d %v", infra.MaxZones, len(c.Zones), c.Zones)
	}
	seen := map[string]bool{}
	for _, z := range c.Zones {
		if seen[z] {
			add("zones: %q is listed twice; want distinct zones", z)
		}
		seen[z] = true
		if c.Region != "" && !regexp.MustCompile(`^`+regexp.QuoteMeta(c.Region)+`[a-z]$`).MatchString(z) {
			add("zones: %q is not a zone of region %s; want names like %sa, %sb", z, c.Region, c.Region, c.Region)
		}
	}
	if _, _, err := infra.SubnetCIDRs(c.VpcCIDR, max(len(c.Zones), 1)); err != nil {
		add("vpcCidr: %v", err)
	}
	for _, cidr := range c.PublicAccessCIDRs {
		if p, err := netip.ParsePrefix(cidr); err != nil || !p.Addr().Is4() || p.Masked() != p {
			add("endpointPublicAccessCidrs: want IPv4 network CIDRs such as 203.0.113.0/24, got %q", cidr)
		}
	}
	if len(c.PublicAccessCIDRs) == 0 && c.ManagesCluster() {
		// No default: the secure choice depends on where pulumi runs, and 0.0.0.0/0 must be a decision.
		add("endpointPublicAccessCidrs: not set; list the CIDRs pulumi and kubectl run from (e.g. your egress IP /32 and CI's), " +
			"or 0.0.0.0/0 to open the endpoint to the internet as the walkthrough did")
	}
	for _, lt := range c.ClusterLogTypes {
		if !slices.Contains(eksfacts.AllLogTypes, lt) {
			add("clusterLogTypes: want a subset of %v, got %q", eksfacts.AllLogTypes, lt)
		}
	}
	if !slices.Contains(logRetentionDays, c.ClusterLogRetention) {
		add("clusterLogRetentionDays: want one of CloudWatch's retention periods %v, got %d", logRetentionDays, c.ClusterLogRetention)
	}
	admins := map[string]bool{}
	for _, arn := range c.ClusterAdmins {
		switch {
		case !eksfacts.PrincipalPattern.MatchString(arn):
			add("clusterAdmins: want IAM role or user ARNs such as arn:aws:iam::123456789012:role/platform-admins "+
				"(for an assumed-role session, the role's ARN), got %q", arn)
		case admins[arn]:
			add("clusterAdmins: %q is listed twice", arn)
		case c.Partition() != strings.Split(arn, ":")[1]:
			add("clusterAdmins: %q is not in partition %s of region %s", arn, c.Partition(), c.Region)
		}
		admins[arn] = true
	}
	if !clusterNamePattern.MatchString(c.ClusterName) {
		add("clusterName: want 1-100 letters, digits, '-' or '_', starting with a letter or digit, got %q", c.ClusterName)
	}
	if err := eksfacts.CheckKubernetesVersion(c.KubernetesVersion); err != nil {
		add("kubernetesVersion: %v", err)
	}

	ng := c.NodeGroup
	if !nodeGroupPattern.MatchString(ng.Name) {
		add("nodeGroupName: want 1-63 letters, digits, '-' or '_', got %q", ng.Name)
	}
	if m := instanceTypePattern.FindStringSubmatch(ng.InstanceType); m == nil {
		add("nodeInstanceType: want an EC2 instance type such as m5.2xlarge, got %q", ng.InstanceType)
	} else if gravitonFamily.MatchString(m[1] + m[2] + m[3]) {
		add("nodeInstanceType: %q is an arm64 (Graviton) type; the node group runs x86_64 AMIs and amd64 images, want e.g. m5.2xlarge", ng.InstanceType)
	}
	if ng.DiskSizeGiB < 20 || ng.DiskSizeGiB > 16384 {
		add("nodeDiskSize: want 20..16384 GiB (EKS AMI minimum, EBS maximum), got %d", ng.DiskSizeGiB)
	}
	if ng.MinSize < 1 || ng.MinSize > ng.DesiredSize || ng.DesiredSize > ng.MaxSize {
		add("nodeMinSize/nodeDesiredSize/nodeMaxSize: want 1 <= min <= desired <= max, got min %d, desired %d, max %d",
			ng.MinSize, ng.DesiredSize, ng.MaxSize)
	}
	if ng.MaxSize > 100 {
		add("nodeMaxSize: want at most 100 nodes per managed node group here, got %d", ng.MaxSize)
	}

	ingress, _ := manifests.IngressFor(c.Ingress)
	errs = append(errs, services.Validate(c.Services, services.Stack{Ingress: ingress, Reserved: reservedNamespaces()})...)
	errs = append(errs, teams.Validate(c.Teams, teams.Stack{
		Services: c.Services, Reserved: reservedNamespaces(), ReservedPrefixes: []string{"kube-"},
		ClusterAdmins: c.ClusterAdmins, Partition: c.Partition(), ManagesCluster: c.ManagesCluster(), Derived: !c.TeamsSet,
	})...)
	for _, name := range services.Names(c.Services) {
		if c.InfraStack != "" && name != services.Walkthrough && c.Services[name].Image.Mirrored() {
			// The infra stack exports one mirror, the walkthrough's (repositoryUrl).
			add("services.%s.image.tags: set, but a stack on infraStack reads only the walkthrough's mirror from it; "+
				"leave tags out so the nodes pull %s:<version>", name, c.Services[name].Image.Source)
		}
	}
	if !strings.Contains(c.LoadTesterImage, ":") || strings.ContainsAny(c.LoadTesterImage, " \t") {
		add("loadTesterImage: want an image with a pinned tag such as ghcr.io/fluxcd/flagger-loadtester:0.22.0, got %q", c.LoadTesterImage)
	}
	errs = append(errs, validateAnalysis(c.Analysis)...)

	for _, cv := range []struct{ key, v string }{
		{"metricsServerChartVersion", c.MetricsServerChartVersion},
		{"glooChartVersion", c.GlooChartVersion},
		{"flaggerChartVersion", c.FlaggerChartVersion},
		{"datadogChartVersion", c.DatadogChartVersion},
	} {
		if err := checkChartVersion(cv.key, cv.v); err != nil {
			errs = append(errs, err)
		}
	}
	if c.SlackChannel != "" && !c.SlackURLSet {
		add("slackChannel: set, but slackUrl is not; set it with `pulumi config set --secret slackUrl https://hooks.slack.com/...`")
	}
	if c.SlackURLSet && (c.SlackChannel == "" || c.SlackUser == "") {
		// Flagger's Slack notifier refuses an empty channel or user name and then sends nothing.
		add("slackChannel/slackUser: slackUrl is set, so both are needed (Flagger sends nothing without them), got channel %q, user %q; "+
			"e.g. `pulumi config set slackChannel deployments`", c.SlackChannel, c.SlackUser)
	}
	if c.DatadogSet {
		if err := services.CheckHost(c.DatadogSite); err != nil {
			add("datadogSite: %v", err)
		}
	}
	errs = append(errs, c.validateAnalysisSources()...)
	errs = append(errs, c.validateIngress()...)
	return errors.Join(errs...)
}

// releaseTagPattern is a release tag as kgateway and the Gateway API publish theirs: v1.2.3.
var releaseTagPattern = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)

// validateIngress checks the ingress choice and what the chosen one needs.
func (c Config) validateIngress() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch c.Ingress {
	case manifests.IngressGloo:
		if c.PlatformInstall && c.ManagesCluster() {
			errs = append(errs, checkChartSupportsKubernetes("glooChartVersion", "gloo", c.GlooChartVersion, c.KubernetesVersion))
		}
	case manifests.IngressGatewayAPI:
		if c.MetricsProvider == manifests.Datadog || c.MetricsProvider == manifests.CloudWatch {
			// Their templates query the Gloo gateway's Envoy statistics by Gloo's upstream names: wrong on kgateway
			// whoever installed it, so an app-only stack (platformInstall false) is refused too.
			add("metricsProvider: %s's checks read Gloo's Envoy statistics and are not written for kgateway yet; "+
				"with ingress gatewayapi use prometheus (Flagger's checks on podinfo's own request metrics)", c.MetricsProvider)
		}
		if !c.PlatformInstall {
			break
		}
		for _, k := range []struct{ key, value, example string }{
			{"kgatewayChartVersion", c.KgatewayChartVersion, Current.Kgateway},
			{"gatewayApiVersion", c.GatewayAPIVersion, Current.GatewayAPI},
		} {
			switch {
			case k.value == "":
				add("%s: not set, and ingress gatewayapi installs it; set it, e.g. `pulumi config set %s %s`", k.key, k.key, k.example)
			case !releaseTagPattern.MatchString(k.value):
				add("%s: want an exact release tag such as %s, got %q", k.key, k.example, k.value)
			}
		}
		if c.ManagesCluster() && c.KgatewayChartVersion != "" {
			errs = append(errs, checkChartSupportsKubernetes("kgatewayChartVersion", "kgateway", c.KgatewayChartVersion, c.KubernetesVersion))
		}
	default:
		add("ingress: want one of %s, got %q", strings.Join(manifests.Ingresses, ", "), c.Ingress)
	}
	return errs
}

// reservedNamespaces are Kubernetes' own namespaces and those the platform installs into.
func reservedNamespaces() []string {
	return []string{"default", "kube-system", "kube-public", "kube-node-lease",
		manifests.MustIngress(manifests.IngressGloo).Namespace(), manifests.MustIngress(manifests.IngressGatewayAPI).Namespace(), workloads.DatadogNamespace}
}

// validateAnalysis reports every analysis value that Flagger would reject or that cannot progress.
func validateAnalysis(a manifests.Analysis) []error {
	var errs []error
	if d, err := time.ParseDuration(a.Interval); err != nil || d < time.Second {
		errs = append(errs, fmt.Errorf("canaryInterval: want a duration of at least 1s such as 10s, got %q", a.Interval))
	}
	if a.Threshold < 1 {
		errs = append(errs, fmt.Errorf("canaryThreshold: want at least 1 failed check, got %d", a.Threshold))
	}
	if a.MaxWeight < 1 || a.MaxWeight > 100 {
		errs = append(errs, fmt.Errorf("canaryMaxWeight: want 1..100 (percent), got %d", a.MaxWeight))
	}
	if a.StepWeight < 1 || a.StepWeight > a.MaxWeight {
		errs = append(errs, fmt.Errorf("canaryStepWeight: want 1..canaryMaxWeight (%d), got %d", a.MaxWeight, a.StepWeight))
	}
	if a.SuccessRateMin <= 0 || a.SuccessRateMin > 100 {
		errs = append(errs, fmt.Errorf("canarySuccessRateMin: want a percentage in (0, 100], got %v", a.SuccessRateMin))
	}
	if a.LatencyMaxMs <= 0 {
		errs = append(errs, fmt.Errorf("canaryLatencyMaxMs: want a positive number of milliseconds, got %v", a.LatencyMaxMs))
	}
	return errs
}

// validateAnalysisSources checks the metrics provider and the alert channels against what each needs.
func (c Config) validateAnalysisSources() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch c.MetricsProvider {
	case manifests.Prometheus:
	case manifests.Datadog:
		for _, k := range []struct {
			key string
			set bool
		}{{"datadogApiKey", c.DatadogSet}, {"datadogAppKey", c.DatadogAppKeySet}} {
			if !k.set {
				add("%s: not set, and metricsProvider datadog needs it; set it with `pulumi config set --secret %s <key>`", k.key, k.key)
			}
		}
	case manifests.CloudWatch:
		if !c.ManagesCluster() {
			add("metricsProvider: cloudwatch needs a cluster this stack creates (Flagger reads CloudWatch through an IAM " +
				"role for its service account, via the cluster's OIDC provider); this stack deploys onto an existing " +
				"cluster (infraStack or kubeconfig set). Use prometheus or datadog here, or set it on the stack that creates the cluster")
		} else if !c.PlatformInstall {
			add("metricsProvider: cloudwatch needs platformInstall true: the IAM role goes on the service account of the Flagger this stack installs")
		}
	default:
		add("metricsProvider: want one of %s, got %q", strings.Join(manifests.MetricsProviders, ", "), c.MetricsProvider)
	}
	for _, a := range []struct{ key, severity string }{{"slackSeverity", c.SlackSeverity}, {"teamsSeverity", c.TeamsSeverity}} {
		if !slices.Contains(manifests.AlertSeverities, a.severity) {
			add("%s: want one of %s (the least severity sent), got %q", a.key, strings.Join(manifests.AlertSeverities, ", "), a.severity)
		}
	}
	return errs
}
