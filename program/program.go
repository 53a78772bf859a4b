// Package program is the Pulumi program: it reads and validates the stack configuration, composes the registry,
// network, cluster, platform and app components, and exports the stack outputs. It lives outside package main so
// that tests can run exactly this program under mocks and through the Automation API.
package program

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/progressive-delivery/platform/infra"
	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/progressive-delivery/platform/program/services"
	"github.com/progressive-delivery/platform/program/teams"
	"github.com/progressive-delivery/platform/program/upgrade"
	"github.com/progressive-delivery/platform/workloads"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Run is the program's pulumi.RunFunc.
func Run(ctx *pulumi.Context) error {
	return RunWithOutputs(nil)(ctx)
}

// Outputs are the stack outputs, by output name.
type Outputs map[string]pulumi.Output

// RunWithOutputs is Run that also hands the stack outputs to observe (when not nil) before it returns; tests
// await them there.
func RunWithOutputs(observe func(*pulumi.Context, Outputs) error) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		outputs, err := run(ctx)
		if err != nil {
			return err
		}
		for name, value := range outputs {
			ctx.Export(name, value)
		}
		if observe != nil {
			return observe(ctx, outputs)
		}
		return nil
	}
}

func run(ctx *pulumi.Context) (Outputs, error) {
	cfg, err := LoadConfig(ctx)
	if err = errors.Join(err, cfg.Validate()); err != nil {
		return nil, fmt.Errorf("invalid stack configuration (nothing was changed):\n%w", err)
	}
	warnings, err := ClusterVersionWarnings(ctx, cfg, time.Now())
	if err != nil {
		return nil, err
	}
	plan, planWarnings, err := PlanCluster(ctx, cfg, time.Now())
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, planWarnings...)
	if plan.Changes() {
		// What a reviewer of the preview needs to see of a version change, and what cmd/upgrade prints.
		if err := ctx.Log.Info(plan.Text(), nil); err != nil {
			return nil, err
		}
	}
	for _, w := range append(append(cfg.Deprecations, warnings...), Warnings(cfg, time.Now())...) {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return nil, err
		}
	}
	if cfg.ManagesCluster() {
		if err := checkZonesAvailable(ctx, cfg); err != nil {
			return nil, err
		}
	}
	return deploy(ctx, cfg, plan)
}

// ClusterVersionWarnings asks EKS where the Kubernetes version of a cluster this stack creates stands, and
// returns what to warn about; `up` of a version EKS no longer creates is refused here.
func ClusterVersionWarnings(ctx *pulumi.Context, cfg Config, now time.Time) ([]string, error) {
	if !cfg.ManagesCluster() {
		return nil, nil
	}
	support, known, note := kubernetesSupport(ctx, cfg.KubernetesVersion, now)
	if err := refuseUncreatableCluster(ctx, support, known); err != nil {
		return nil, err
	}
	var out []string
	for _, w := range []string{note, support.Warning()} {
		if w != "" {
			out = append(out, w)
		}
	}
	return out, nil
}

// refuseUncreatableCluster stops `pulumi up` before any resource when the stack would create a cluster at a
// version EKS no longer creates: otherwise the VPC, NAT gateways, ECR pushes, IAM and KMS are created (and billed)
// before EKS refuses. A preview goes on with the warning, so a pull request's preview of dev still shows the
// walkthrough's values.
func refuseUncreatableCluster(ctx *pulumi.Context, support eksfacts.Support, known bool) error {
	if ctx.DryRun() || !known || support.Status != eksfacts.Unsupported {
		return nil
	}
	return fmt.Errorf("kubernetesVersion %s: EKS no longer creates clusters at this version (%s), so nothing was changed. "+
		"Set a supported version with the chart versions tested with it, as Pulumi.prod.yaml does: %s",
		support.Version, support.Source, currentSetCommands())
}

// Warnings are the problems of the configuration itself that do not stop a deployment: a gateway at or past its
// end of life.
func Warnings(cfg Config, now time.Time) []string {
	var out []string
	if cfg.Ingress == manifests.IngressGloo && cfg.PlatformInstall {
		eol, _ := time.Parse(time.DateOnly, GlooEndOfLife)
		when := "reaches end of life on " + GlooEndOfLife
		if !now.Before(eol) {
			when = "reached end of life on " + GlooEndOfLife
		}
		out = append(out, "ingress gloo: Gloo Edge OSS "+when+` (solo-io/gloo README: "it will no longer receive releases, `+
			`bug fixes, or security patches"). Move to kgateway on the Gateway API with `+
			fmt.Sprintf("`pulumi config set ingress gatewayapi`, `pulumi config set kgatewayChartVersion %s` and "+
				"`pulumi config set gatewayApiVersion %s` (docs/ingress-and-versions.md, the migration runbook)", Current.Kgateway, Current.GatewayAPI))
	}
	return append(out, teams.CanaryWarnings(cfg.Teams, cfg.Services)...)
}

