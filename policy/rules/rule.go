// Package rules holds the policy pack's rules as pure functions over what Pulumi's analyzer sees of each
// resource, the waivers the dev stack takes for fidelity with the walkthrough, and the adapter to policyx.
//
// pulumi-eks registers its components with empty inputs, so the EKS rules read the AWS resources it creates
// (aws:eks/cluster:Cluster, aws:eks/nodeGroup:NodeGroup, the OIDC provider). A value that is not known yet, as
// in a preview of a new stack, never produces a violation: the rule skips it and checks it on a later preview or
// update, when the value is known.
package rules

import (
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// Resource is what a rule sees of one resource: its type token, names, parent and properties as plain Go values,
// with props.Unknown for the values not known yet.
type Resource struct {
	Type, Name, URN, ID, Parent string
	Props                       map[string]any
}

// Violation is one rule's finding on one resource.
type Violation struct {
	Policy, URN, Message string
}

// Rule is one policy. Exactly one of Check (per resource) and CheckStack (across resources) is set.
type Rule struct {
	Name        string
	Description string
	// Source is the benchmark or guide the rule comes from.
	Source     string
	Level      policyx.EnforcementLevel
	Check      func(Resource) []string
	CheckStack func([]Resource) []Violation
}

// All is the policy pack's rule set.
var All = slices.Concat(ecrRules, eksRules, nodeRules, networkRules, iamRules, kubernetesRules, gatewayRules, teamRules)
