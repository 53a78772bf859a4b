package program

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/progressive-delivery/platform/infra"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/mod/semver"
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
	NodeGroup         infra.NodeGroupSpec
	SecretsEncryption bool
	ClusterLogTypes   []string
	ECRMutableTags    bool

	RepositoryName     string
	PodinfoSourceImage string
	PodinfoTags        []string
	PodinfoVersion     string
	Domain             string
	LoadTesterImage    string
	Analysis           manifests.Analysis

	MetricsServerChartVersion string
	GlooChartVersion          string
	FlaggerChartVersion       string
	DatadogChartVersion       string
	DatadogSite               string

	SlackChannel, SlackUser string
	// Secrets are held as outputs and never printed; the Set flags say whether they were given.
	SlackURL      pulumi.StringOutput
	SlackURLSet   bool
	DatadogAPIKey pulumi.StringOutput
	DatadogSet    bool

	// InfraStack and Kubeconfig select an existing cluster instead of creating one; at most one is set.
	InfraStack    string
	Kubeconfig    pulumi.StringOutput
	KubeconfigSet bool
	// PlatformInstall false assumes Gloo and Flagger are installed by someone else.
	PlatformInstall bool
}

// ManagesCluster reports whether this stack creates the AWS side (registry, network, cluster) itself.
func (c Config) ManagesCluster() bool {
	return c.InfraStack == "" && !c.KubeconfigSet
}

// Defaults returns the dev stack's values of SPEC.md; Pulumi.yaml declares the same defaults (a test keeps the
// two equal), and these apply when the program runs without the CLI, e.g. under mocks.
func Defaults() Config {
	return Config{
		Zones:             []string{"us-west-1a", "us-west-1b"},
		VpcCIDR:           "192.168.0.0/16",
		ClusterName:       "ps-eks-66",
		KubernetesVersion: "1.24",
		PublicAccessCIDRs: []string{},
		SecretsEncryption: true,
		ClusterLogTypes:   append([]string(nil), infra.AllLogTypes...),
		NodeGroup: infra.NodeGroupSpec{
			Name: "nodegroup", InstanceType: "m5.2xlarge", DiskSizeGiB: 100, MinSize: 2, DesiredSize: 2, MaxSize: 4,
		},
		RepositoryName:            "ps-flagger-repository",
		PodinfoSourceImage:        "ghcr.io/stefanprodan/podinfo",
		PodinfoTags:               []string{"6.0.0", "6.0.1", "6.0.2", "6.1.0", "6.1.5", "6.1.6"},
		PodinfoVersion:            "6.0.0",
		Domain:                    "podinfo.example.com",
		LoadTesterImage:           "ghcr.io/fluxcd/flagger-loadtester:0.22.0",
		Analysis:                  manifests.DefaultAnalysis,
		MetricsServerChartVersion: "3.8.2",
		GlooChartVersion:          "1.14.10",
		FlaggerChartVersion:       "1.33.0",
		DatadogChartVersion:       "3.69.3",
		DatadogSite:               "datadoghq.com",
		PlatformInstall:           true,
	}
}

// reader overlays raw config values on defaults and collects every parse error, each naming its key.
type reader struct {
	ctx  *pulumi.Context
	errs []error
}

func (r *reader) raw(key string) (string, bool) {
	return r.ctx.GetConfig(Project + ":" + key)
}

func (r *reader) str(key string, dst *string) {
	if v, ok := r.raw(key); ok {
		*dst = strings.TrimSpace(v)
	}
}

// scalar overlays a parsed value on dst; a value that does not parse is an error naming the key.
func scalar[T any](r *reader, key string, dst *T, parse func(string) (T, error), want string) {
	v, ok := r.raw(key)
	if !ok {
		return
	}
	parsed, err := parse(strings.TrimSpace(v))
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: want %s, got %q", key, want, v))
		return
	}
	*dst = parsed
}

func (r *reader) integer(key string, dst *int) { scalar(r, key, dst, strconv.Atoi, "an integer") }

func (r *reader) number(key string, dst *float64) {
	scalar(r, key, dst, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }, "a number")
}

func (r *reader) boolean(key string, dst *bool) {
	scalar(r, key, dst, strconv.ParseBool, "true or false")
}

func (r *reader) list(key string, dst *[]string) {
	v, ok := r.raw(key)
	if !ok {
		return
	}
	var items []string
	if err := json.Unmarshal([]byte(v), &items); err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: want a list of strings (pulumi config set --path '%s[0]' value), got %q", key, key, v))
		return
	}
	*dst = items
}