// checkZonesAvailable asks the account which zones it sees: zone names map to different physical zones per
// account, and in us-west-1 an account sees only two of the three names.
func checkZonesAvailable(ctx *pulumi.Context, cfg Config) error {
	available, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{State: pulumi.StringRef("available")})
	if err != nil {
		return fmt.Errorf("listing availability zones of %s: %w", cfg.Region, err)
	}
	var missing []string
	for _, z := range cfg.Zones {
		if !slices.Contains(available.Names, z) {
			missing = append(missing, z)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("zones: %v not available to this account in %s; want two or more of %v",
			missing, cfg.Region, available.Names)
	}
	return nil
}

// target is the cluster the workloads go to and where mirrored images come from.
type target struct {
	provider *kubernetes.Provider
	// mirrors says whether this stack mirrors images into ECR itself (it creates its cluster).
	mirrors bool
	// repositoryURL is, on a stack deploying onto another stack's cluster (infraStack), that stack's mirror of
	// the walkthrough's service.
	repositoryURL pulumi.StringOutput
	// outputs are the stack outputs of the infrastructure side.
	outputs Outputs
	// flaggerRole is the IAM role ARN for Flagger's service account; nil unless the checks read CloudWatch.
	flaggerRole pulumi.StringInput
	// clusterName is the cluster's name for Flagger's notifications; nil when this stack does not know it.
	clusterName pulumi.StringInput
}

func deploy(ctx *pulumi.Context, cfg Config, plan upgrade.Plan) (Outputs, error) {
	// The ingress is chosen here, once, from the validated config; everything below asks it.
	ingress := manifests.MustIngress(cfg.Ingress)
	var t *target
	var err error
	if cfg.ManagesCluster() {
		t, err = createInfrastructure(ctx, cfg, ingress, plan)
	} else {
		t, err = connectToCluster(ctx, cfg, ingress)
	}
	if err != nil {
		return nil, err
	}
	onCluster := pulumi.Providers(t.provider)
	outputs := t.outputs
	names := services.Names(cfg.Services)
	releases := map[string]manifests.Service{}
	for _, name := range names {
		releases[name] = cfg.Services[name].Release(name, cfg.Analysis)
	}

	var router, flagger pulumi.Resource
	var gatewayHostname pulumi.StringOutput
	if cfg.PlatformInstall {
		platformArgs := &workloads.PlatformArgs{
			Ingress:                 ingress,
			GlooChartVersion:        cfg.GlooChartVersion,
			FlaggerChartVersion:     cfg.FlaggerChartVersion,
			KgatewayChartVersion:    cfg.KgatewayChartVersion,
			GatewayAPIVersion:       cfg.GatewayAPIVersion,
			ClusterName:             t.clusterName,
			FlaggerRoleARN:          t.flaggerRole,
			GatewayMetricsToDatadog: cfg.MetricsProvider == manifests.Datadog,
		}
		for _, name := range names {
			s := cfg.Services[name]
			platformArgs.Hosts = append(platformArgs.Hosts, s.Host)
			if !slices.Contains(platformArgs.RouteNamespaces, s.Namespace) {
				platformArgs.RouteNamespaces = append(platformArgs.RouteNamespaces, s.Namespace)
			}
		}
		slices.Sort(platformArgs.Hosts)
		slices.Sort(platformArgs.RouteNamespaces)
		if cfg.DatadogSet {
			platformArgs.Datadog = &workloads.DatadogArgs{ChartVersion: cfg.DatadogChartVersion, APIKey: cfg.DatadogAPIKey, Site: cfg.DatadogSite}
		}
		platform, err := workloads.NewPlatform(ctx, "platform", platformArgs, onCluster)
		if err != nil {
			return nil, err
		}
		router, flagger = platform.Router, platform.Flagger
		outputs["gatewayHostname"] = platform.GatewayHostname
		outputs["appUrl"] = pulumi.Sprintf("http://%s/", platform.GatewayHostname)
		gatewayHostname = platform.GatewayHostname
		// Part of the contract with app-layer stacks (infraStack): their Canaries must use this router.
		outputs["ingress"] = pulumi.String(cfg.Ingress).ToStringOutput()
	}

	owners, err := declareTeams(ctx, cfg, ingress, t, releases, onCluster)
	if err != nil {
		return nil, err
	}
	namespaces, err := declareNamespaces(ctx, cfg, releases, flagger, owners, onCluster)
	if err != nil {
		return nil, err
	}
	// The services output, keyed by service: what a team needs to find and call its service.
	perService := pulumi.Map{}
	for _, name := range names {
		spec := cfg.Services[name]
		args := &workloads.ServiceArgs{
			Release:   releases[name],
			Workload:  workloadOf(spec),
			Ingress:   ingress,
			Namespace: namespaces[spec.Namespace],
			Router:    router,
			Flagger:   flagger,
			// The walkthrough's podinfo was the App of earlier releases, in whatever namespace appNamespace gave
			// it: its objects keep their URNs (aliases to URNs a stack never had change nothing).
			AdoptApp: name == services.Walkthrough,
		}
		switch {
		case spec.Image.Mirrored() && t.mirrors:
			args.Mirror = mirror(ctx, cfg, spec)
		case spec.Image.Mirrored() && cfg.InfraStack != "":
			args.Image = pulumi.Sprintf("%s:%s", t.repositoryURL, spec.Version)
		default:
			// A cluster outside this program has no mirror of ours: it pulls the upstream image.
			args.Image = pulumi.String(spec.Image.Source + ":" + spec.Version)
		}
		if cfg.AlertWebhookURLSet {
			args.EventWebhookURL = cfg.AlertWebhookURL
		}
		svc, err := workloads.NewService(ctx, name, args, onCluster)
		if err != nil {
			return nil, err
		}
		out := pulumi.Map{"image": svc.Image, "host": pulumi.String(spec.Host), "namespace": pulumi.String(spec.Namespace), "canary": svc.CanaryName}
		if cfg.PlatformInstall {
			out["curlCommand"] = pulumi.Sprintf("curl -H 'Host: %s' http://%s/", spec.Host, gatewayHostname)
		}
		if args.Mirror != nil {
			out["repositoryUrl"], out["sourceDigests"] = svc.RepositoryURL, svc.SourceDigests
		}
		perService[name] = out
		if name == services.Walkthrough {
			// The walkthrough's names, and the contract app-layer stacks (infraStack) read.
			outputs["podinfoImage"] = svc.Image
			if curl, ok := out["curlCommand"]; ok {
				outputs["curlCommand"] = curl.(pulumi.StringOutput)
			}
			if args.Mirror != nil {
				outputs["repositoryUrl"] = svc.RepositoryURL
				outputs["podinfoSourceDigests"] = svc.SourceDigests
			}
		}
	}
	outputs["services"] = perService.ToMapOutput()
	return outputs, nil
}

