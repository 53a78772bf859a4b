package program

import (
	"fmt"
	"time"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/program/upgrade"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Current is the set of versions prod runs, the tests check together, and `up` names when it refuses a
// version: Kubernetes in EKS standard support, and charts whose own support tables include it. This is its
// one home; Pulumi.prod.yaml is a stack that uses it (a test holds the two equal).
var Current = struct {
	Ingress, Kubernetes, MetricsServer, Flagger, Kgateway, GatewayAPI, Gloo string
}{
	Ingress:    "gatewayapi",
	Kubernetes: "1.35",
	// metrics-server's chart 3.12.2 runs metrics-server 0.7.2, for Kubernetes 1.19 and later.
	MetricsServer: "3.12.2",
	// Flagger 1.44.0: gatewayapi:v1, and Kubernetes 1.36 in its test matrix.
	Flagger: "1.44.0",
	// kgateway 2.2.x: Kubernetes 1.31-1.35 and Gateway API 1.4.x (kgateway.dev, reference/versions).
	Kgateway:   "v2.2.4",
	GatewayAPI: "v1.4.1",
	// For stacks that stay on Gloo Edge until its end of life: 1.22.x supports Kubernetes 1.31-1.36.
	Gloo: "1.22.1",
}

// GlooEndOfLife is when Gloo Edge OSS stops getting releases and security patches (solo-io/gloo README).
const GlooEndOfLife = "2026-12-31"

// checkChartSupportsKubernetes refuses a Kubernetes version outside the chosen gateway chart's support table,
// naming a series of the chart that supports it, or saying that none does yet.
func checkChartSupportsKubernetes(key, chart, version, kubernetes string) error {
	check, known := upgrade.ChartCheck(upgrade.Chart{Key: key, Name: chart, Version: version}, kubernetes)
	if !known || check.Pass {
		return nil
	}
	return fmt.Errorf("kubernetesVersion: %s (%s)", check.Detail, currentSetCommands())
}

// currentSetCommands are the config commands that put a stack on Current.
func currentSetCommands() string {
	return fmt.Sprintf("`pulumi config set kubernetesVersion %s`, `pulumi config set ingress %s`, "+
		"`pulumi config set kgatewayChartVersion %s`, `pulumi config set gatewayApiVersion %s`, "+
		"`pulumi config set flaggerChartVersion %s`, `pulumi config set metricsServerChartVersion %s`",
		Current.Kubernetes, Current.Ingress, Current.Kgateway, Current.GatewayAPI, Current.Flagger, Current.MetricsServer)
}

// kubernetesSupport asks EKS where the stack's Kubernetes version stands (eks.getClusterVersions, unsupported
// versions included), unless the calendar already shows it past extended support. When EKS cannot be asked (no
// credentials, no network) it falls back on the calendar, and the note says so and how old the calendar is.
func kubernetesSupport(ctx *pulumi.Context, version string, now time.Time) (support eksfacts.Support, known bool, note string) {
	// A version whose extended support has ended never comes back: that needs no question to AWS (nor its
	// provider plugin and credentials), and `up` refuses it before anything at all is registered.
	if s, ok := eksfacts.FromCalendar(version, now); ok && s.Status == eksfacts.Unsupported {
		return s, true, ""
	}
	res, err := eks.GetClusterVersions(ctx, &eks.GetClusterVersionsArgs{
		ClusterVersionsOnlies: []string{version},
		IncludeAll:            pulumi.BoolRef(true),
	})
	if err != nil {
		s, ok := eksfacts.FromCalendar(version, now)
		return s, ok, fmt.Sprintf("could not ask EKS for the support status of Kubernetes %s (%v); "+
			"using this program's EKS calendar as of %s, which may be out of date", version, err, eksfacts.CalendarAsOf)
	}
	for _, v := range res.ClusterVersions {
		if v.ClusterVersion == version {
			return eksfacts.Support{Version: version, Status: v.VersionStatus, StandardEnd: day(v.EndOfStandardSupportDate),
				ExtendedEnd: day(v.EndOfExtendedSupportDate), Source: "as EKS reports it"}, true, ""
		}
	}
	// EKS lists every version it ever offered when asked for all; one it does not list it never offered.
	return eksfacts.Support{Version: version, Status: eksfacts.Unsupported, Source: "EKS does not offer it"}, true, ""
}

// day is the date of an EKS timestamp (RFC 3339, or already a date).
func day(ts string) string {
	if t, err := time.Parse(time.RFC3339, ts); err == nil {
		return t.UTC().Format(time.DateOnly)
	}
	return ts
}
