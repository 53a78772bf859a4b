package infra

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var podinfoTags = []string{"6.0.0", "6.0.1", "6.0.2", "6.1.0", "6.1.5", "6.1.6"}

func TestRegistry_MirrorsEveryTag(t *testing.T) {
	t.Parallel()
	images := map[string]string{}
	mon, err := mocks.Run(func(ctx *pulumi.Context) error {
		r, err := NewRegistry(ctx, "registry", &RegistryArgs{
			Name: "ps-flagger-repository", SourceImage: "ghcr.io/stefanprodan/podinfo", ImageTags: podinfoTags, ForceDelete: true,
		})
		if err != nil {
			return err
		}
		for tag, ref := range r.Images {
			res, err := mocks.Await(ctx, ref)
			if err != nil {
				return err
			}
			images[tag] = res.Value.(string)
		}
		return nil
	}, mocks.RunConfig{})
	require.NoError(t, err)
	g := graph.NewGraph(mon.Registrations())

	repo := g.MustOne(t, "aws:ecr/repository:Repository", "registry-repo")
	assert.Equal(t, "ps-flagger-repository", graph.MustLookup(t, repo.Inputs, "name"))
	assert.Equal(t, true, graph.MustLookup(t, repo.Inputs, "forceDelete"), "destroy deletes the repository with its images")
	assert.Equal(t, "IMMUTABLE", graph.MustLookup(t, repo.Inputs, "imageTagMutability"))
	assert.Equal(t, true, graph.MustLookup(t, repo.Inputs, "imageScanningConfiguration", "scanOnPush"))
	assert.Equal(t, "KMS", graph.MustLookup(t, repo.Inputs, "encryptionConfigurations", 0, "encryptionType"))
	lifecycle := g.MustOne(t, "aws:ecr/lifecyclePolicy:LifecyclePolicy", "registry-lifecycle")
	var policy struct {
		Rules []struct {
			Selection map[string]any `json:"selection"`
		} `json:"rules"`
	}
	require.NoError(t, json.Unmarshal([]byte(graph.MustLookup(t, lifecycle.Inputs, "policy").(string)), &policy))
	require.Len(t, policy.Rules, 1)
	assert.Equal(t, "untagged", policy.Rules[0].Selection["tagStatus"], "the lifecycle policy never expires a tagged (mirrored) image")

	assert.Empty(t, g.Find("pulumi:providers:docker"), "no provider holds the ECR token, so no provider update on every run")
	var tokens []string
	for _, call := range mon.Calls() {
		tokens = append(tokens, call.Token)
	}
	// The order of the calls is the goroutines', so only that it was called is certain.
	assert.Contains(t, tokens, "aws:ecr/getAuthorizationToken:getAuthorizationToken", "the images authenticate with a fresh ECR token")

	repoURL := mocks.AccountID + ".dkr.ecr.us-west-1.amazonaws.com/ps-flagger-repository"
	require.Len(t, g.Find("docker:index/image:Image"), len(podinfoTags))
	for _, tag := range podinfoTags {
		image := g.MustOne(t, "docker:index/image:Image", "registry-podinfo-"+strings.ReplaceAll(tag, ".", "-"))
		assert.Equal(t, repoURL+":"+tag, graph.MustLookup(t, image.Inputs, "imageName"), "same tag in ECR")
		assert.Equal(t, "linux/amd64", graph.MustLookup(t, image.Inputs, "build", "platform"), "exactly the x86_64 image the nodes run")
		assert.Equal(t, "ghcr.io/stefanprodan/podinfo@"+mocks.SourceDigest(tag), graph.MustLookup(t, image.Inputs, "build", "args", "SOURCE"),
			"built FROM the upstream digest, so a moved tag shows as a change")
		assert.Equal(t, "infra/mirror/Dockerfile", graph.MustLookup(t, image.Inputs, "build", "dockerfile"))
		assert.Equal(t, mocks.AccountID+".dkr.ecr.us-west-1.amazonaws.com", graph.MustLookup(t, image.Inputs, "registry", "server"),
			"pushes authenticate to the stack account's registry")
		assert.True(t, graph.IsSecret(image.Inputs, "registry", "password"), "the ECR password stays secret in state")
		assert.True(t, g.DependsOn(image.URN, repo.URN), "push of %s waits for the repository", tag)
		assert.Equal(t, repoURL+":"+tag, images[tag])
	}
	dockerfile, err := os.ReadFile("mirror/Dockerfile")
	require.NoError(t, err)
	assert.Contains(t, string(dockerfile), "ARG SOURCE\nFROM ${SOURCE}\n", "the mirror adds nothing to the upstream image")
}