// declareNamespaces creates each namespace the services run in, with a load tester where one of its services'
// releases calls one.
func declareNamespaces(ctx *pulumi.Context, cfg Config, releases map[string]manifests.Service, flagger pulumi.Resource,
	owners map[string]*workloads.Team, opts ...pulumi.ResourceOption) (map[string]*workloads.ServiceNamespace, error) {
	testers := map[string]bool{}
	for _, release := range releases {
		testers[release.Namespace] = testers[release.Namespace] || release.NeedsLoadTester()
	}
	// The App of earlier releases held podinfo's namespace, which services.podinfo.namespace now names.
	adopted := ""
	if podinfo, ok := releases[services.Walkthrough]; ok {
		adopted = podinfo.Namespace
	}
	out := map[string]*workloads.ServiceNamespace{}
	for _, ns := range slices.Sorted(maps.Keys(testers)) {
		args := &workloads.ServiceNamespaceArgs{
			Name:    ns,
			Flagger: flagger,
			Metrics: &workloads.MetricsArgs{
				Source: manifests.MetricsSource{
					Provider: cfg.MetricsProvider, DatadogAPI: cfg.DatadogAPI(), Region: cfg.Region, EKSCluster: cfg.ClusterName,
				},
				DatadogAPIKey: cfg.DatadogAPIKey, DatadogAppKey: cfg.DatadogAppKey,
			},
			AdoptApp: ns == adopted,
			Team:     owners[ns],
		}
		if testers[ns] {
			args.LoadTesterImage = cfg.LoadTesterImage
		}
		if cfg.SlackURLSet {
			args.Slack = &workloads.AlertArgs{URL: cfg.SlackURL, Severity: cfg.SlackSeverity, Channel: cfg.SlackChannel, User: cfg.SlackUser}
		}
		if cfg.TeamsURLSet {
			args.Teams = &workloads.AlertArgs{URL: cfg.TeamsURL, Severity: cfg.TeamsSeverity}
		}
		n, err := workloads.NewServiceNamespace(ctx, ns, args, opts...)
		if err != nil {
			return nil, err
		}
		out[ns] = n
	}
	return out, nil
}

