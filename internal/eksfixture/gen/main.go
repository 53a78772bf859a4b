// Command gen writes pulumi-eks.json: it runs the program as a new stack's preview under the mocks to get the
// inputs it passes to pulumi-eks's components, installs @pulumi/eks (and @pulumi/aws) at the versions go.mod
// pins from npm, and runs children.js to record what pulumi-eks's own code creates from those inputs.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/progressive-delivery/platform/internal/eksfixture"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/progressive-delivery/platform/program"
)

func main() {
	out := flag.String("out", "pulumi-eks.json", "file to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "eksfixture/gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	components, err := programComponents()
	if err != nil {
		return err
	}
	eksVersion, err := eksfixture.GoModVersion(eksfixture.Module)
	if err != nil {
		return err
	}
	awsVersion, err := eksfixture.GoModVersion("github.com/pulumi/pulumi-aws/sdk/v6")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "eksfixture-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	inputs, err := json.Marshal(map[string]any{"components": components})
	if err != nil {
		return err
	}
	for name, content := range map[string][]byte{
		"package.json": []byte(`{"name":"eksfixture","private":true}`),
		"children.js":  eksfixture.ChildrenJS,
		"inputs.json":  inputs,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return err
		}
	}
	// --ignore-scripts: @pulumi/kubernetes's install script would download its provider plugin, which nothing
	// here runs.
	npm := exec.Command("npm", "install", "--no-audit", "--no-fund", "--ignore-scripts",
		"@pulumi/eks@"+strings.TrimPrefix(eksVersion, "v"), "@pulumi/aws@"+strings.TrimPrefix(awsVersion, "v"))
	npm.Dir, npm.Stdout, npm.Stderr = dir, os.Stderr, os.Stderr
	if err := npm.Run(); err != nil {
		return fmt.Errorf("npm install: %w", err)
	}
	node := exec.Command("node", "children.js", "inputs.json")
	node.Dir, node.Stderr = dir, os.Stderr
	fixture, err := node.Output()
	if err != nil {
		return fmt.Errorf("node children.js: %w", err)
	}
	return os.WriteFile(out, fixture, 0o644)
}

// programComponents are the pulumi-eks components the program declares in a new stack's preview with the
// fixture's configuration, with their inputs in canonical form.
func programComponents() ([]eksfixture.Resource, error) {
	mon, err := mocks.Run(program.Run, mocks.RunConfig{Config: mocks.DevConfig(eksfixture.ConfigOverrides), DryRun: true})
	if err != nil {
		return nil, fmt.Errorf("running the program under mocks: %w", err)
	}
	var components []eksfixture.Resource
	for _, r := range mon.Registrations() {
		if r.Remote && strings.HasPrefix(r.Type, "eks:") {
			components = append(components, eksfixture.Resource{Type: r.Type, Name: r.Name, Inputs: eksfixture.CanonicalMap(r.Inputs)})
		}
	}
	return components, nil
}
