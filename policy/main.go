// Command policy is the platform's policy pack: `pulumi preview --policy-pack ./policy`.
package main

import (
	"fmt"
	"os"

	"github.com/progressive-delivery/platform/policy/rules"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

func main() {
	if err := policyx.Main(func(*pulumi.Context) (policyx.PolicyPack, error) { return rules.Pack() }); err != nil {
		fmt.Fprintln(os.Stderr, "policy pack:", err)
		os.Exit(1)
	}
}
