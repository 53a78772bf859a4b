package infra

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeRegistry is the type token of Registry.
const TypeRegistry = "progressive-delivery:infra:Registry"

// mirrorContext is the build context of the one-line mirror Dockerfile, relative to the project directory (where
// the CLI runs the program).
const mirrorContext = "infra/mirror"

// DefaultImagePlatform is the platform mirrored from multi-arch upstream images: the managed node group runs x86_64
// (AL2_x86_64), and a pull on an arm64 laptop would otherwise push arm64 images the nodes cannot run.
const DefaultImagePlatform = "linux/amd64"

// Registry is the ECR repository holding the mirrored podinfo images.
type Registry struct {
	pulumi.ResourceState

	RepositoryURL  pulumi.StringOutput `pulumi:"repositoryUrl"`
	RepositoryName pulumi.StringOutput `pulumi:"repositoryName"`
	// Images maps each mirrored tag to its reference in the repository (<repositoryUrl>:<tag>). The value is known
	// once that tag is pushed, so a workload using it waits for its push and for no other.
	Images map[string]pulumi.StringOutput
	// SourceDigests are the upstream digests mirrored, by tag: what to copy into podinfoDigests to pin them.
	SourceDigests pulumi.StringMapOutput `pulumi:"sourceDigests"`
}

// RegistryArgs configures a Registry.
type RegistryArgs struct {
	// Required. ECR repository name.
	Name string
	// Required. Upstream image without tag, e.g. ghcr.io/stefanprodan/podinfo.
	SourceImage string
	// Required. Image tags mirrored from SourceImage and pushed under the same tag.
	ImageTags []string
	// Optional. Upstream digests (sha256:...) by tag. A tag without one is mirrored at the digest it names at the
	// time of the run.
	Digests map[string]string
	// Optional; default DefaultImagePlatform. Platform mirrored from multi-arch upstream images.
	Platform string
	// Optional; default false. Lets `pulumi destroy` delete the repository while it still holds images.
	ForceDelete bool
	// Optional; default false. Mutable tags let a tag be pushed again with other content; the mirror is meant
	// to be immutable (CKV_AWS_51), dev keeps the walkthrough's mutable repository.
	MutableTags bool
	// Optional; default 14. Days after which untagged images expire. Tagged images, the mirror among them,
	// never expire.
	UntaggedExpiryDays int
	// Optional. AWS tags for the repository, as every component's Tags.
	Tags map[string]string
}

// lifecyclePolicy expires only untagged images (the leftovers of re-pushed tags), never a tagged one.
func lifecyclePolicy(days int) string {
	doc, _ := json.Marshal(map[string]any{"rules": []map[string]any{{
		"rulePriority": 1,
		"description":  fmt.Sprintf("expire untagged images after %d days; tagged images are kept", days),
		"selection": map[string]any{
			"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": days,
		},
		"action": map[string]any{"type": "expire"},
	}}})
	return string(doc)
}

// NewRegistry creates the repository and mirrors the images into it.
func NewRegistry(ctx *pulumi.Context, name string, args *RegistryArgs, opts ...pulumi.ResourceOption) (*Registry, error) {
	if args == nil || args.Name == "" || args.SourceImage == "" || len(args.ImageTags) == 0 {
		return nil, fmt.Errorf("registry %s: Name, SourceImage and ImageTags are required", name)
	}
	platform := args.Platform
	if platform == "" {
		platform = DefaultImagePlatform
	}
	r := &Registry{Images: map[string]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource(TypeRegistry, name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)

	mutability := "IMMUTABLE"
	if args.MutableTags {
		mutability = "MUTABLE"
	}
	expiry := args.UntaggedExpiryDays
	if expiry <= 0 {
		expiry = 14
	}
	repo, err := ecr.NewRepository(ctx, name+"-repo", &ecr.RepositoryArgs{
		Name:               pulumi.String(args.Name),
		ForceDelete:        pulumi.Bool(args.ForceDelete),
		ImageTagMutability: pulumi.String(mutability),
		// Every pushed image is scanned for known CVEs (CKV_AWS_163).
		ImageScanningConfiguration: ecr.RepositoryImageScanningConfigurationArgs{ScanOnPush: pulumi.Bool(true)},
		// KMS rather than the default AES256 (CKV_AWS_136); the AWS-managed ECR key needs no key policy of ours.
		EncryptionConfigurations: ecr.RepositoryEncryptionConfigurationArray{
			ecr.RepositoryEncryptionConfigurationArgs{EncryptionType: pulumi.String("KMS")},
		},
		Tags: pulumi.ToStringMap(args.Tags),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating ECR repository: %w", err)
	}
	if _, err := ecr.NewLifecyclePolicy(ctx, name+"-lifecycle", &ecr.LifecyclePolicyArgs{
		Repository: repo.Name,
		Policy:     pulumi.String(lifecyclePolicy(expiry)),
	}, parent); err != nil {
		return nil, fmt.Errorf("creating ECR lifecycle policy: %w", err)
	}

	// The token is for the default registry of the stack's account, which holds the repository, so no
	// credentials live in config and a preview of a new stack already knows it. It changes on every run;
	// docker.Image ignores registry username and password changes in its diff, so an unchanged stack previews
	// no change.
	token := ecr.GetAuthorizationTokenOutput(ctx, ecr.GetAuthorizationTokenOutputArgs{}, parent)
	registry := docker.RegistryArgs{
		Server:   token.ProxyEndpoint().ApplyT(func(e string) string { return strings.TrimPrefix(e, "https://") }).(pulumi.StringOutput),
		Username: token.UserName(),
		Password: pulumi.ToSecret(token.Password()).(pulumi.StringOutput),
	}

	images, digests := pulumi.StringMap{}, pulumi.StringMap{}
	for _, tag := range args.ImageTags {
		digest := pulumi.StringInput(pulumi.String(args.Digests[tag]))
		if args.Digests[tag] == "" {
			// Not pinned in config: the digest the tag names now, shown in every preview, so a moved tag is a
			// visible change, never a silent one.
			digest = docker.LookupRegistryImageOutput(ctx, docker.LookupRegistryImageOutputArgs{
				Name: pulumi.String(args.SourceImage + ":" + tag),
			}, parent).Sha256Digest()
		}
		// Dots become dashes so the logical names read like every other resource's in a preview.
		id := name + "-podinfo-" + strings.ReplaceAll(tag, ".", "-")
		image, err := docker.NewImage(ctx, id, &docker.ImageArgs{
			ImageName: pulumi.Sprintf("%s:%s", repo.RepositoryUrl, tag),
			Build: docker.DockerBuildArgs{
				Context:    pulumi.String(mirrorContext),
				Dockerfile: pulumi.String(mirrorContext + "/Dockerfile"),
				Platform:   pulumi.String(platform),
				Args:       pulumi.StringMap{"SOURCE": pulumi.Sprintf("%s@%s", args.SourceImage, digest)},
			},
			Registry: registry,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("mirroring %s:%s: %w", args.SourceImage, tag, err)
		}
		r.Images[tag] = image.ImageName
		images[tag] = image.ImageName
		digests[tag] = digest
	}

	r.SourceDigests = digests.ToStringMapOutput()
	r.RepositoryURL = repo.RepositoryUrl
	r.RepositoryName = repo.Name
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{
		"repositoryUrl":  repo.RepositoryUrl,
		"repositoryName": repo.Name,
		"images":         images,
		"sourceDigests":  digests,
	}); err != nil {
		return nil, err
	}
	return r, nil
}
