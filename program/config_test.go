package program

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/progressive-delivery/platform/program/teams"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfig_RejectsEachBadValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		config  map[string]string
		secrets []string
		want    string
	}{
		{"region missing", map[string]string{"aws:region": ""}, nil, "aws:region: not set"},
		{"region malformed", map[string]string{"aws:region": "california"}, nil, `aws:region: want an AWS region such as us-west-1, got "california"`},
		{"one zone", map[string]string{"zones": `["us-west-1a"]`}, nil, "zones: want 2 to 4 availability zones (EKS needs two), got 1"},
		{"zone outside region", map[string]string{"zones": `["us-west-1a","us-east-1b"]`}, nil, `zones: "us-east-1b" is not a zone of region us-west-1`},
		{"duplicate zone", map[string]string{"zones": `["us-west-1a","us-west-1a"]`}, nil, `zones: "us-west-1a" is listed twice`},
		{"zones not a list", map[string]string{"zones": `us-west-1a`}, nil, "zones: want a list of strings"},
		{"vpc cidr", map[string]string{"vpcCidr": "10.0.0.0/8"}, nil, "vpcCidr: want a prefix length between /16 and /24"},
		{"public access cidr", map[string]string{"endpointPublicAccessCidrs": `["my-laptop"]`}, nil, `endpointPublicAccessCidrs: want IPv4 network CIDRs such as 203.0.113.0/24, got "my-laptop"`},
		{"cluster name", map[string]string{"clusterName": "-bad"}, nil, `clusterName: want 1-100 letters`},
		{"kubernetes version form", map[string]string{"kubernetesVersion": "1.24.3"}, nil, `kubernetesVersion: want a Kubernetes minor version of the form 1.NN (e.g. 1.32), got "1.24.3"`},
		{"kubernetes version too old", map[string]string{"kubernetesVersion": "1.21"}, nil, "kubernetesVersion: want 1.23 or later"},
		{"instance type unknown", map[string]string{"nodeInstanceType": "huge"}, nil, `nodeInstanceType: want an EC2 instance type such as m5.2xlarge, got "huge"`},
		{"instance type arm64", map[string]string{"nodeInstanceType": "m6g.2xlarge"}, nil, `nodeInstanceType: "m6g.2xlarge" is an arm64 (Graviton) type`},
		{"disk too small", map[string]string{"nodeDiskSize": "10"}, nil, "nodeDiskSize: want 20..16384 GiB"},
		{"disk not a number", map[string]string{"nodeDiskSize": "big"}, nil, `nodeDiskSize: want an integer, got "big"`},
		{"min above max", map[string]string{"nodeMinSize": "5", "nodeDesiredSize": "5"}, nil, "want 1 <= min <= desired <= max, got min 5, desired 5, max 4"},
		{"desired below min", map[string]string{"nodeDesiredSize": "1"}, nil, "got min 2, desired 1, max 4"},
		{"min zero", map[string]string{"nodeMinSize": "0"}, nil, "got min 0, desired 2, max 4"},
		{"repository name", map[string]string{"services": `{"podinfo":{"image":{"repository":"Bad_Repo!"}}}`}, nil, `services.podinfo.image.repository: want an ECR repository name`},
		{"version not mirrored", map[string]string{"services": `{"podinfo":{"version":"6.2.0"}}`}, nil,
			`services.podinfo.version: want one of the mirrored tags [6.0.0 6.0.1 6.0.2 6.1.0 6.1.5 6.1.6] (image.tags), got "6.2.0"`},
		{"host empty", map[string]string{"services": `{"podinfo":{"host":""}}`}, nil, "services.podinfo.host: want a DNS name such as podinfo.example.com, got an empty value"},
		{"host not dns", map[string]string{"services": `{"podinfo":{"host":"podinfo_example"}}`}, nil, `services.podinfo.host: want a DNS name of two or more labels`},
		{"host with scheme", map[string]string{"services": `{"podinfo":{"host":"http://podinfo.example.com"}}`}, nil, "services.podinfo.host: want a DNS name of lowercase letters"},
		{"namespace not a label", map[string]string{"services": `{"podinfo":{"namespace":"Apps_1"}}`}, nil,
			`services.podinfo.namespace: want a DNS label (at most 63 lowercase letters, digits and '-') such as apps, got "Apps_1"`},
		{"namespace of the platform", map[string]string{"services": `{"podinfo":{"namespace":"gloo-system"}}`}, nil, `services.podinfo.namespace: "gloo-system" belongs to Kubernetes or the platform`},
		{"unknown strategy", map[string]string{"services": `{"podinfo":{"strategy":"rolling"}}`}, nil,
			`services.podinfo.strategy: want one of canary, abtest, bluegreen, mirror, sessionaffinity, got "rolling"`},
		{"strategy the ingress lacks", map[string]string{"services": `{"podinfo":{"strategy":"mirror"}}`}, nil,
			"services.podinfo.strategy: ingress gloo (Flagger provider gloo) does not support strategy mirror; it supports canary, abtest, bluegreen"},
		{"two services on one host", map[string]string{"services": `{"podinfo":{},"cart":{"image":{"source":"ghcr.io/shop/cart"},"version":"1.0.0","host":"podinfo.example.com"}}`}, nil,
			`services.podinfo.host: "podinfo.example.com" is also cart's host; each service needs a host of its own`},
		{"service name not a label", map[string]string{"services": `{"Cart_1":{"image":{"source":"ghcr.io/shop/cart"},"version":"1.0.0","host":"cart.example.com"}}`}, nil,
			`services: service name "Cart_1" is not a DNS label of at most 55 characters`},
		{"weights with iterations", map[string]string{"services": `{"podinfo":{"analysis":{"stepWeight":10,"iterations":5}}}`}, nil,
			"services.podinfo.analysis: stepWeight/maxWeight (10/0) together with iterations (5)"},
		{"gate without a load tester", map[string]string{"services": `{"podinfo":{"gate":"manual","loadTest":"none"}}`}, nil,
			`services.podinfo.gate: manual waits at the load tester's gate, and this service has no load tester (loadTest "none")`},
		{"check without a threshold", map[string]string{"services": `{"podinfo":{"analysis":{"checks":[{"name":"errors","query":"sum(rate(errors_total[1m]))","interval":"1m"}]}}}`}, nil,
			`services.podinfo.analysis.checks[0]: check "errors" has no threshold; set min, max or both`},
		{"unknown service field", map[string]string{"services": `{"podinfo":{"replicas":3}}`}, nil, `services.podinfo: unknown field "replicas"`},
		{"abtest without a match", map[string]string{"services": `{"podinfo":{"strategy":"abtest"}}`}, nil, "services.podinfo.match: strategy abtest needs at least one match"},
		{"two matches on gloo", map[string]string{"services": `{"podinfo":{"strategy":"abtest","analysis":{"iterations":5},"match":[{"header":"x-canary","value":"insider"},{"cookie":"canary=always"}]}}`}, nil,
			"services.podinfo.match: 2 matches, but ingress gloo takes one: Flagger's gloo router would require all of them at once, not any"},
		{"replaced version key", map[string]string{"podinfoVersion": "6.0.1"}, nil,
			"podinfoVersion: replaced by services.podinfo.version (the services key, docs/services.md); run `pulumi config rm podinfoVersion` and `pulumi config set --path 'services.podinfo.version' 6.0.1`"},
		{"replaced tags key", map[string]string{"podinfoTags": `["6.0.0","6.0.1"]`}, nil,
			"podinfoTags: replaced by services.podinfo.image.tags (the services key, docs/services.md); run `pulumi config rm podinfoTags` and " +
				"`pulumi config set --path 'services.podinfo.image.tags[0]' 6.0.0` and `pulumi config set --path 'services.podinfo.image.tags[1]' 6.0.1`"},
		{"replaced domain key", map[string]string{"domain": "shop.example.com"}, nil,
			"domain: replaced by services.podinfo.host (the services key, docs/services.md); run `pulumi config rm domain` and `pulumi config set --path 'services.podinfo.host' shop.example.com`"},
		{"chart version range", map[string]string{"glooChartVersion": "^1.14"}, nil, `glooChartVersion: want an exact chart version such as 1.2.3, got "^1.14"`},
		{"chart version short", map[string]string{"flaggerChartVersion": "1.33"}, nil, `flaggerChartVersion: want an exact chart version such as 1.2.3, got "1.33"`},
		{"chart version v prefix", map[string]string{"metricsServerChartVersion": "v3.8.2"}, nil, `metricsServerChartVersion: want an exact chart version`},
		{"canary interval", map[string]string{"canaryInterval": "10"}, nil, `canaryInterval: want a duration of at least 1s such as 10s, got "10"`},
		{"canary step above max", map[string]string{"canaryStepWeight": "60"}, nil, "canaryStepWeight: want 1..canaryMaxWeight (50), got 60"},
		{"canary threshold", map[string]string{"canaryThreshold": "0"}, nil, "canaryThreshold: want at least 1 failed check, got 0"},
		{"canary success rate", map[string]string{"canarySuccessRateMin": "150"}, nil, "canarySuccessRateMin: want a percentage in (0, 100], got 150"},
		{"slack url in plain text", map[string]string{"slackUrl": "https://hooks.slack.com/services/T/B/X"}, nil, "slackUrl: is stored in plain text; set it with `pulumi config set --secret slackUrl <value>`"},
		{"slack url not https", map[string]string{"slackUrl": "http://hooks.slack.com/services/T/B/X"}, []string{"slackUrl"}, "slackUrl: want an https:// incoming-webhook URL"},
		{"slack channel without url", map[string]string{"slackChannel": "general"}, nil, "slackChannel: set, but slackUrl is not"},
		{"slack url without channel", map[string]string{"slackUrl": "https://hooks.slack.com/services/T/B/X"}, []string{"slackUrl"},
			`slackChannel/slackUser: slackUrl is set, so both are needed (Flagger sends nothing without them), got channel "", user "flagger"`},
		{"datadog key in plain text", map[string]string{"datadogApiKey": "0123456789abcdef"}, nil, "datadogApiKey: is stored in plain text"},
		{"metrics provider unknown", map[string]string{"metricsProvider": "newrelic"}, nil, `metricsProvider: want one of prometheus, datadog, cloudwatch, got "newrelic"`},
		{"datadog checks without api key", map[string]string{"metricsProvider": "datadog", "datadogAppKey": "app"}, []string{"datadogAppKey"},
			"datadogApiKey: not set, and metricsProvider datadog needs it; set it with `pulumi config set --secret datadogApiKey <key>`"},
		{"datadog checks without app key", map[string]string{"metricsProvider": "datadog", "datadogApiKey": "api"}, []string{"datadogApiKey"},
			"datadogAppKey: not set, and metricsProvider datadog needs it; set it with `pulumi config set --secret datadogAppKey <key>`"},
		{"datadog app key in plain text", map[string]string{"datadogAppKey": "0123456789abcdef"}, nil, "datadogAppKey: is stored in plain text"},
		{"cloudwatch without a cluster of this stack", map[string]string{"metricsProvider": "cloudwatch", "kubeconfig": testKubeconfig}, []string{"kubeconfig"},
			"metricsProvider: cloudwatch needs a cluster this stack creates"},
		{"cloudwatch on another stack's cluster", map[string]string{"metricsProvider": "cloudwatch", "infraStack": "org/progressive-delivery/dev"}, nil,
			"(infraStack or kubeconfig set)"},
		{"cloudwatch without flagger of this stack", map[string]string{"metricsProvider": "cloudwatch", "platformInstall": "false"}, nil,
			"metricsProvider: cloudwatch needs platformInstall true"},
		{"slack severity", map[string]string{"slackSeverity": "critical"}, nil, `slackSeverity: want one of info, warn, error (the least severity sent), got "critical"`},
		{"teams severity", map[string]string{"teamsSeverity": "Error"}, nil, `teamsSeverity: want one of info, warn, error (the least severity sent), got "Error"`},
		{"teams url in plain text", map[string]string{"teamsUrl": "https://example.webhook.office.com/webhookb2/x"}, nil, "teamsUrl: is stored in plain text"},
		{"teams url not https", map[string]string{"teamsUrl": "http://example.webhook.office.com/webhookb2/x"}, []string{"teamsUrl"}, "teamsUrl: want an https:// incoming-webhook URL"},
		{"alert webhook not a url", map[string]string{"alertWebhookUrl": "alerts.example.com/flagger"}, []string{"alertWebhookUrl"},
			"alertWebhookUrl: want an http:// or https:// URL (value not shown: it is a secret)"},
		{"alert webhook in plain text", map[string]string{"alertWebhookUrl": "https://alerts.example.com/flagger"}, nil, "alertWebhookUrl: is stored in plain text"},
		{"log type", map[string]string{"clusterLogTypes": `["audit","everything"]`}, nil, `clusterLogTypes: want a subset of [api audit authenticator controllerManager scheduler], got "everything"`},
		{"both cluster sources", map[string]string{"infraStack": "org/progressive-delivery/dev", "kubeconfig": testKubeconfig},
			[]string{"kubeconfig"}, "infraStack/kubeconfig: both set; set at most one source"},
		{"kubeconfig in plain text", map[string]string{"kubeconfig": testKubeconfig}, nil,
			"kubeconfig: is stored in plain text; set it with `pulumi config set --secret kubeconfig <value>`"},
		{"malformed stack name", map[string]string{"infraStack": "org/proj/dev/extra"}, nil,
			`infraStack: want a stack name such as organization/progressive-delivery/dev, got "org/proj/dev/extra"`},
		{"platform flag", map[string]string{"kubeconfig": testKubeconfig, "platformInstall": "maybe"}, []string{"kubeconfig"},
			`platformInstall: want true or false, got "maybe"`},
		{"ingress unknown", map[string]string{"ingress": "nginx"}, nil, `ingress: want one of gloo, gatewayapi, got "nginx"`},
		{"gateway api without kgateway", map[string]string{"ingress": "gatewayapi", "gatewayApiVersion": "v1.4.1", "kubernetesVersion": "1.35"}, nil,
			"kgatewayChartVersion: not set, and ingress gatewayapi installs it; set it, e.g. `pulumi config set kgatewayChartVersion v2.2.4`"},
		{"gateway api without its CRDs", map[string]string{"ingress": "gatewayapi", "kgatewayChartVersion": "v2.2.4", "kubernetesVersion": "1.35"}, nil,
			"gatewayApiVersion: not set, and ingress gatewayapi installs it; set it, e.g. `pulumi config set gatewayApiVersion v1.4.1`"},
		{"kgateway version a range", map[string]string{"ingress": "gatewayapi", "kgatewayChartVersion": "2.2", "gatewayApiVersion": "v1.4.1", "kubernetesVersion": "1.35"}, nil,
			`kgatewayChartVersion: want an exact release tag such as v2.2.4, got "2.2"`},
		{"kubernetes kgateway does not support", map[string]string{"ingress": "gatewayapi", "kgatewayChartVersion": "v2.2.4", "gatewayApiVersion": "v1.4.1", "kubernetesVersion": "1.36"}, nil,
			"kubernetesVersion: 1.36 is outside what kgateway v2.2.x supports (Kubernetes 1.31 to 1.35, its support table); no kgateway series supports 1.36 yet (the newest supports up to 1.35): stay on a version in that range"},
		{"kubernetes gloo does not support", map[string]string{"glooChartVersion": "1.19.0", "kubernetesVersion": "1.35"}, nil,
			"kubernetesVersion: 1.35 is outside what gloo 1.19.x supports (Kubernetes 1.28 to 1.32, its support table); gloo 1.22.x supports 1.35: set glooChartVersion to a 1.22.x release"},
		{"datadog checks on an app-only gateway api stack", map[string]string{"ingress": "gatewayapi", "platformInstall": "false",
			"metricsProvider": "datadog", "datadogApiKey": "a", "datadogAppKey": "b"}, []string{"datadogApiKey", "datadogAppKey"},
			"metricsProvider: datadog's checks read Gloo's Envoy statistics and are not written for kgateway yet"},
		{"datadog checks on the gateway api", map[string]string{"ingress": "gatewayapi", "kgatewayChartVersion": "v2.2.4", "gatewayApiVersion": "v1.4.1",
			"kubernetesVersion": "1.35", "metricsProvider": "datadog", "datadogApiKey": "a", "datadogAppKey": "b"}, []string{"datadogApiKey", "datadogAppKey"},
			"metricsProvider: datadog's checks read Gloo's Envoy statistics and are not written for kgateway yet"},
		{"nat flag", map[string]string{"natGatewayPerZone": "sometimes"}, nil, `natGatewayPerZone: want true or false, got "sometimes"`},
		{"admin not an ARN", map[string]string{"clusterAdmins": `["alice"]`}, nil,
			`clusterAdmins: want IAM role or user ARNs such as arn:aws:iam::123456789012:role/platform-admins (for an assumed-role session, the role's ARN), got "alice"`},
		{"admin session ARN", map[string]string{"clusterAdmins": `["arn:aws:sts::123456789012:assumed-role/admins/alice"]`}, nil,
			`clusterAdmins: want IAM role or user ARNs`},
		{"admin twice", map[string]string{"clusterAdmins": `["arn:aws:iam::123456789012:role/a","arn:aws:iam::123456789012:role/a"]`}, nil,
			`clusterAdmins: "arn:aws:iam::123456789012:role/a" is listed twice`},
		{"admin in another partition", map[string]string{"clusterAdmins": `["arn:aws-cn:iam::123456789012:role/a"]`}, nil,
			`clusterAdmins: "arn:aws-cn:iam::123456789012:role/a" is not in partition aws of region us-west-1`},
		{"admins not a list", map[string]string{"clusterAdmins": `arn:aws:iam::123456789012:role/a`}, nil, `clusterAdmins: want a list of strings`},
		{"removed ssh key", map[string]string{"nodeSshKeyName": "ops"}, nil, "nodeSshKeyName: no longer supported (nodes have no SSH key)"},
		{"log retention", map[string]string{"clusterLogRetentionDays": "10"}, nil, "clusterLogRetentionDays: want one of CloudWatch's retention periods [1 3 5 7 14 30"},
		{"success rate fraction", map[string]string{"canarySuccessRateMin": "99.5"}, nil, `canarySuccessRateMin: want an integer, got "99.5"`},
		{"digest malformed", map[string]string{"services": `{"podinfo":{"image":{"digests":{"6.0.1":"abc"}}}}`}, nil,
			`services.podinfo.image.digests: 6.0.1: want a digest such as sha256:<64 hex digits>, got "abc"`},
		{"digest of a tag not mirrored", map[string]string{"services": `{"podinfo":{"image":{"digests":{"9.9.9":"sha256:` + strings.Repeat("a", 64) + `"}}}}`}, nil,
			`services.podinfo.image.digests: "9.9.9" is not one of the mirrored tags`},
		{"two teams claim a namespace", map[string]string{"teams": `{"apps":{},"pay":{"namespaces":["shop"]},"shop":{}}`}, nil,
			`teams.shop.namespaces: "shop" is already team pay's; a namespace belongs to one team`},
		{"team in a platform namespace", map[string]string{"teams": `{"apps":{},"edge":{"namespaces":["gloo-system"]}}`}, nil,
			`teams.edge.namespaces: "gloo-system" is a namespace of Kubernetes or the platform; want one of the team's own`},
		{"team in a kube- namespace", map[string]string{"teams": `{"apps":{},"ops":{"namespaces":["kube-ops"]}}`}, nil,
			`teams.ops.namespaces: "kube-ops" is a namespace of Kubernetes or the platform`},
		{"team principal not an ARN", map[string]string{"teams": `{"apps":{"principals":["alice"]}}`}, nil,
			`teams.apps.principals: want IAM role or user ARNs such as arn:aws:iam::123456789012:role/checkout-team, got "alice"`},
		{"team principal also an admin", map[string]string{"clusterAdmins": `["arn:aws:iam::123456789012:role/a"]`, "teams": `{"apps":{"principals":["arn:aws:iam::123456789012:role/a"]}}`}, nil,
			`teams.apps.principals: "arn:aws:iam::123456789012:role/a" is also in clusterAdmins; an IAM principal can have one EKS access entry only`},
		{"team principal in two teams", map[string]string{"teams": `{"apps":{"principals":["arn:aws:iam::123456789012:role/a"]},"shop":{"principals":["arn:aws:iam::123456789012:role/a"]}}`}, nil,
			`teams.shop.principals: "arn:aws:iam::123456789012:role/a" is also team apps's`},
		{"team access unknown", map[string]string{"teams": `{"apps":{"access":"admin"}}`}, nil,
			`teams.apps.access: want edit or view (EKS's AmazonEKSEditPolicy or AmazonEKSViewPolicy, scoped to the team's namespaces), got "admin"`},
		{"team quota below a service's requests", map[string]string{"teams": `{"apps":{"quota":{"requests":{"cpu":"150m"}}}}`}, nil,
			`services.podinfo: its 2 minimum replicas need requests.cpu 200m > 150m, above team apps's quota in apps (teams.apps.quota)`},
		{"team quota not a quantity", map[string]string{"teams": `{"apps":{"quota":{"limits":{"memory":"lots"}}}}`}, nil,
			`teams.apps.quota.limits.memory: want a positive Kubernetes quantity such as 4, 500m or 8Gi, got "lots"`},
		{"team default request above default limit", map[string]string{"teams": `{"apps":{"limits":{"defaultRequest":{"cpu":"2"}}}}`}, nil,
			`teams.apps.limits.defaultRequest.cpu: 2 is above limits.default.cpu 500m`},
		{"service request above the team's default limit", map[string]string{"services": `{"podinfo":{"resources":{"requests":{"cpu":"800m"},"limits":{"cpu":""}}}}`}, nil,
			`services.podinfo.resources.requests.cpu: 800m is above team apps's default limit 500m, which the API server sets as the empty limit`},
		{"service quantity not a quantity", map[string]string{"services": `{"podinfo":{"resources":{"limits":{"memory":"lots"}}}}`}, nil,
			`services.podinfo.resources.limits.memory: want a Kubernetes quantity such as 1000m or 512Mi, or empty for the team's default, got "lots"`},
		{"progress deadline too short", map[string]string{"services": `{"podinfo":{"analysis":{"progressDeadline":"5s"}}}`}, nil,
			`services.podinfo.analysis.progressDeadline: want whole seconds of at least 30s, such as 5m, got "5s"`},
		{"service in no team's namespace", map[string]string{"teams": `{"apps":{}}`, "services": `{"podinfo":{"namespace":"shop"}}`}, nil,
			"services.podinfo.namespace: \"shop\" belongs to no team; add it to one, e.g. `pulumi config set --path 'teams.shop.namespaces[0]' shop`"},
		{"service in another team's namespace", map[string]string{"teams": `{"apps":{},"shop":{}}`, "services": `{"podinfo":{"namespace":"shop","team":"apps"}}`}, nil,
			`services.podinfo.namespace: "shop" is team shop's, not team apps's; want one of [apps]`},
		{"service of no team", map[string]string{"services": `{"podinfo":{"team":"web"}}`}, nil, `services.podinfo.team: "web" is not a team; want one of [apps]`},
		{"team principals on an app-only stack", map[string]string{"infraStack": "org/progressive-delivery/dev", "platformInstall": "false",
			"teams": `{"apps":{"principals":["arn:aws:iam::123456789012:role/a"]}}`}, nil,
			`teams.apps.principals: set, but this stack does not create the cluster, so it makes no access entries`},
		{"digests not an object", map[string]string{"services": `{"podinfo":{"image":{"digests":["sha256:abc"]}}}`}, nil,
			`services.podinfo: cannot unmarshal array into Go struct field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mon, err := mocks.Run(Run, mocks.RunConfig{Config: mocks.DevConfig(tt.config), Secrets: tt.secrets})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "invalid stack configuration (nothing was changed)")
			assert.NotContains(t, err.Error(), "127.0.0.1", "a kubeconfig is never printed")
			assert.Empty(t, mon.Registrations(), "no resource is declared when the configuration is invalid")
		})
	}
}

func TestConfig_ReportsAllProblemsTogether(t *testing.T) {
	t.Parallel()
	_, err := mocks.Run(Run, mocks.RunConfig{Config: mocks.DevConfig(map[string]string{
		"nodeInstanceType": "huge", "kubernetesVersion": "one", "nodeMinSize": "9", "services": `{"podinfo":{"host":"","strategy":"x"}}`,
	})})
	require.Error(t, err)
	for _, key := range []string{"nodeInstanceType:", "kubernetesVersion:", "services.podinfo.host:", "services.podinfo.strategy:", "nodeMinSize/nodeDesiredSize/nodeMaxSize:"} {
		assert.Contains(t, err.Error(), key)
	}
}

func TestConfig_SecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	const webhook = "http://hooks.slack.com/services/T0000/B0000/SUPERSECRETTOKEN"
	const apiKey = "dd-SUPERSECRET-KEY"
	_, err := mocks.Run(Run, mocks.RunConfig{
		Config: mocks.DevConfig(map[string]string{"slackUrl": webhook, "datadogApiKey": apiKey}),
	})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "SUPERSECRET", "error messages never contain secret values")
	assert.Contains(t, err.Error(), "slackUrl: is stored in plain text")
	assert.Contains(t, err.Error(), "slackUrl: want an https:// incoming-webhook URL (value not shown: it is a secret)")
}

func TestConfig_ZonesMustBeVisibleToTheAccount(t *testing.T) {
	t.Parallel()
	// us-west-1 shows each account two of its three zone names.
	mon, err := mocks.Run(Run, mocks.RunConfig{
		Config: mocks.DevConfig(nil),
		Zones:  []string{"us-west-1a", "us-west-1c"},
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "zones: [us-west-1b] not available to this account in us-west-1; want two or more of [us-west-1a us-west-1c]")
	assert.Empty(t, mon.Registrations())
}

func TestConfig_DefaultsAreTheSpecValues(t *testing.T) {
	t.Parallel()
	d := Defaults()
	assert.Equal(t, []string{"us-west-1a", "us-west-1b"}, d.Zones)
	assert.Equal(t, "192.168.0.0/16", d.VpcCIDR)
	assert.Equal(t, "ps-eks-66", d.ClusterName)
	assert.Equal(t, "1.24", d.KubernetesVersion)
	assert.Equal(t, "nodegroup", d.NodeGroup.Name)
	assert.Equal(t, "m5.2xlarge", d.NodeGroup.InstanceType)
	assert.Equal(t, 100, d.NodeGroup.DiskSizeGiB)
	assert.Equal(t, [3]int{2, 2, 4}, [3]int{d.NodeGroup.MinSize, d.NodeGroup.DesiredSize, d.NodeGroup.MaxSize})
	require.Equal(t, []string{"podinfo"}, slices.Collect(maps.Keys(d.Services)), "the walkthrough's one service")
	podinfo := d.Services["podinfo"]
	assert.Equal(t, "ps-flagger-repository", podinfo.Image.Repository)
	assert.Equal(t, []string{"6.0.0", "6.0.1", "6.0.2", "6.1.0", "6.1.5", "6.1.6"}, podinfo.Image.Tags)
	assert.Equal(t, "6.0.0", podinfo.Version)
	assert.Equal(t, "podinfo.example.com", podinfo.Host)
	assert.Equal(t, "apps", podinfo.Namespace)
	assert.Equal(t, "3.8.2", d.MetricsServerChartVersion)
	assert.Equal(t, "1.14.10", d.GlooChartVersion)
	assert.Equal(t, "1.33.0", d.FlaggerChartVersion)
	d.Region = "us-west-1"
	err := d.Validate()
	require.Error(t, err, "a stack must choose who reaches its public endpoint")
	assert.Equal(t, "endpointPublicAccessCidrs: not set; list the CIDRs pulumi and kubectl run from (e.g. your egress IP /32 and CI's), "+
		"or 0.0.0.0/0 to open the endpoint to the internet as the walkthrough did", err.Error(), "and that is the only thing missing")
	d.PublicAccessCIDRs = []string{"0.0.0.0/0"}
	assert.NoError(t, d.Validate(), "the defaults are otherwise valid")
}

// TestUp_RefusesAClusterEKSNoLongerCreates: `pulumi up` of a stack that would create a 1.24 cluster stops before
// declaring anything, and names the fix; a preview of the same stack goes on with its warning.
func TestUp_RefusesAClusterEKSNoLongerCreates(t *testing.T) {
	t.Parallel()
	dev := mocks.DevConfig(map[string]string{"kubernetesVersion": "1.24"})
	mon, err := mocks.Run(Run, mocks.RunConfig{Config: dev})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kubernetesVersion 1.24: EKS no longer creates clusters at this version (this program's EKS calendar as of 2026-11-27), so nothing was changed")
	assert.Contains(t, err.Error(), "`pulumi config set kubernetesVersion 1.35`, `pulumi config set ingress gatewayapi`, "+
		"`pulumi config set kgatewayChartVersion v2.2.4`, `pulumi config set gatewayApiVersion v1.4.1`, "+
		"`pulumi config set flaggerChartVersion 1.44.0`, `pulumi config set metricsServerChartVersion 3.12.2`")
	assert.Empty(t, mon.Registrations(), "nothing is declared, so nothing is created or billed")

	mon, err = mocks.Run(Run, mocks.RunConfig{Config: dev, DryRun: true})
	require.NoError(t, err, "a preview of dev still shows the walkthrough's values")
	eks, err := graph.NewGraph(mon.Registrations()).One("eks:index:Cluster", "cluster-eks")
	require.NoError(t, err)
	assert.Equal(t, "1.24", graph.MustLookup(t, eks.Inputs, "version"))

	_, err = mocks.Run(Run, mocks.RunConfig{Config: map[string]string{"kubeconfig": testKubeconfig, "kubernetesVersion": "1.24"},
		Secrets: []string{"kubeconfig"}})
	assert.NoError(t, err, "a stack that creates no cluster is not refused")
}

func TestWarnings_GlooEndOfLife(t *testing.T) {
	t.Parallel()
	cfg := Defaults()
	warnings := Warnings(cfg, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "ingress gloo: Gloo Edge OSS reaches end of life on 2026-12-31")
	assert.Contains(t, warnings[0], "`pulumi config set ingress gatewayapi`", "it names the config change")
	assert.Contains(t, Warnings(cfg, time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC))[0], "reached end of life on 2026-12-31")
	cfg.Ingress = "gatewayapi"
	assert.Empty(t, Warnings(cfg, time.Now()))
	cfg.Ingress, cfg.PlatformInstall = "gloo", false
	assert.Empty(t, Warnings(cfg, time.Now()), "a stack that installs no Gloo is not told to move it")
}

// clusterVersionWarnings runs ClusterVersionWarnings under mocks for a dev stack at version.
func clusterVersionWarnings(t *testing.T, version string, rc mocks.RunConfig) ([]string, error) {
	t.Helper()
	var warnings []string
	rc.Config = mocks.DevConfig(map[string]string{"kubernetesVersion": version})
	_, err := mocks.Run(func(ctx *pulumi.Context) error {
		cfg, err := LoadConfig(ctx)
		require.NoError(t, err)
		warnings, err = ClusterVersionWarnings(ctx, cfg, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
		return err
	}, rc)
	return warnings, err
}

func TestClusterVersion_StatusComesFromEKS(t *testing.T) {
	t.Parallel()
	warnings, err := clusterVersionWarnings(t, Current.Kubernetes, mocks.RunConfig{DryRun: true})
	require.NoError(t, err)
	assert.Empty(t, warnings, "prod's version is in standard support")

	warnings, err = clusterVersionWarnings(t, "1.33", mocks.RunConfig{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"kubernetesVersion 1.33 is in EKS extended support until 2027-07-29 (standard support ended 2026-07-29; " +
		"as EKS reports it), which AWS bills at $0.60 per cluster-hour instead of $0.10 (Amazon EKS pricing)"}, warnings)

	// EKS, not the calendar, decides: an answer the calendar does not hold shows up as it is.
	moved := []mocks.EKSVersion{{Version: "1.35", Status: "EXTENDED_SUPPORT", Released: "2026-01-28T00:00:00Z",
		StandardEnd: "2026-11-01T00:00:00Z", ExtendedEnd: "2027-11-01T00:00:00Z"}}
	warnings, err = clusterVersionWarnings(t, "1.35", mocks.RunConfig{DryRun: true, EKSVersions: moved})
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "extended support until 2027-11-01 (standard support ended 2026-11-01; as EKS reports it)")
}

func TestClusterVersion_WithoutEKSTheCalendarAndItsAge(t *testing.T) {
	t.Parallel()
	warnings, err := clusterVersionWarnings(t, "1.33", mocks.RunConfig{DryRun: true, EKSUnreachable: true})
	require.NoError(t, err)
	require.Len(t, warnings, 2)
	assert.Contains(t, warnings[0], "could not ask EKS for the support status of Kubernetes 1.33 (")
	assert.Contains(t, warnings[0], "no such host")
	assert.Contains(t, warnings[0], "using this program's EKS calendar as of 2026-11-27, which may be out of date")
	assert.Contains(t, warnings[1], "in EKS extended support until 2027-07-29 (standard support ended 2026-07-29; this program's EKS calendar as of 2026-11-27)")
}

func TestClusterVersion_UpRefusesWhatEKSDoesNotOffer(t *testing.T) {
	t.Parallel()
	// Past extended support by the calendar: refused without asking AWS, whose provider is then never started.
	mon, err := mocks.Run(func(ctx *pulumi.Context) error {
		cfg, err := LoadConfig(ctx)
		require.NoError(t, err)
		_, err = ClusterVersionWarnings(ctx, cfg, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
		return err
	}, mocks.RunConfig{Config: mocks.DevConfig(map[string]string{"kubernetesVersion": "1.31"})})
	assert.ErrorContains(t, err, "kubernetesVersion 1.31: EKS no longer creates clusters at this version (this program's EKS calendar as of 2026-11-27)")
	assert.Empty(t, mon.Calls(), "no question to AWS")
	// Unknown to the calendar, so EKS is asked, and it does not offer it.
	_, err = clusterVersionWarnings(t, "1.40", mocks.RunConfig{})
	assert.ErrorContains(t, err, "kubernetesVersion 1.40: EKS no longer creates clusters at this version (EKS does not offer it)")
	moved := []mocks.EKSVersion{{Version: "1.35", Status: "UNSUPPORTED", Released: "2026-01-28T00:00:00Z",
		StandardEnd: "2026-10-01T00:00:00Z", ExtendedEnd: "2026-11-01T00:00:00Z"}}
	_, err = clusterVersionWarnings(t, "1.35", mocks.RunConfig{EKSVersions: moved})
	assert.ErrorContains(t, err, "kubernetesVersion 1.35: EKS no longer creates clusters at this version (as EKS reports it)",
		"EKS's answer, not the calendar's, refuses a version the calendar still shows supported")
	warnings, err := clusterVersionWarnings(t, "1.31", mocks.RunConfig{DryRun: true})
	require.NoError(t, err, "a preview goes on")
	assert.Equal(t, []string{"kubernetesVersion 1.31 is past EKS extended support (ended 2026-11-26; this program's EKS calendar as of " +
		"2026-11-27): AWS no longer creates clusters at this version and upgrades existing ones; use it only to reproduce the reference"}, warnings)
}

func TestConfig_PartitionFollowsRegion(t *testing.T) {
	t.Parallel()
	for region, want := range map[string]string{"us-west-1": "aws", "cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov"} {
		assert.Equal(t, want, Config{Region: region}.Partition(), region)
	}
}

// TestConfig_TeamsUnsetOrEmptyAreDerived: the CLI passes Pulumi.yaml's {} for an unset teams key; then, as when
// nothing is passed, one team owns every namespace the services run in.
func TestConfig_TeamsUnsetOrEmptyAreDerived(t *testing.T) {
	t.Parallel()
	for _, value := range []map[string]string{{}, {"teams": "{}"}} {
		value["services"] = `{"cart":{"image":{"source":"ghcr.io/acme/cart"},"version":"1.0.0","host":"cart.example.com","namespace":"shop"}}`
		var cfg Config
		_, err := mocks.Run(func(ctx *pulumi.Context) error {
			var err error
			cfg, err = LoadConfig(ctx)
			return err
		}, mocks.RunConfig{Config: mocks.DevConfig(value)})
		require.NoError(t, err, "%v", value)
		assert.False(t, cfg.TeamsSet)
		assert.Equal(t, teams.OwningAll([]string{"shop"}), cfg.Teams)
		assert.NoError(t, cfg.Validate(), "cart's namespace is the derived team's")
	}
}