// platformInstall reads platform.install. The CLI hands Pulumi.yaml's default and `pulumi config set --path
// platform.install false` to the program as the object "platform"; `pulumi config set platform.install false`
// (and the Automation API's SetConfig) as the literal key "platform.install", which then wins.
func (r *reader) platformInstall(dst *bool) {
	if v, ok := r.raw("platform"); ok {
		var obj map[string]any
		if err := json.Unmarshal([]byte(v), &obj); err != nil {
			r.errs = append(r.errs, fmt.Errorf("platform: want an object such as {\"install\": true}, got %q", v))
		} else if install, present := obj["install"]; present {
			b, isBool := install.(bool)
			if text, isText := install.(string); isText {
				parsed, err := strconv.ParseBool(text)
				b, isBool = parsed, err == nil
			}
			if isBool {
				*dst = b
			} else {
				r.errs = append(r.errs, fmt.Errorf("platform.install: want true or false, got %v", install))
			}
		}
	}
	r.boolean("platform.install", dst)
}

// secret reads a key that must have been set with --secret. The value is returned as a secret output; errors
// never contain it.
func (r *reader) secret(key string, validate func(string) error) (pulumi.StringOutput, bool) {
	v, ok := r.raw(key)
	if !ok || v == "" {
		return pulumi.StringOutput{}, false
	}
	if !r.ctx.IsConfigSecret(Project + ":" + key) {
		r.errs = append(r.errs, fmt.Errorf("%s: is stored in plain text; set it with `pulumi config set --secret %s <value>`", key, key))
	}
	if validate != nil {
		if err := validate(v); err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	return pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput), true
}

// LoadConfig reads the stack configuration over Defaults. It returns parse errors; Validate checks values.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	c := Defaults()
	r := &reader{ctx: ctx}
	c.Region, _ = ctx.GetConfig("aws:region")
	r.list("zones", &c.Zones)
	r.str("vpcCidr", &c.VpcCIDR)
	r.boolean("natGatewayPerZone", &c.NATPerZone)
	r.str("clusterName", &c.ClusterName)
	r.str("kubernetesVersion", &c.KubernetesVersion)
	r.list("endpointPublicAccessCidrs", &c.PublicAccessCIDRs)
	r.boolean("secretsEncryption", &c.SecretsEncryption)
	r.list("clusterLogTypes", &c.ClusterLogTypes)
	r.boolean("ecrMutableTags", &c.ECRMutableTags)
	r.str("nodeGroupName", &c.NodeGroup.Name)
	r.str("nodeInstanceType", &c.NodeGroup.InstanceType)
	r.integer("nodeDiskSize", &c.NodeGroup.DiskSizeGiB)
	r.integer("nodeMinSize", &c.NodeGroup.MinSize)
	r.integer("nodeDesiredSize", &c.NodeGroup.DesiredSize)
	r.integer("nodeMaxSize", &c.NodeGroup.MaxSize)
	r.str("nodeSshKeyName", &c.NodeGroup.SSHKeyName)
	r.str("repositoryName", &c.RepositoryName)
	r.str("podinfoSourceImage", &c.PodinfoSourceImage)
	r.list("podinfoTags", &c.PodinfoTags)
	r.str("podinfoVersion", &c.PodinfoVersion)
	r.str("domain", &c.Domain)
	r.str("loadTesterImage", &c.LoadTesterImage)
	r.str("canaryInterval", &c.Analysis.Interval)
	r.integer("canaryThreshold", &c.Analysis.Threshold)
	r.integer("canaryMaxWeight", &c.Analysis.MaxWeight)
	r.integer("canaryStepWeight", &c.Analysis.StepWeight)
	r.number("canarySuccessRateMin", &c.Analysis.SuccessRateMin)
	r.number("canaryLatencyMaxMs", &c.Analysis.LatencyMaxMs)
	r.str("metricsServerChartVersion", &c.MetricsServerChartVersion)
	r.str("glooChartVersion", &c.GlooChartVersion)
	r.str("flaggerChartVersion", &c.FlaggerChartVersion)
	r.str("datadogChartVersion", &c.DatadogChartVersion)
	r.str("datadogSite", &c.DatadogSite)
	r.str("slackChannel", &c.SlackChannel)
	r.str("slackUser", &c.SlackUser)
	c.SlackURL, c.SlackURLSet = r.secret("slackUrl", checkSlackURL)
	c.DatadogAPIKey, c.DatadogSet = r.secret("datadogApiKey", nil)
	r.str("infraStack", &c.InfraStack)
	c.Kubeconfig, c.KubeconfigSet = r.secret("kubeconfig", nil)
	r.platformInstall(&c.PlatformInstall)
	return c, errors.Join(r.errs...)
}

func checkSlackURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		// The value itself is a credential: describe it without printing it.
		return errors.New("want an https:// incoming-webhook URL (value not shown: it is a secret)")
	}
	return nil
}

var (
	regionPattern       = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$`)
	instanceTypePattern = regexp.MustCompile(`^([a-z]+)(\d+)([a-z-]*)\.(nano|micro|small|medium|large|\d*xlarge|metal(-\d+xl)?)$`)
	clusterNamePattern  = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`)
	nodeGroupPattern    = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,62}$`)
	repositoryPattern   = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	dnsLabelPattern     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	imagePattern        = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(\.[a-z0-9-]+)*(:\d+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$`)
	imageTagPattern     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	keyPairPattern      = regexp.MustCompile(`^[\x20-\x7E]{1,255}$`)
	stackRefPattern     = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$`)
)

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
		if !slices.Contains(infra.AllLogTypes, lt) {
			add("clusterLogTypes: want a subset of %v, got %q", infra.AllLogTypes, lt)
		}
	}
	if !clusterNamePattern.MatchString(c.ClusterName) {
		add("clusterName: want 1-100 letters, digits, '-' or '_', starting with a letter or digit, got %q", c.ClusterName)
	}
	if err := infra.CheckKubernetesVersion(c.KubernetesVersion); err != nil {
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
	if ng.SSHKeyName != "" && !keyPairPattern.MatchString(ng.SSHKeyName) {
		add("nodeSshKeyName: want an EC2 key pair name (printable ASCII, at most 255), got %q", ng.SSHKeyName)
	}

	if len(c.RepositoryName) < 2 || len(c.RepositoryName) > 256 || !repositoryPattern.MatchString(c.RepositoryName) {
		add("repositoryName: want an ECR repository name (2-256 lowercase letters, digits, '.', '_', '-', '/'), got %q", c.RepositoryName)
	}
	if !imagePattern.MatchString(c.PodinfoSourceImage) {
		add("podinfoSourceImage: want an image name without tag such as ghcr.io/stefanprodan/podinfo, got %q", c.PodinfoSourceImage)
	}
	if len(c.PodinfoTags) == 0 {
		add("podinfoTags: want at least one tag to mirror")
	}
	for _, t := range c.PodinfoTags {
		if !imageTagPattern.MatchString(t) {
			add("podinfoTags: %q is not a valid image tag", t)
		}
	}
	if !slices.Contains(c.PodinfoTags, c.PodinfoVersion) {
		add("podinfoVersion: want one of the mirrored tags %v, got %q", c.PodinfoTags, c.PodinfoVersion)
	}
	if err := checkDomain(c.Domain); err != nil {
		add("domain: %v", err)
	}
	if !strings.Contains(c.LoadTesterImage, ":") || strings.ContainsAny(c.LoadTesterImage, " \t") {
		add("loadTesterImage: want an image with a pinned tag such as ghcr.io/fluxcd/flagger-loadtester:0.22.0, got %q", c.LoadTesterImage)
	}
	errs = append(errs, c.Analysis.Validate()...)

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
	if (c.SlackChannel != "" || c.SlackUser != "") && !c.SlackURLSet {
		add("slackChannel/slackUser: set, but slackUrl is not; set it with `pulumi config set --secret slackUrl https://hooks.slack.com/...`")
	}
	if c.DatadogSet {
		if err := checkDomain(c.DatadogSite); err != nil {
			add("datadogSite: %v", err)
		}
	}
	return errors.Join(errs...)
}

// checkDomain accepts a fully qualified DNS host name (RFC 1123), at least two labels.
func checkDomain(d string) error {
	if d == "" {
		return errors.New("want a DNS name such as podinfo.example.com, got an empty value")
	}
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return fmt.Errorf("want a DNS name of two or more labels such as podinfo.example.com, got %q", d)
	}
	for _, l := range labels {
		if !dnsLabelPattern.MatchString(l) {
			return fmt.Errorf("want a DNS name of lowercase letters, digits and '-' such as podinfo.example.com, got %q", d)
		}
	}
	return nil
}

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
