// Command progressive-delivery is the Pulumi program of the progressive-delivery platform: ECR, a VPC and EKS,
// Gloo Edge and Flagger, and podinfo released by Flagger canaries.
package main

import (
	"github.com/progressive-delivery/platform/program"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	// program.Run loads and validates the configuration, composes the components and exports the outputs.
	pulumi.Run(program.Run)
}