func TestRegistry_PinnedDigestAndPlatformOverride(t *testing.T) {
	t.Parallel()
	pinned := "sha256:" + strings.Repeat("ab", 32)
	mon, err := mocks.Run(func(ctx *pulumi.Context) error {
		_, err := NewRegistry(ctx, "r", &RegistryArgs{Name: "repo", SourceImage: "ghcr.io/x/y", ImageTags: []string{"1.0.0", "2.0.0"},
			Digests: map[string]string{"1.0.0": pinned}, Platform: "linux/arm64"})
		return err
	}, mocks.RunConfig{})
	require.NoError(t, err)
	g := graph.NewGraph(mon.Registrations())
	image := g.MustOne(t, "docker:index/image:Image", "r-podinfo-1-0-0")
	assert.Equal(t, "linux/arm64", graph.MustLookup(t, image.Inputs, "build", "platform"))
	assert.Equal(t, "ghcr.io/x/y@"+pinned, graph.MustLookup(t, image.Inputs, "build", "args", "SOURCE"), "a pinned tag uses its digest")
	var looked []string
	for _, c := range mon.Calls() {
		if c.Token == "docker:index/getRegistryImage:getRegistryImage" {
			looked = append(looked, c.Args["name"].StringValue())
		}
	}
	assert.Equal(t, []string{"ghcr.io/x/y:2.0.0"}, looked, "only the unpinned tag is looked up")
	repo := g.MustOne(t, "aws:ecr/repository:Repository", "r-repo")
	assert.Equal(t, false, graph.MustLookup(t, repo.Inputs, "forceDelete"), "ForceDelete defaults to false")
	assert.Equal(t, "IMMUTABLE", graph.MustLookup(t, repo.Inputs, "imageTagMutability"), "immutable by default")
}

// TestRegistry_SecondRunChangesNothing runs the registry twice, each run with a new ECR token, as two previews
// of an unchanged stack do. Everything that is diffed is equal: no provider carries the token, and the images
// differ only in registry username and password, which docker.Image's diff ignores (pulumi-docker v4.10.0,
// provider.go diffUpdates).
func TestRegistry_SecondRunChangesNothing(t *testing.T) {
	t.Parallel()
	run := func() map[string]resource.PropertyMap {
		mon, err := mocks.Run(func(ctx *pulumi.Context) error {
			_, err := NewRegistry(ctx, "registry", &RegistryArgs{Name: "ps-flagger-repository", SourceImage: "ghcr.io/stefanprodan/podinfo", ImageTags: podinfoTags})
			return err
		}, mocks.RunConfig{})
		require.NoError(t, err)
		inputs := map[string]resource.PropertyMap{}
		for _, r := range mon.Registrations() {
			in := r.Inputs.Copy()
			if reg, ok := in["registry"]; ok {
				assert.NotEmpty(t, graph.MustLookup(t, in, "registry", "password"))
				in["registry"] = resource.NewProperty(resource.PropertyMap{"server": reg.ObjectValue()["server"]})
			}
			inputs[r.URN] = in
		}
		return inputs
	}
	first, second := run(), run()
	require.Len(t, second, len(first))
	for urn, in := range first {
		assert.True(t, in.DeepEquals(second[urn]), "%s: inputs differ between two runs:\n%v\n%v", urn, in, second[urn])
	}
}

func TestRegistry_RejectsMissingTags(t *testing.T) {
	t.Parallel()
	_, err := mocks.Run(func(ctx *pulumi.Context) error {
		_, err := NewRegistry(ctx, "r", &RegistryArgs{Name: "repo", SourceImage: "ghcr.io/x/y"})
		return err
	}, mocks.RunConfig{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Tags are required")
}