// declareTeams creates each team with its namespaces, and returns the team that owns each namespace.
func declareTeams(ctx *pulumi.Context, cfg Config, ingress manifests.Ingress, t *target, releases map[string]manifests.Service,
	opts ...pulumi.ResourceOption) (map[string]*workloads.Team, error) {
	// Namespaces that hosted services were created by a ServiceNamespace, the walkthrough's by the App before it.
	var former []string
	for _, r := range releases {
		former = append(former, r.Namespace)
	}
	formerApp := ""
	if podinfo, ok := releases[services.Walkthrough]; ok {
		formerApp = podinfo.Namespace
	}
	owners := map[string]*workloads.Team{}
	for _, name := range teams.Names(cfg.Teams) {
		spec := cfg.Teams[name]
		args := &workloads.TeamArgs{
			Namespaces: spec.NamespacesOf(name),
			Ingress:    ingress,
			Quota: workloads.TeamQuota{
				RequestsCPU: spec.Quota.Requests.CPU, RequestsMemory: spec.Quota.Requests.Memory,
				LimitsCPU: spec.Quota.Limits.CPU, LimitsMemory: spec.Quota.Limits.Memory, Pods: spec.Quota.Pods,
			},
			Limits: workloads.TeamLimits{
				DefaultRequestCPU: spec.Limits.DefaultRequest.CPU, DefaultRequestMemory: spec.Limits.DefaultRequest.Memory,
				DefaultCPU: spec.Limits.Default.CPU, DefaultMemory: spec.Limits.Default.Memory,
			},
			Principals:              spec.Principals,
			AccessPolicy:            map[string]string{teams.AccessEdit: eksfacts.EditPolicy, teams.AccessView: eksfacts.ViewPolicy}[spec.Access],
			Partition:               cfg.Partition(),
			FormerServiceNamespaces: former,
			FormerAppNamespace:      formerApp,
		}
		if len(spec.Principals) > 0 {
			args.ClusterName = t.clusterName
		}
		if cfg.MetricsProvider == manifests.Datadog {
			args.ScraperNamespace = workloads.DatadogNamespace
		}
		team, err := workloads.NewTeam(ctx, name, args, opts...)
		if err != nil {
			return nil, err
		}
		for _, ns := range args.Namespaces {
			owners[ns] = team
		}
	}
	return owners, nil
}

// workloadOf is what a service's Deployment runs, from its spec.
func workloadOf(s services.Spec) workloads.Workload {
	extra := map[string]int32{}
	for name, port := range s.ExtraPorts {
		extra[name] = int32(port)
	}
	return workloads.Workload{
		ContainerName: s.ContainerName, MetricsPort: int32(s.MetricsPort), ExtraPorts: extra,
		ReadinessPath: s.ReadinessPath, LivenessPath: s.LivenessPath, ProbeCommand: s.ProbeCommand,
		Command: s.Command, Args: s.Args, Env: s.Env, RunAsUser: s.RunAsUser,
		Requests:    quantities(s.Resources.Requests),
		Limits:      quantities(s.Resources.Limits),
		MinReplicas: s.MinReplicas, MaxReplicas: s.MaxReplicas, CPUUtilization: s.CPUUtilization, MaxUnavailable: s.MaxUnavailable,
	}
}

// quantities are a container's cpu and memory, without the empty ones: those the namespace's LimitRange sets.
func quantities(q services.Quantities) map[string]string {
	out := map[string]string{}
	if q.CPU != "" {
		out["cpu"] = q.CPU
	}
	if q.Memory != "" {
		out["memory"] = q.Memory
	}
	return out
}

// mirror creates a service's ECR mirror, for the Service to parent.
func mirror(ctx *pulumi.Context, cfg Config, spec services.Spec) func(string, ...pulumi.ResourceOption) (*workloads.Mirror, error) {
	return func(name string, opts ...pulumi.ResourceOption) (*workloads.Mirror, error) {
		registry, err := infra.NewRegistry(ctx, name, &infra.RegistryArgs{
			Name: spec.Image.Repository, SourceImage: spec.Image.Source, ImageTags: spec.Image.Tags, Digests: spec.Image.Digests,
			// The walkthrough deletes the repository with --force; destroy must too.
			ForceDelete: true, MutableTags: cfg.ECRMutableTags, Tags: awsTags(ctx),
		}, opts...)
		if err != nil {
			return nil, err
		}
		image, ok := registry.Images[spec.Version]
		if !ok {
			return nil, fmt.Errorf("version %q is not a mirrored tag %v", spec.Version, spec.Image.Tags)
		}
		return &workloads.Mirror{Image: image, RepositoryURL: registry.RepositoryURL, SourceDigests: registry.SourceDigests}, nil
	}
}

