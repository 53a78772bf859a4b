package infra

import (
	"encoding/json"
	"testing"

	"github.com/progressive-delivery/platform/internal/pulumitest"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var podinfoTags = []string{"6.0.0", "6.0.1", "6.0.2", "6.1.0", "6.1.5", "6.1.6"}

func TestRegistry_MirrorsEveryTag(t *testing.T) {
	t.Parallel()
	images := map[string]string{}
	mon, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		r, err := NewRegistry(ctx, "registry", &RegistryArgs{
			Name: "ps-flagger-repository", SourceImage: "ghcr.io/stefanprodan/podinfo", Tags: podinfoTags, ForceDelete: true,
		})
		if err != nil {
			return err
		}
		for tag, ref := range r.Images {
			res, err := pulumitest.Await(ctx, ref)
			if err != nil {
				return err
			}
			images[tag] = res.Value.(string)
		}
		return nil
	}, pulumitest.RunConfig{})
	require.NoError(t, err)
	g := pulumitest.NewGraph(mon.Registrations())

	repo := g.MustOne(t, "aws:ecr/repository:Repository", "registry-repo")
	assert.Equal(t, "ps-flagger-repository", pulumitest.MustLookup(t, repo.Inputs, "name"))
	assert.Equal(t, true, pulumitest.MustLookup(t, repo.Inputs, "forceDelete"), "destroy deletes the repository with its images")
	assert.Equal(t, "IMMUTABLE", pulumitest.MustLookup(t, repo.Inputs, "imageTagMutability"))
	assert.Equal(t, true, pulumitest.MustLookup(t, repo.Inputs, "imageScanningConfiguration", "scanOnPush"))
	assert.Equal(t, "KMS", pulumitest.MustLookup(t, repo.Inputs, "encryptionConfigurations", 0, "encryptionType"))
	lifecycle := g.MustOne(t, "aws:ecr/lifecyclePolicy:LifecyclePolicy", "registry-lifecycle")
	var policy struct {
		Rules []struct {
			Selection map[string]any `json:"selection"`
		} `json:"rules"`
	}
	require.NoError(t, json.Unmarshal([]byte(pulumitest.MustLookup(t, lifecycle.Inputs, "policy").(string)), &policy))
	require.Len(t, policy.Rules, 1)
	assert.Equal(t, "untagged", policy.Rules[0].Selection["tagStatus"], "the lifecycle policy never expires a tagged (mirrored) image")

	provider := g.MustOne(t, "pulumi:providers:docker", "registry-docker")
	auth := pulumitest.MustLookup(t, provider.Inputs, "registryAuth").([]any)
	require.Len(t, auth, 1)
	assert.Equal(t, pulumitest.AccountID+".dkr.ecr.us-west-1.amazonaws.com", auth[0].(map[string]any)["address"],
		"auth is for the stack account's registry, from its authorization token")
	assert.Equal(t, "mock-ecr-password", auth[0].(map[string]any)["password"])
	password := provider.Inputs["registryAuth"].ArrayValue()[0].ObjectValue()["password"]
	assert.True(t, password.IsSecret(), "the ECR password stays secret in state")
	calls := mon.Calls()
	require.NotEmpty(t, calls)
	assert.Equal(t, "aws:ecr/getAuthorizationToken:getAuthorizationToken", calls[0].Token)

	repoURL := pulumitest.AccountID + ".dkr.ecr.us-west-1.amazonaws.com/ps-flagger-repository"
	require.Len(t, g.Find("docker:index/registryImage:RegistryImage"), len(podinfoTags))
	for _, tag := range podinfoTags {
		id := "registry-podinfo-" + map[string]string{
			"6.0.0": "6-0-0", "6.0.1": "6-0-1", "6.0.2": "6-0-2", "6.1.0": "6-1-0", "6.1.5": "6-1-5", "6.1.6": "6-1-6",
		}[tag]
		pull := g.MustOne(t, "docker:index/remoteImage:RemoteImage", id+"-pull")
		assert.Equal(t, "ghcr.io/stefanprodan/podinfo:"+tag, pulumitest.MustLookup(t, pull.Inputs, "name"))
		assert.Equal(t, "linux/amd64", pulumitest.MustLookup(t, pull.Inputs, "platform"), "nodes are x86_64")
		tagRes := g.MustOne(t, "docker:index/tag:Tag", id+"-tag")
		assert.Equal(t, repoURL+":"+tag, pulumitest.MustLookup(t, tagRes.Inputs, "targetImage"), "same tag in ECR")
		push := g.MustOne(t, "docker:index/registryImage:RegistryImage", id+"-push")
		assert.Equal(t, repoURL+":"+tag, pulumitest.MustLookup(t, push.Inputs, "name"))
		assert.Equal(t, provider.URN, push.Provider, "pushes authenticate through the ECR docker provider")
		assert.True(t, g.DependsOn(push.URN, repo.URN), "push of %s waits for the repository", tag)
		assert.True(t, g.DependsOn(push.URN, pull.URN), "push of %s waits for its pull", tag)
		assert.Equal(t, repoURL+":"+tag, images[tag])
	}
}

func TestRegistry_PlatformOverride(t *testing.T) {
	t.Parallel()
	mon, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		_, err := NewRegistry(ctx, "r", &RegistryArgs{Name: "repo", SourceImage: "ghcr.io/x/y", Tags: []string{"1.0.0"}, Platform: "linux/arm64"})
		return err
	}, pulumitest.RunConfig{})
	require.NoError(t, err)
	pull := pulumitest.NewGraph(mon.Registrations()).MustOne(t, "docker:index/remoteImage:RemoteImage", "r-podinfo-1-0-0-pull")
	assert.Equal(t, "linux/arm64", pulumitest.MustLookup(t, pull.Inputs, "platform"))
	repo := pulumitest.NewGraph(mon.Registrations()).MustOne(t, "aws:ecr/repository:Repository", "r-repo")
	assert.Equal(t, false, pulumitest.MustLookup(t, repo.Inputs, "forceDelete"), "ForceDelete defaults to false")
	assert.Equal(t, "IMMUTABLE", pulumitest.MustLookup(t, repo.Inputs, "imageTagMutability"), "immutable by default")
}

func TestRegistry_RejectsMissingTags(t *testing.T) {
	t.Parallel()
	_, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		_, err := NewRegistry(ctx, "r", &RegistryArgs{Name: "repo", SourceImage: "ghcr.io/x/y"})
		return err
	}, pulumitest.RunConfig{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Tags are required")
}
