package rules

import (
	"slices"
	"strings"
	"time"

	"github.com/progressive-delivery/platform/internal/eksfacts"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

var isEKS = only(eksfacts.ClusterType)

// AWS's defaults when aws:eks/cluster:Cluster leaves an endpoint setting out.
const (
	defaultPrivateAccess = false
	defaultPublicAccess  = true
)

var eksRules = []Rule{
	{
		Name: "eks-secrets-encryption", Source: "CIS EKS 5.3.1, CKV_AWS_58", Level: policyx.EnforcementLevelMandatory,
		Description: "EKS envelope-encrypts Kubernetes secrets with a KMS key.",
		Check: forTypes(isEKS, func(r Resource) []string {
			config := r.Props["encryptionConfig"]
			if unknown(config) {
				return nil
			}
			return when(!slices.Contains(strs(get(config, "resources")), "secrets") || str(get(config, "provider", "keyArn")) == "",
				"secrets are not envelope-encrypted")
		}),
	},
	{
		Name: "eks-control-plane-logging", Source: "CIS EKS 2.1.1, CKV_AWS_37", Level: policyx.EnforcementLevelMandatory,
		Description: "EKS sends all five control-plane log types to CloudWatch.",
		Check: forTypes(isEKS, func(r Resource) []string {
			enabled := r.Props["enabledClusterLogTypes"]
			if unknown(enabled) {
				return nil
			}
			var missing []string
			for _, t := range eksfacts.AllLogTypes {
				if !slices.Contains(strs(enabled), t) {
					missing = append(missing, t)
				}
			}
			return when(len(missing) > 0, "log types not enabled: %v", missing)
		}),
	},
	{
		Name: "eks-private-endpoint", Source: "CIS EKS 5.4.2", Level: policyx.EnforcementLevelMandatory,
		Description: "The EKS API endpoint is reachable privately, so nodes talk to it inside the VPC.",
		Check: forTypes(isEKS, func(r Resource) []string {
			private := get(r.Props, "vpcConfig", "endpointPrivateAccess")
			if unknown(private) {
				return nil
			}
			return when(!orDefault(private, defaultPrivateAccess), "endpointPrivateAccess is off")
		}),
	},
	{
		Name: "eks-public-access-restricted", Source: "CKV_AWS_38, CIS EKS 5.4.2", Level: policyx.EnforcementLevelMandatory,
		Description: "The public EKS endpoint, when on, is limited to known CIDRs, not 0.0.0.0/0.",
		Check: forTypes(isEKS, func(r Resource) []string {
			public, cidrs := get(r.Props, "vpcConfig", "endpointPublicAccess"), get(r.Props, "vpcConfig", "publicAccessCidrs")
			if unknown(public) || !orDefault(public, defaultPublicAccess) || unknown(cidrs) {
				return nil
			}
			// EKS opens an endpoint without CIDRs to 0.0.0.0/0.
			open := strs(cidrs)
			return when(len(open) == 0 || slices.Contains(open, "0.0.0.0/0"), "public endpoint open to %v", open)
		}),
	},
	{
		Name: "eks-irsa", Source: "EKS Best Practices Guide, IAM (IRSA)", Level: policyx.EnforcementLevelMandatory,
		Description: "Each EKS cluster has an IAM OIDC provider, so pods get AWS permissions through IRSA, not the node role.",
		CheckStack:  checkIRSA,
	},
	{
		Name: "eks-supported-version", Source: "EKS Best Practices Guide, cluster upgrades; CKV_AWS_339", Level: policyx.EnforcementLevelMandatory,
		Description: "The Kubernetes version is still supported by EKS (standard or extended support).",
		Check: forTypes(isEKS, func(r Resource) []string {
			v := r.Props["version"]
			if unknown(v) {
				return nil
			}
			support, known := eksfacts.FromCalendar(str(v), time.Now())
			return when(known && support.Status == eksfacts.Unsupported, "%s", support.Warning())
		}),
	},
}

func orDefault(v any, def bool) bool {
	if v == nil {
		return def
	}
	return truthy(v)
}

// sameIssuer compares an OIDC provider's URL, which AWS stores without the scheme
// (oidc.eks.<region>.amazonaws.com/id/...), with the cluster's issuer, which has https://.
func sameIssuer(providerURL, issuer string) bool {
	return providerURL != "" && strings.TrimPrefix(providerURL, "https://") == strings.TrimPrefix(issuer, "https://")
}

// checkIRSA matches each cluster with an OIDC provider: the one pulumi-eks creates beside it (same parent), or
// one whose URL is the cluster's issuer.
func checkIRSA(rs []Resource) []Violation {
	providers := ofType(rs, eksfacts.OIDCProviderType)
	var out []Violation
	for _, c := range ofType(rs, eksfacts.ClusterType) {
		issuer := get(c.Props, "identities", 0, "oidcs", 0, "issuer")
		matched, undecided := false, false
		for _, p := range providers {
			url := p.Props["url"]
			switch {
			case c.Parent != "" && p.Parent == c.Parent, !unknown(url, issuer) && url != nil && sameIssuer(str(url), str(issuer)):
				matched = true
			case unknown(url, issuer):
				undecided = true
			}
		}
		if !matched && !undecided {
			out = append(out, Violation{URN: c.URN, Message: "no IAM OIDC provider for IRSA"})
		}
	}
	return out
}
