package kubeprovider

import (
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder keeps what the program registered; a Release's status is what the provider reports after install.
type recorder struct {
	mu  sync.Mutex
	got []pulumi.MockResourceArgs
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r.mu.Lock()
	r.got = append(r.got, args)
	r.mu.Unlock()
	outs := args.Inputs.Copy()
	if args.TypeToken == "kubernetes:helm.sh/v3:Release" {
		outs["status"] = resource.NewObjectProperty(resource.PropertyMap{
			"namespace": resource.NewStringProperty("gloo-system"), "status": resource.NewStringProperty("deployed")})
	}
	return args.Name + "-id", outs, nil
}

func (r *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

func (r *recorder) one(t *testing.T, typ string) pulumi.MockResourceArgs {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.got {
		if a.TypeToken == typ {
			return a
		}
	}
	require.Failf(t, "not registered", "%s", typ)
	return pulumi.MockResourceArgs{}
}

// TestRelease_RegistersWhatTheSDKsNewReleaseRegisters: the type token, the property names of helm/v3's
// ReleaseArgs, compat "true" and the SDK's provider version, as helm/v3.NewRelease sends them; a missing chart
// is refused before anything is registered; the status's fields are read back.
func TestRelease_RegistersWhatTheSDKsNewReleaseRegisters(t *testing.T) {
	rec := &recorder{}
	var namespace string
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := NewRelease(ctx, "no-chart", &ReleaseArgs{Name: pulumi.String("x")})
		assert.EqualError(t, err, "a Helm release needs a chart")
		r, err := NewRelease(ctx, "gloo", &ReleaseArgs{
			Name: pulumi.String("gloo"), Chart: pulumi.String("gloo"), Version: pulumi.String("1.14.10"),
			Namespace: pulumi.String("gloo-system"), Repo: pulumi.String("https://storage.googleapis.com/solo-public-helm"),
			Values: pulumi.Map{"crds": pulumi.Map{"create": pulumi.Bool(true)}}, TimeoutSeconds: pulumi.Int(900),
		})
		if err != nil {
			return err
		}
		r.StatusField("namespace").ApplyT(func(ns string) string { namespace = ns; return ns })
		return nil
	}, pulumi.WithMocks("progressive-delivery", "test", rec))
	require.NoError(t, err)

	got := rec.one(t, "kubernetes:helm.sh/v3:Release")
	assert.Equal(t, resource.PropertyMap{
		"name": resource.NewStringProperty("gloo"), "chart": resource.NewStringProperty("gloo"),
		"version": resource.NewStringProperty("1.14.10"), "namespace": resource.NewStringProperty("gloo-system"),
		"compat":         resource.NewStringProperty("true"),
		"repositoryOpts": resource.NewObjectProperty(resource.PropertyMap{"repo": resource.NewStringProperty("https://storage.googleapis.com/solo-public-helm")}),
		"values":         resource.NewObjectProperty(resource.PropertyMap{"crds": resource.NewObjectProperty(resource.PropertyMap{"create": resource.NewBoolProperty(true)})}),
		"timeout":        resource.NewNumberProperty(900),
	}, got.Inputs)
	assert.Equal(t, "4.32.0", got.RegisterRPC.GetVersion(), "the provider version the SDK's NewRelease asks for")
	assert.Equal(t, "gloo-system", namespace, "the namespace read from the release's status")
	assert.True(t, got.Custom, "a custom resource, not a component")
}

// TestConfigFile_IsTheProvidersRemoteComponent: yaml/v2's ConfigFile is a component the provider constructs, with
// its file as the one input and the SDK's provider version.
func TestConfigFile_IsTheProvidersRemoteComponent(t *testing.T) {
	rec := &recorder{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := NewConfigFile(ctx, "none", nil)
		assert.EqualError(t, err, "a config file needs a file")
		_, err = NewConfigFile(ctx, "crds", pulumi.String("https://example.com/standard-install.yaml"))
		return err
	}, pulumi.WithMocks("progressive-delivery", "test", rec))
	require.NoError(t, err)
	got := rec.one(t, "kubernetes:yaml/v2:ConfigFile")
	assert.Equal(t, resource.PropertyMap{"file": resource.NewStringProperty("https://example.com/standard-install.yaml")}, got.Inputs)
	assert.True(t, got.RegisterRPC.GetRemote(), "constructed by the provider")
	assert.Equal(t, "4.32.0", got.RegisterRPC.GetVersion())
}
