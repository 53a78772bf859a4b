package simcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// StackOptions configures NewStack.
type StackOptions struct {
	Tools Tools
	// Dir holds the file backend and PULUMI_HOME. Stacks sharing a Dir share the backend, so they can
	// reference each other.
	Dir           string
	Project, Name string
	Program       pulumi.RunFunc
}

// NewStack creates (or selects) a stack of an inline program, driven through the Automation API by the real
// Pulumi CLI of tools.sh, on a file backend in o.Dir, with the Kubernetes provider plugin of tools.sh installed
// in a PULUMI_HOME of its own: nothing is downloaded and nothing ambient is used.
func NewStack(ctx context.Context, o StackOptions) (auto.Stack, error) {
	// The inline program's workspace and the provider's temporary kubeconfig files stay in o.Dir instead of piling
	// up in the machine's temporary folder.
	work := filepath.Join(o.Dir, "work-"+o.Name)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return auto.Stack{}, err
	}
	cli, err := NewCLI(o.Tools, CLIOptions{
		Root: filepath.Join(o.Dir, "cli-"+o.Name), Home: filepath.Join(o.Dir, "pulumi-home-"+o.Name),
		Backend: filepath.Join(o.Dir, "backend"), Tmp: filepath.Join(o.Dir, "tmp"), Passphrase: "simcluster",
	})
	if err != nil {
		return auto.Stack{}, err
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: cli.Root, SkipVersionCheck: true})
	if err != nil {
		return auto.Stack{}, err
	}
	return auto.UpsertStackInlineSource(ctx, o.Name, o.Project, o.Program, auto.Pulumi(cmd),
		auto.PulumiHome(cli.Env["PULUMI_HOME"]), auto.WorkDir(work), auto.EnvVars(cli.Env))
}

// InstallProvider registers the Kubernetes provider plugin of tools.sh in the PULUMI_HOME home, under the version
// the SDK asks for, so the engine finds it there and downloads nothing. The plugin folder holds a link to the
// built binary: what `pulumi plugin install --file` leaves, without copying 150 MB into each home (once per
// stack in the tests) or starting a CLI to do it.
func InstallProvider(tools Tools, home string) error {
	dir := filepath.Join(home, "plugins", "resource-kubernetes-v"+tools.ProviderVersion)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("installing the kubernetes provider plugin: %w", err)
	}
	err := os.Symlink(tools.Path("pulumi-resource-kubernetes"), filepath.Join(dir, "pulumi-resource-kubernetes"))
	if err != nil && !os.IsExist(err) {
		return fmt.Errorf("installing the kubernetes provider plugin: %w", err)
	}
	return nil
}