// awsTags are the tags of every AWS resource of the stack.
func awsTags(ctx *pulumi.Context) map[string]string {
	return map[string]string{"project": Project, "stack": ctx.Stack(), "managed-by": "pulumi"}
}

// createInfrastructure declares the registry, the network and the cluster, at the versions the plan sets.
func createInfrastructure(ctx *pulumi.Context, cfg Config, ingress manifests.Ingress, plan upgrade.Plan) (*target, error) {
	tags := awsTags(ctx)

	network, err := infra.NewNetwork(ctx, "network", &infra.NetworkArgs{
		CIDR:        cfg.VpcCIDR,
		Zones:       cfg.Zones,
		ClusterName: cfg.ClusterName,
		NATPerZone:  cfg.NATPerZone,
		Tags:        tags,
	})
	if err != nil {
		return nil, err
	}

	cluster, err := infra.NewCluster(ctx, "cluster", &infra.ClusterArgs{
		Name:                      cfg.ClusterName,
		Version:                   plan.ControlPlane,
		NodeGroupVersion:          plan.NodeGroup,
		Addons:                    plan.Addons,
		VpcID:                     network.VpcID,
		PublicSubnetIDs:           network.PublicSubnetIDs,
		PrivateSubnetIDs:          network.PrivateSubnetIDs,
		NodeGroupDependsOn:        network.EgressRoutes,
		PublicAccessCIDRs:         cfg.PublicAccessCIDRs,
		NodeGroup:                 cfg.NodeGroup,
		MetricsServerChartVersion: cfg.MetricsServerChartVersion,
		Partition:                 cfg.Partition(),
		PlaintextSecrets:          !cfg.SecretsEncryption,
		LogTypes:                  cfg.ClusterLogTypes,
		LogRetentionDays:          cfg.ClusterLogRetention,
		Admins:                    cfg.ClusterAdmins,
		Tags:                      tags,
	})
	if err != nil {
		return nil, err
	}
	var flaggerRole pulumi.StringInput
	if cfg.MetricsProvider == manifests.CloudWatch {
		reader, err := infra.NewMetricsReader(ctx, "flagger-metrics-reader", &infra.MetricsReaderArgs{
			OIDCIssuer:              cluster.OIDCIssuer,
			ServiceAccountNamespace: ingress.Namespace(),
			ServiceAccountName:      workloads.FlaggerServiceAccount,
			Partition:               cfg.Partition(),
			Tags:                    tags,
		})
		if err != nil {
			return nil, err
		}
		flaggerRole = reader.RoleARN
	}
	return &target{
		provider:    cluster.Provider,
		mirrors:     true,
		flaggerRole: flaggerRole,
		clusterName: cluster.ClusterName,
		// These outputs, with repositoryUrl, are the contract other stacks read through infraStack.
		outputs: Outputs{
			"clusterName": cluster.ClusterName,
			"kubeconfig":  cluster.Kubeconfig,
		},
	}, nil
}

// connectToCluster targets an existing cluster: another stack's (infraStack) or any kubeconfig's.
func connectToCluster(ctx *pulumi.Context, cfg Config, ingress manifests.Ingress) (*target, error) {
	args := &infra.ClusterConnectionArgs{InfraStack: cfg.InfraStack}
	if cfg.KubeconfigSet {
		args.Kubeconfig = cfg.Kubeconfig
	}
	conn, err := infra.NewClusterConnection(ctx, "cluster", args)
	if err != nil {
		return nil, err
	}
	if cfg.InfraStack != "" {
		if !cfg.PlatformInstall && conn.PlatformIngress != "" && conn.PlatformIngress != cfg.Ingress {
			return nil, fmt.Errorf("ingress: %q, but the platform of infraStack %s runs %q, so Flagger there cannot route a "+
				"Canary of provider %s; set `pulumi config set ingress %s` (nothing was changed)", cfg.Ingress, cfg.InfraStack,
				conn.PlatformIngress, ingress.Provider(), conn.PlatformIngress)
		}
		return &target{
			provider:      conn.Provider,
			clusterName:   conn.ClusterName,
			repositoryURL: conn.RepositoryURL,
			outputs:       Outputs{"repositoryUrl": conn.RepositoryURL, "clusterName": conn.ClusterName},
		}, nil
	}
	return &target{provider: conn.Provider, outputs: Outputs{}}, nil
}
