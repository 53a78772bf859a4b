package rules

import (
	"encoding/json"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

const (
	ecrRepository = "aws:ecr/repository:Repository"
	ecrLifecycle  = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
)

var ecrRules = []Rule{
	{
		Name: "ecr-scan-on-push", Source: "CKV_AWS_163", Level: policyx.EnforcementLevelMandatory,
		Description: "ECR repositories scan every pushed image for known vulnerabilities.",
		Check: forTypes(only(ecrRepository), func(r Resource) []string {
			scan := get(r.Props, "imageScanningConfiguration", "scanOnPush")
			return when(!unknown(scan) && !truthy(scan), "scanOnPush is off")
		}),
	},
	{
		Name: "ecr-immutable-tags", Source: "CKV_AWS_51", Level: policyx.EnforcementLevelMandatory,
		Description: "ECR image tags are immutable, so a tag always names the image that was reviewed.",
		Check: forTypes(only(ecrRepository), func(r Resource) []string {
			m := r.Props["imageTagMutability"]
			return when(!unknown(m) && str(m) != "IMMUTABLE", "imageTagMutability is %q", str(m))
		}),
	},
	{
		Name: "ecr-kms-encryption", Source: "CKV_AWS_136", Level: policyx.EnforcementLevelMandatory,
		Description: "ECR repositories are encrypted with KMS.",
		Check: forTypes(only(ecrRepository), func(r Resource) []string {
			t := get(r.Props, "encryptionConfigurations", 0, "encryptionType")
			return when(!unknown(t) && str(t) != "KMS", "encryption type is not KMS")
		}),
	},
	{
		Name: "ecr-lifecycle-keeps-tagged-images", Source: "Amazon ECR User Guide, lifecycle policies", Level: policyx.EnforcementLevelMandatory,
		Description: "Every ECR repository has a lifecycle policy, and it expires only untagged images.",
		CheckStack:  checkLifecyclePolicies,
	},
}

func checkLifecyclePolicies(rs []Resource) []Violation {
	statuses := map[string][]string{}
	// A policy whose repository is not known yet may belong to any repository.
	someUnknown := false
	for _, r := range ofType(rs, ecrLifecycle) {
		repo, doc := r.Props["repository"], r.Props["policy"]
		if unknown(repo, doc) {
			someUnknown = true
			continue
		}
		var policy struct {
			Rules []struct {
				Selection struct {
					TagStatus string `json:"tagStatus"`
				} `json:"selection"`
			} `json:"rules"`
		}
		_ = json.Unmarshal([]byte(str(doc)), &policy)
		statuses[str(repo)] = append(statuses[str(repo)], "")
		for _, rule := range policy.Rules {
			statuses[str(repo)] = append(statuses[str(repo)], rule.Selection.TagStatus)
		}
	}
	var out []Violation
	for _, r := range ofType(rs, ecrRepository) {
		got, ok := statuses[str(r.Props["name"])]
		switch {
		case unknown(r.Props["name"]) || (!ok && someUnknown):
		case !ok:
			out = append(out, Violation{URN: r.URN, Message: "no lifecycle policy"})
		case slices.ContainsFunc(got, func(s string) bool { return s != "" && s != "untagged" }):
			out = append(out, Violation{URN: r.URN, Message: "the lifecycle policy can expire tagged images"})
		}
	}
	return out
}
