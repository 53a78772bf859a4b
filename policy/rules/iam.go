package rules

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

var iamRules = []Rule{
	{
		Name: "kms-key-rotation", Source: "CKV_AWS_7", Level: policyx.EnforcementLevelMandatory,
		Description: "Customer-managed KMS keys rotate yearly.",
		Check: forTypes(only("aws:kms/key:Key"), func(r Resource) []string {
			rotation := r.Props["enableKeyRotation"]
			return when(!unknown(rotation) && !truthy(rotation), "enableKeyRotation is off")
		}),
	},
	{
		Name: "iam-no-admin-or-s3-full-access", Source: "CKV_AWS_274", Level: policyx.EnforcementLevelMandatory,
		Description: "No role gets AdministratorAccess or AmazonS3FullAccess.",
		Check: forTypes(only(policyAttachment, iamRole), func(r Resource) []string {
			var bad []string
			for _, arn := range append(strs(r.Props["managedPolicyArns"]), str(r.Props["policyArn"])) {
				if strings.HasSuffix(arn, "/AdministratorAccess") || strings.HasSuffix(arn, "/AmazonS3FullAccess") {
					bad = append(bad, arn)
				}
			}
			return when(len(bad) > 0, "over-broad policies %v", bad)
		}),
	},
}
