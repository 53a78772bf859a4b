package program

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/progressive-delivery/platform/program/upgrade"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PlanCluster plans what this run does to the versions of the cluster the stack creates: it reads what the cluster
// runs from EKS, asks EKS for each managed add-on's version at kubernetesVersion, and checks the change against
// EKS's rules (package upgrade). A failed check stops the run before anything is declared; the warnings are the
// plan's (a rollback's limits) and what could not be read. A stack that does not create its cluster has no plan.
//
// The running versions come from EKS, not from the stack's own state or outputs: the state holds what the last
// `up` saw, and a cluster moves without one (an update in the console or with eksctl, a node group update, or AWS
// upgrading a cluster itself at the end of extended support). A `pulumi preview --refresh` would read them too,
// but after the program has run; these checks must hold before it declares anything.
func PlanCluster(ctx *pulumi.Context, cfg Config, now time.Time) (upgrade.Plan, []string, error) {
	if !cfg.ManagesCluster() {
		return upgrade.Plan{}, nil, nil
	}
	running, warnings := readRunning(ctx, cfg)
	target := upgrade.Target{Version: cfg.KubernetesVersion, NodeGroup: cfg.NodeGroup.Name, Charts: pinnedCharts(cfg),
		Addons: map[string]string{}, AddonErrors: map[string]string{}}
	// A version EKS no longer offers has no add-on versions either; its `up` is refused on that ground
	// (ClusterVersionWarnings), and a preview of the walkthrough's 1.24 goes on with EKS's defaults.
	if !eksfacts.PastExtendedSupport(cfg.KubernetesVersion, now) {
		for _, name := range eksfacts.ManagedAddons {
			res, err := eks.GetAddonVersion(ctx, &eks.GetAddonVersionArgs{AddonName: name, KubernetesVersion: cfg.KubernetesVersion})
			switch {
			case err != nil && isNotFound(err):
				target.AddonErrors[name] = err.Error()
			case err != nil:
				warnings = append(warnings, fmt.Sprintf("could not ask EKS for the %s add-on's version at Kubernetes %s (%v): "+
					"it is created at EKS's default", name, cfg.KubernetesVersion, err))
			default:
				target.Addons[name] = res.Version
			}
		}
	}
	plan := upgrade.New(running, target)
	if running.Exists() {
		for _, v := range []string{running.ControlPlane, target.Version} {
			if s, known, _ := kubernetesSupport(ctx, v, now); known && (len(plan.Support) == 0 || plan.Support[0].Version != v) {
				plan.Support = append(plan.Support, s)
			}
		}
	}
	if err := errors.Join(plan.Refusals()...); err != nil {
		// The whole plan first, so that the checks that pass show beside those that do not.
		if logErr := ctx.Log.Info(plan.Text(), nil); logErr != nil {
			return plan, nil, logErr
		}
		return plan, nil, fmt.Errorf("the cluster's Kubernetes version change breaks EKS's rules (nothing was changed; "+
			"go run ./cmd/upgrade --stack %s --to <version> plans it):\n%w", ctx.Stack(), err)
	}
	return plan, append(warnings, plan.Warnings...), nil
}

// readRunning reads the cluster's versions from EKS: none when it does not exist yet. What cannot be read is a
// warning, and the checks that need it are skipped.
func readRunning(ctx *pulumi.Context, cfg Config) (upgrade.Running, []string) {
	cluster, err := eks.LookupCluster(ctx, &eks.LookupClusterArgs{Name: cfg.ClusterName})
	if err != nil {
		if isNotFound(err) {
			return upgrade.Running{}, nil
		}
		return upgrade.Running{}, []string{fmt.Sprintf("could not read cluster %s from EKS (%v): the Kubernetes version "+
			"change is not checked against what it runs", cfg.ClusterName, err)}
	}
	running := upgrade.Running{ControlPlane: cluster.Version, Addons: map[string]string{}}
	var warnings []string
	group, err := eks.LookupNodeGroup(ctx, &eks.LookupNodeGroupArgs{ClusterName: cfg.ClusterName, NodeGroupName: cfg.NodeGroup.Name})
	switch {
	case err == nil:
		running.NodeGroup = group.Version
	case !isNotFound(err):
		warnings = append(warnings, fmt.Sprintf("could not read node group %s from EKS (%v): it is taken to match the control plane",
			cfg.NodeGroup.Name, err))
	}
	for _, name := range eksfacts.ManagedAddons {
		addon, err := eks.LookupAddon(ctx, &eks.LookupAddonArgs{AddonName: name, ClusterName: cfg.ClusterName})
		if err == nil {
			running.Addons[name] = addon.AddonVersion
		}
	}
	return running, warnings
}

// isNotFound says whether an EKS read failed because the thing does not exist: EKS's ResourceNotFoundException,
// which the AWS provider reports as "couldn't find resource".
func isNotFound(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "couldn't find resource") || strings.Contains(msg, "ResourceNotFoundException") ||
		strings.Contains(msg, "empty result")
}

// pinnedCharts are the charts the stack installs, by config key.
func pinnedCharts(cfg Config) []upgrade.Chart {
	charts := []upgrade.Chart{{Key: "metricsServerChartVersion", Name: "metrics-server", Version: cfg.MetricsServerChartVersion}}
	if !cfg.PlatformInstall {
		return charts
	}
	switch cfg.Ingress {
	case manifests.IngressGloo:
		charts = append(charts, upgrade.Chart{Key: "glooChartVersion", Name: "gloo", Version: cfg.GlooChartVersion})
	case manifests.IngressGatewayAPI:
		charts = append(charts, upgrade.Chart{Key: "kgatewayChartVersion", Name: "kgateway", Version: cfg.KgatewayChartVersion})
	}
	return append(charts, upgrade.Chart{Key: "flaggerChartVersion", Name: "flagger", Version: cfg.FlaggerChartVersion})
}
