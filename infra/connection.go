package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeClusterConnection is the type token of ClusterConnection.
const TypeClusterConnection = "progressive-delivery:infra:ClusterConnection"

// ClusterConnection targets a cluster this stack does not create: one from another stack of this program (its
// outputs are the contract: kubeconfig, repositoryUrl, clusterName) or any cluster given by a kubeconfig.
type ClusterConnection struct {
	pulumi.ResourceState

	// Provider deploys onto the cluster.
	Provider *kubernetes.Provider
	// RepositoryURL is the image repository of the infrastructure stack; empty for a bare kubeconfig.
	RepositoryURL pulumi.StringOutput `pulumi:"repositoryUrl"`
	// ClusterName is the infrastructure stack's cluster name; empty for a bare kubeconfig.
	ClusterName pulumi.StringOutput `pulumi:"clusterName"`
	// PlatformIngress is the ingress the infrastructure stack's platform runs (its output "ingress"); empty for a
	// bare kubeconfig or a stack that installs no platform.
	PlatformIngress string
}

// ClusterConnectionArgs configures a ClusterConnection; exactly one of InfraStack and Kubeconfig is set.
type ClusterConnectionArgs struct {
	// InfraStack is a stack reference name (org/project/stack) whose outputs describe the cluster.
	InfraStack string
	// Kubeconfig of a cluster not managed by Pulumi; pass a secret.
	Kubeconfig pulumi.StringInput
}

// NewClusterConnection creates the Kubernetes provider for an existing cluster.
func NewClusterConnection(ctx *pulumi.Context, name string, args *ClusterConnectionArgs, opts ...pulumi.ResourceOption) (*ClusterConnection, error) {
	if args == nil || (args.InfraStack == "") == (args.Kubeconfig == nil) {
		return nil, fmt.Errorf("cluster connection %s: set exactly one of InfraStack and Kubeconfig", name)
	}
	c := &ClusterConnection{}
	if err := ctx.RegisterComponentResource(TypeClusterConnection, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	kubeconfig := args.Kubeconfig
	c.RepositoryURL = pulumi.String("").ToStringOutput()
	c.ClusterName = pulumi.String("").ToStringOutput()
	if args.InfraStack != "" {
		ref, err := pulumi.NewStackReference(ctx, name+"-infra", &pulumi.StackReferenceArgs{Name: pulumi.String(args.InfraStack)}, parent)
		if err != nil {
			return nil, fmt.Errorf("referencing stack %s: %w", args.InfraStack, err)
		}
		kubeconfig = pulumi.ToSecret(ref.GetStringOutput(pulumi.String("kubeconfig"))).(pulumi.StringOutput)
		c.RepositoryURL = ref.GetStringOutput(pulumi.String("repositoryUrl"))
		c.ClusterName = ref.GetStringOutput(pulumi.String("clusterName"))
		// Read now, not as an output: the app layer's Canary provider must match it before anything is declared.
		ingress, err := ref.GetOutputDetails("ingress")
		if err != nil {
			return nil, fmt.Errorf("cluster connection %s: reading %s's ingress: %w", name, args.InfraStack, err)
		}
		c.PlatformIngress, _ = ingress.Value.(string)
	}
	provider, err := kubernetes.NewProvider(ctx, name+"-k8s", &kubernetes.ProviderArgs{Kubeconfig: kubeconfig}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating kubernetes provider: %w", err)
	}
	c.Provider = provider
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"repositoryUrl": c.RepositoryURL,
		"clusterName":   c.ClusterName,
	}); err != nil {
		return nil, err
	}
	return c, nil
}
