package simcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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
	backend := filepath.Join(o.Dir, "backend")
	home := filepath.Join(o.Dir, "pulumi-home-"+o.Name)
	root := filepath.Join(o.Dir, "cli-"+o.Name)
	for _, d := range []string{backend, filepath.Join(root, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return auto.Stack{}, err
		}
	}
	if err := InstallProvider(ctx, o.Tools, home); err != nil {
		return auto.Stack{}, err
	}
	// Only the CLI goes in the command's root, so the engine uses the installed plugin and no ambient one.
	link := filepath.Join(root, "bin", "pulumi")
	if _, err := os.Lstat(link); os.IsNotExist(err) {
		if err := os.Symlink(o.Tools.Path("pulumi"), link); err != nil {
			return auto.Stack{}, err
		}
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
	if err != nil {
		return auto.Stack{}, err
	}
	return auto.UpsertStackInlineSource(ctx, o.Name, o.Project, o.Program, auto.Pulumi(cmd), auto.PulumiHome(home),
		auto.EnvVars(map[string]string{
			"PULUMI_BACKEND_URL":       "file://" + backend,
			"PULUMI_CONFIG_PASSPHRASE": "simcluster",
			"PULUMI_SKIP_UPDATE_CHECK": "true",
			"PULUMI_HOME":              home,
		}))
}

// InstallProvider registers the Kubernetes provider plugin of tools.sh in the PULUMI_HOME home, under the version
// the SDK asks for, so the engine finds it there and downloads nothing.
func InstallProvider(ctx context.Context, tools Tools, home string) error {
	install := exec.CommandContext(ctx, tools.Path("pulumi"), "plugin", "install", "resource", "kubernetes",
		tools.ProviderVersion, "--file", tools.Path("pulumi-resource-kubernetes"))
	install.Env = append(os.Environ(), "PULUMI_HOME="+home, "PULUMI_SKIP_UPDATE_CHECK=true")
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("installing the kubernetes provider plugin: %w\n%s", err, out)
	}
	return nil
}
