package simcluster

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// CLIOptions places an isolated Pulumi CLI's folders.
type CLIOptions struct {
	// Root is the command root: Root/bin holds the CLI (and the Go language host when LanguageHost is set) and
	// nothing else, so the engine uses the installed provider plugin and no ambient one.
	Root string
	// Home is PULUMI_HOME, where the Kubernetes provider plugin of tools.sh is installed.
	Home string
	// Backend is the file backend's folder; stacks sharing it can reference each other.
	Backend string
	// Tmp is TMPDIR: the Kubernetes provider writes a kubeconfig file there on every run and never removes it.
	Tmp string
	// Passphrase encrypts the stacks' secrets.
	Passphrase string
	// LanguageHost links the Go language host too, for projects built from source (not inline programs).
	LanguageHost bool
}

// CLI is an isolated Pulumi CLI of tools.sh: nothing downloaded, nothing ambient used.
type CLI struct {
	Root string
	// Env is what each command needs: PATH with Root/bin first, PULUMI_HOME, PULUMI_BACKEND_URL,
	// PULUMI_CONFIG_PASSPHRASE, PULUMI_SKIP_UPDATE_CHECK and TMPDIR.
	Env map[string]string
}

// NewCLI makes the folders, links the binaries and installs the provider plugin.
func NewCLI(tools Tools, o CLIOptions) (*CLI, error) {
	bin := filepath.Join(o.Root, "bin")
	for _, d := range []string{bin, o.Home, o.Backend, o.Tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	names := []string{"pulumi"}
	if o.LanguageHost {
		names = append(names, "pulumi-language-go")
	}
	for _, name := range names {
		if err := os.Symlink(tools.Path(name), filepath.Join(bin, name)); err != nil && !os.IsExist(err) {
			return nil, fmt.Errorf("linking %s: %w", name, err)
		}
	}
	if err := InstallProvider(tools, o.Home); err != nil {
		return nil, err
	}
	return &CLI{Root: o.Root, Env: map[string]string{
		"PATH":                     bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"PULUMI_HOME":              o.Home,
		"PULUMI_BACKEND_URL":       "file://" + o.Backend,
		"PULUMI_CONFIG_PASSPHRASE": o.Passphrase,
		"PULUMI_SKIP_UPDATE_CHECK": "true",
		"TMPDIR":                   o.Tmp,
	}}, nil
}

// Environ is this process's environment with Env laid over it, for a command run directly.
func (c *CLI) Environ() []string {
	env := os.Environ()
	for k, v := range c.Env {
		env = append(env, k+"="+v)
	}
	return env
}

// ProjectWithBinary is the project file raw with its Go runtime's buildTarget option replaced by binary: the
// project (name, config schema) is the file's, the program one built beforehand, which the CLI then runs without
// compiling it.
func ProjectWithBinary(raw []byte, binary string) ([]byte, error) {
	var project map[string]any
	if err := yaml.Unmarshal(raw, &project); err != nil {
		return nil, err
	}
	runtime, _ := project["runtime"].(map[string]any)
	options, _ := runtime["options"].(map[string]any)
	if runtime["name"] != "go" || options == nil || options["buildTarget"] == nil {
		return nil, fmt.Errorf("no Go runtime option buildTarget to replace with the prebuilt program")
	}
	delete(options, "buildTarget")
	options["binary"] = binary
	return yaml.Marshal(project)
}
