package rules

import (
	"context"
	"fmt"

	"github.com/blang/semver"
	"github.com/progressive-delivery/platform/internal/props"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// PackName is the policy pack's name.
const PackName = "progressive-delivery"

func fromAnalyzer(r policyx.AnalyzerResource) Resource {
	properties := props.PlainMap(resource.ToResourcePropertyMap(r.Properties))
	id, _ := properties["id"].(string)
	return Resource{Type: r.Type, Name: r.Name, URN: r.URN, ID: id, Parent: r.Parent, Props: properties}
}

// Pack builds the policy pack: each resource rule validates one resource, each stack rule the whole stack, and
// waivers silence exactly the violations they name.
func Pack() (policyx.PolicyPack, error) {
	var policies []policyx.Policy
	for _, rule := range All {
		rule := rule
		description := fmt.Sprintf("%s [%s]", rule.Description, rule.Source)
		if rule.Check != nil {
			policies = append(policies, policyx.NewResourceValidationPolicy(rule.Name, policyx.ResourceValidationPolicyArgs{
				Description:      description,
				EnforcementLevel: rule.Level,
				ValidateResource: func(_ context.Context, args policyx.ResourceValidationArgs) error {
					r := fromAnalyzer(args.Resource)
					for _, msg := range rule.Check(r) {
						if _, waived := Waived(rule.Name, r.URN); !waived {
							args.Manager.ReportViolation(msg, "")
						}
					}
					return nil
				},
			}))
			continue
		}
		policies = append(policies, policyx.NewStackValidationPolicy(rule.Name, policyx.StackValidationPolicyArgs{
			Description:      description,
			EnforcementLevel: rule.Level,
			ValidateStack: func(_ context.Context, args policyx.StackValidationArgs) error {
				var rs []Resource
				for _, r := range args.Resources {
					rs = append(rs, fromAnalyzer(r))
				}
				for _, v := range rule.CheckStack(rs) {
					if _, waived := Waived(rule.Name, v.URN); !waived {
						args.Manager.ReportViolation(shortURN(v.URN)+": "+v.Message, v.URN)
					}
				}
				return nil
			},
		}))
	}
	return policyx.NewPolicyPack(PackName, semver.MustParse("1.0.0"), policyx.EnforcementLevelMandatory, policies)
}
