// Package eksfacts holds facts about Amazon EKS and pulumi-eks 2.8.1 that both the program and the policy pack
// need: the control-plane log types, the node role's policies, the support calendar, and the names pulumi-eks
// gives the AWS resources it creates. It imports no SDK, so the policy pack does not pull in the program.
package eksfacts

import (
	"regexp"
	"strings"
)

// AllLogTypes are the five EKS control-plane log types (CIS EKS 2.1.1).
var AllLogTypes = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}

// NodePolicies are the managed policies of the node role: what a node needs to join, run the VPC CNI and pull
// from ECR, and nothing more (the walkthrough attached eight, S3 full access among them).
var NodePolicies = []string{"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}

// Type tokens of what pulumi-eks's components create. The components themselves (eks:index:Cluster,
// eks:index:ManagedNodeGroup) are registered by pulumi-eks 2.8.1 with empty inputs, so a policy reads these.
const (
	ClusterType      = "aws:eks/cluster:Cluster"
	NodeGroupType    = "aws:eks/nodeGroup:NodeGroup"
	OIDCProviderType = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
	AccessEntryType  = "aws:eks/accessEntry:AccessEntry"
	AccessPolicyType = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
)

// ClusterResourceName is the logical name pulumi-eks 2.8.1 gives the aws:eks/cluster:Cluster of the
// eks:index:Cluster component named component (cluster.js: `${name}-eksCluster`).
func ClusterResourceName(component string) string { return component + "-eksCluster" }

// OIDCProviderName is the logical name of the component's IRSA OIDC provider (`${name}-oidcProvider`).
func OIDCProviderName(component string) string { return component + "-oidcProvider" }

// PrincipalPattern matches an IAM role or user ARN; an assumed-role session ARN (arn:aws:sts::...:assumed-role/...)
// is not a principal EKS access entries take.
var PrincipalPattern = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$`)

// Access policies of EKS access entries (EKS User Guide, "Associate access policies with access entries"): cluster
// admin is cluster-wide; edit and view are what a team gets, scoped to its namespaces.
const (
	ClusterAdminPolicy = "AmazonEKSClusterAdminPolicy"
	EditPolicy         = "AmazonEKSEditPolicy"
	ViewPolicy         = "AmazonEKSViewPolicy"
)

// AccessPolicyARN is the ARN of an EKS access policy in a partition.
func AccessPolicyARN(partition, policy string) string {
	return "arn:" + partition + ":eks::aws:cluster-access-policy/" + policy
}

var nonKeyChars = regexp.MustCompile(`[^A-Za-z0-9-]+`)

// PrincipalKey is the part of a principal's ARN that names its access entry: the role or user name, path and
// other characters turned into '-', so reordering a list of principals leaves their entries alone.
func PrincipalKey(arn string) string {
	return strings.Trim(nonKeyChars.ReplaceAllString(arn[strings.LastIndex(arn, ":")+1:], "-"), "-")
}

// TeamLabel marks a namespace with the team that owns it. The program sets it and the policy pack finds a
// cluster's team namespaces by it, so it lives here, where both read it.
const TeamLabel = "progressive-delivery/team"
