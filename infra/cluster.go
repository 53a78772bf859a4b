package infra

import (
	"fmt"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/progressive-delivery/platform/internal/kubeprovider"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-eks/sdk/v2/go/eks"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeCluster is the type token of Cluster.
const TypeCluster = "progressive-delivery:infra:Cluster"

// MetricsServerRepo is the Helm repository of the metrics-server chart.
const MetricsServerRepo = "https://kubernetes-sigs.github.io/metrics-server/"

// Cluster is an EKS control plane with one managed node group, the Kubernetes provider that targets it, and
// metrics-server.
type Cluster struct {
	pulumi.ResourceState

	ClusterName pulumi.StringOutput `pulumi:"clusterName"`
	// Kubeconfig is secret: it names the cluster endpoint and the exec credential command.
	Kubeconfig pulumi.StringOutput `pulumi:"kubeconfig"`
	// Provider deploys onto this cluster. It waits for the node group, so everything deployed with it is created
	// after the nodes and destroyed before them.
	Provider  *kubernetes.Provider
	NodeGroup *eks.ManagedNodeGroup
	// Addons are the EKS add-ons the cluster owns, by name.
	Addons map[string]*awseks.Addon
	// OIDCIssuer is the issuer URL of the cluster's OIDC provider, which IRSA roles trust; known once the
	// cluster exists.
	OIDCIssuer pulumi.StringOutput
}

// NodeGroupSpec configures the managed node group.
type NodeGroupSpec struct {
	// Required. Node group name.
	Name string
	// Required. EC2 instance type (x86_64).
	InstanceType string
	// Required. Root volume size in GiB.
	DiskSizeGiB int
	// Required. 1 <= MinSize <= DesiredSize <= MaxSize.
	MinSize, DesiredSize, MaxSize int
}

// ClusterArgs configures a Cluster.
type ClusterArgs struct {
	// Required. EKS cluster name.
	Name string
	// Required. Kubernetes minor version of the control plane, e.g. "1.24".
	Version string
	// Required. Kubernetes minor version of the managed node group: the control plane's, or one below while a
	// rollback takes the node group back first. Never newer than Version.
	NodeGroupVersion string
	// Optional. The EKS add-ons the cluster owns (eksfacts.ManagedAddons) by name, with their versions; "" is EKS's
	// default for the Kubernetes version. An add-on not listed is left as EKS installed it.
	Addons map[string]string
	// Required. The VPC and its subnets; nodes run in the private subnets.
	VpcID            pulumi.StringInput
	PublicSubnetIDs  pulumi.StringArrayInput
	PrivateSubnetIDs pulumi.StringArrayInput
	// Optional. Resources the node group waits for: the private subnets' NAT routes, without which nodes cannot
	// reach ECR or the API endpoint and never join.
	NodeGroupDependsOn []pulumi.Resource
	// Required. CIDRs allowed to reach the public API endpoint (pulumi up from a laptop or CI); no open default.
	// Private endpoint access is always on, so nodes talk to the API inside the VPC.
	PublicAccessCIDRs []string
	// Required. The managed node group.
	NodeGroup NodeGroupSpec
	// Required. Pinned metrics-server chart version.
	MetricsServerChartVersion string
	// Required. AWS partition of the managed policy ARNs, e.g. aws.
	Partition string
	// Optional; default false: Kubernetes secrets are envelope-encrypted with a KMS key of this cluster (key
	// rotation on). True stores them with EBS-level encryption only.
	PlaintextSecrets bool
	// Required (may be empty). Control-plane log types sent to CloudWatch.
	LogTypes []string
	// Required. Days CloudWatch keeps the control-plane logs.
	LogRetentionDays int
	// Optional. IAM role or user ARNs that become cluster admins through EKS access entries, besides the identity
	// that creates the cluster.
	Admins []string
	// Optional. Tags for every AWS resource.
	Tags map[string]string
}

// NewCluster creates the node role, the EKS cluster, its managed node group, the provider and metrics-server.
func NewCluster(ctx *pulumi.Context, name string, args *ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	// The stack configuration holds every default; a component that set its own would be a second source.
	if args == nil || args.Name == "" || args.Version == "" || args.NodeGroupVersion == "" || args.VpcID == nil || args.PrivateSubnetIDs == nil ||
		args.PublicSubnetIDs == nil || args.NodeGroup.Name == "" || args.MetricsServerChartVersion == "" ||
		args.Partition == "" || args.LogTypes == nil || args.LogRetentionDays <= 0 {
		return nil, fmt.Errorf("cluster %s: Name, Version, NodeGroupVersion, VpcID, subnets, NodeGroup, MetricsServerChartVersion, Partition, "+
			"LogTypes and LogRetentionDays are required", name)
	}
	partition := args.Partition
	if len(args.PublicAccessCIDRs) == 0 {
		return nil, fmt.Errorf("cluster %s: PublicAccessCIDRs is required (there is no open default)", name)
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource(TypeCluster, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	tags := pulumi.ToStringMap(args.Tags)

	nodeRole, err := iam.NewRole(ctx, name+"-node-role", &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(nodeAssumeRolePolicy()),
		Description:      pulumi.String("EKS managed node group role of " + args.Name),
		Tags:             tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating node role: %w", err)
	}
	var attachments []pulumi.Resource
	for _, policy := range eksfacts.NodePolicies {
		a, err := iam.NewRolePolicyAttachment(ctx, name+"-node-"+policy, &iam.RolePolicyAttachmentArgs{
			Role:      nodeRole.Name,
			PolicyArn: pulumi.Sprintf("arn:%s:iam::aws:policy/%s", partition, policy),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("attaching %s: %w", policy, err)
		}
		attachments = append(attachments, a)
	}

	logTypes := args.LogTypes
	var secretsKeyARN pulumi.StringPtrInput
	if !args.PlaintextSecrets {
		key, err := kms.NewKey(ctx, name+"-secrets-key", &kms.KeyArgs{
			Description:          pulumi.String("envelope encryption of Kubernetes secrets in EKS cluster " + args.Name),
			EnableKeyRotation:    pulumi.Bool(true),
			DeletionWindowInDays: pulumi.Int(7),
			Tags:                 tags,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating secrets KMS key: %w", err)
		}
		secretsKeyARN = key.Arn
	}

	// EKS would create this log group itself, with no retention, and destroy would leave it behind.
	logRetention := args.LogRetentionDays
	logGroup, err := cloudwatch.NewLogGroup(ctx, name+"-control-plane-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/eks/" + args.Name + "/cluster"),
		RetentionInDays: pulumi.Int(logRetention),
		Tags:            tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating control-plane log group: %w", err)
	}

	cluster, err := eks.NewCluster(ctx, name+"-eks", &eks.ClusterArgs{
		Name:             pulumi.String(args.Name),
		Version:          pulumi.String(args.Version),
		VpcId:            args.VpcID,
		PublicSubnetIds:  args.PublicSubnetIDs,
		PrivateSubnetIds: args.PrivateSubnetIDs,
		// The managed node group below replaces pulumi-eks's self-managed default group.
		SkipDefaultNodeGroup:         pulumi.BoolRef(true),
		NodeAssociatePublicIpAddress: pulumi.BoolRef(false),
		// Access entries only: the creator stays admin (pulumi-eks sets bootstrapClusterCreatorAdminPermissions),
		// clusterAdmins join it, and EKS adds the managed node group's role itself. No aws-auth ConfigMap.
		AuthenticationMode: &accessEntriesOnly,
		// Given no instance role, pulumi-eks makes one for a default node group (<name>-instanceRole, with the
		// node policies) and an EC2_LINUX access entry that lets it register nodes, even with the default group
		// skipped. Nothing runs with it. The node group's role needs no entry of ours either: EKS creates one for
		// a managed node group's role, and one IAM principal can be in only one access entry (EKS User Guide,
		// "Create access entries"). With an empty list pulumi-eks creates neither (cluster.js:448).
		InstanceRoles: iam.RoleArray{},
		AccessEntries: adminAccessEntries(args.Admins, partition),
		// EKS's own VPC CNI add-on; pulumi-eks would otherwise kubectl-apply its bundled (older) CNI over it.
		UseDefaultVpcCni:      pulumi.BoolRef(true),
		EndpointPrivateAccess: pulumi.Bool(true),
		EndpointPublicAccess:  pulumi.Bool(true),
		PublicAccessCidrs:     pulumi.ToStringArray(args.PublicAccessCIDRs),
		// IRSA lets add-ons (autoscaler, Datadog) get AWS permissions without widening the node role.
		CreateOidcProvider:     pulumi.Bool(true),
		EncryptionConfigKeyArn: secretsKeyARN,
		EnabledClusterLogTypes: pulumi.ToStringArray(logTypes),
		Tags:                   tags,
	}, parent, pulumi.DependsOn([]pulumi.Resource{logGroup}))
	if err != nil {
		return nil, fmt.Errorf("creating EKS cluster: %w", err)
	}

	ng := args.NodeGroup
	launchTemplate, err := newNodeLaunchTemplate(ctx, name, args, parent)
	if err != nil {
		return nil, err
	}
	nodeTags := pulumi.StringMap{
		"k8s.io/cluster-autoscaler/enabled":      pulumi.String("true"),
		"k8s.io/cluster-autoscaler/" + args.Name: pulumi.String("owned"),
	}
	for k, v := range args.Tags {
		nodeTags[k] = pulumi.String(v)
	}
	nodeDeps := append(append([]pulumi.Resource{}, attachments...), args.NodeGroupDependsOn...)
	nodeGroup, err := eks.NewManagedNodeGroup(ctx, name+"-nodes", &eks.ManagedNodeGroupArgs{
		Cluster:       cluster,
		NodeGroupName: pulumi.String(ng.Name),
		// Set, not left to EKS: unset, a node group keeps the version it was created at when the control plane
		// moves, and the next control-plane update is refused until it matches. Its update waits for the
		// cluster's, whose name it reads: the order EKS requires, control plane first.
		Version:       pulumi.String(args.NodeGroupVersion),
		NodeRole:      nodeRole,
		SubnetIds:     args.PrivateSubnetIDs,
		InstanceTypes: pulumi.StringArray{pulumi.String(ng.InstanceType)},
		LaunchTemplate: awseks.NodeGroupLaunchTemplateArgs{
			Id:      launchTemplate.ID(),
			Version: launchTemplate.LatestVersion.ApplyT(func(v int) string { return fmt.Sprint(v) }).(pulumi.StringOutput),
		},
		ScalingConfig: awseks.NodeGroupScalingConfigArgs{
			MinSize:     pulumi.Int(ng.MinSize),
			DesiredSize: pulumi.Int(ng.DesiredSize),
			MaxSize:     pulumi.Int(ng.MaxSize),
		},
		Tags: nodeTags,
	}, parent, pulumi.DependsOn(nodeDeps))
	if err != nil {
		return nil, fmt.Errorf("creating managed node group: %w", err)
	}

	// The add-ons move after the node group (EKS User Guide, "Update existing cluster"): coredns and kube-proxy
	// must not be newer than the nodes they run on.
	// EKS names the cluster exactly as asked; deriving the name from the cluster's URN keeps the dependency.
	clusterName := args.Name
	c.ClusterName = cluster.URN().ApplyT(func(pulumi.URN) string { return clusterName }).(pulumi.StringOutput)
	addons, err := newAddons(ctx, name, args, c.ClusterName, nodeGroup, parent)
	if err != nil {
		return nil, err
	}

	provider, err := kubernetes.NewProvider(ctx, name+"-k8s", &kubernetes.ProviderArgs{
		Kubeconfig: cluster.KubeconfigJson,
	}, parent, pulumi.DependsOn([]pulumi.Resource{nodeGroup}))
	if err != nil {
		return nil, fmt.Errorf("creating kubernetes provider: %w", err)
	}

	if _, err := kubeprovider.NewRelease(ctx, name+"-metrics-server", &kubeprovider.ReleaseArgs{
		Name:      pulumi.String("metrics-server"),
		Chart:     pulumi.String("metrics-server"),
		Version:   pulumi.String(args.MetricsServerChartVersion),
		Namespace: pulumi.String("kube-system"),
		Repo:      pulumi.String(MetricsServerRepo),
	}, parent, pulumi.Provider(provider)); err != nil {
		return nil, fmt.Errorf("installing metrics-server chart: %w", err)
	}

	c.Kubeconfig = pulumi.ToSecret(cluster.KubeconfigJson).(pulumi.StringOutput)
	c.Provider = provider
	c.NodeGroup = nodeGroup
	c.Addons = addons
	// Read back from EKS rather than from the component's core.oidcProvider: the name is taken from the
	// kubeconfig so the lookup waits until the cluster exists (a new stack's preview skips it).
	existingName := cluster.KubeconfigJson.ApplyT(func(string) string { return clusterName }).(pulumi.StringOutput)
	c.OIDCIssuer = awseks.LookupClusterOutput(ctx, awseks.LookupClusterOutputArgs{Name: existingName}, pulumi.Parent(c)).
		Identities().Index(pulumi.Int(0)).Oidcs().Index(pulumi.Int(0)).Issuer()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"clusterName": c.ClusterName,
		"kubeconfig":  c.Kubeconfig,
	}); err != nil {
		return nil, err
	}
	return c, nil
}
