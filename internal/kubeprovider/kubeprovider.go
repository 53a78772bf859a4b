// Package kubeprovider declares the two resources of the Kubernetes provider the program uses whose SDK packages
// are too costly to import: a Helm release (kubernetes:helm.sh/v3:Release) and a YAML file of objects
// (kubernetes:yaml/v2:ConfigFile). The SDK's helm/v3 and yaml/v2 packages import every API group of the provider
// (about 70 generated packages), and compiling those took about 80% of the program's cold build; every other
// Kubernetes object still comes from the SDK's typed packages. The declarations here register the same type
// tokens, with the same property names and the same provider-version option, as the SDK's NewRelease and
// NewConfigFile (pulumi-kubernetes sdk v4.32.0, helm/v3/release.go and yaml/v2/configFile.go).
package kubeprovider

import (
	"errors"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/utilities"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Release is a Helm release the provider installs.
type Release struct {
	pulumi.CustomResourceState

	// Status is the release's status as the provider reports it: name, namespace, revision, status, chart, version.
	Status pulumi.MapOutput `pulumi:"status"`
}

// ReleaseArgs are the release's inputs; only Chart is required.
type ReleaseArgs struct {
	Name, Chart, Version, Namespace pulumi.StringInput
	// Repo is the chart repository's URL; nil for an OCI chart, whose reference is Chart itself.
	Repo   pulumi.StringInput
	Values pulumi.MapInput
	// TimeoutSeconds is how long Helm waits for the release's objects; nil is the provider's default.
	TimeoutSeconds pulumi.IntInput
}

// NewRelease declares a Helm release.
func NewRelease(ctx *pulumi.Context, name string, args *ReleaseArgs, opts ...pulumi.ResourceOption) (*Release, error) {
	if args == nil || args.Chart == nil {
		return nil, errors.New("a Helm release needs a chart")
	}
	props := pulumi.Map{
		"chart": args.Chart,
		// The SDK's NewRelease sets it: the provider then keeps its older, compatible state format.
		"compat": pulumi.String("true"),
	}
	set := func(key string, v pulumi.Input) {
		if v != nil {
			props[key] = v
		}
	}
	set("name", args.Name)
	set("version", args.Version)
	set("namespace", args.Namespace)
	set("values", args.Values)
	set("timeout", args.TimeoutSeconds)
	if args.Repo != nil {
		props["repositoryOpts"] = pulumi.Map{"repo": args.Repo}
	}
	var r Release
	if err := ctx.RegisterResource("kubernetes:helm.sh/v3:Release", name, props, &r,
		utilities.PkgResourceDefaultOpts(opts)...); err != nil {
		return nil, err
	}
	return &r, nil
}

// StatusField is one string field of the release's status ("namespace", "name", "status"...), empty while unknown.
func (r *Release) StatusField(field string) pulumi.StringOutput {
	return r.Status.ApplyT(func(status map[string]any) string {
		s, _ := status[field].(string)
		return s
	}).(pulumi.StringOutput)
}

// ConfigFile is the objects of one YAML file (a local path or a URL), which the provider reads and creates.
type ConfigFile struct {
	pulumi.ResourceState

	// Resources are the objects created.
	Resources pulumi.ArrayOutput `pulumi:"resources"`
}

// NewConfigFile declares the objects of file.
func NewConfigFile(ctx *pulumi.Context, name string, file pulumi.StringInput, opts ...pulumi.ResourceOption) (*ConfigFile, error) {
	if file == nil {
		return nil, errors.New("a config file needs a file")
	}
	var c ConfigFile
	if err := ctx.RegisterRemoteComponentResource("kubernetes:yaml/v2:ConfigFile", name, pulumi.Map{"file": file}, &c,
		utilities.PkgResourceDefaultOpts(opts)...); err != nil {
		return nil, err
	}
	return &c, nil
}
