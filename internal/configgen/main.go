// Command configgen writes what follows from program.Keys, services.Fields and program.Current: Pulumi.yaml's
// config block, the configuration table of docs/configuration.md, the service fields of docs/services.md, the team fields of docs/teams.md and the
// versions table of docs/ingress-and-versions.md and the
// README. Run it with `go generate ./program`; a test fails when either is stale.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/progressive-delivery/platform/program"
	"github.com/progressive-delivery/platform/program/services"
	"github.com/progressive-delivery/platform/program/teams"
)

func main() {
	project := flag.String("project", ".", "folder of Pulumi.yaml")
	docs := flag.String("docs", "docs", "the docs folder: configuration.md and ingress-and-versions.md are updated")
	flag.Parse()
	if err := run(filepath.Join(*project, "Pulumi.yaml"), *docs); err != nil {
		fmt.Fprintln(os.Stderr, "configgen:", err)
		os.Exit(1)
	}
}

func run(projectFile, docs string) error {
	block, err := program.ProjectConfigBlock()
	if err != nil {
		return err
	}
	if err := rewrite(projectFile, func(s string) (string, error) { return program.SpliceProjectConfig(s, block) }); err != nil {
		return err
	}
	if err := rewrite(filepath.Join(docs, "configuration.md"), func(s string) (string, error) {
		return program.SpliceGenerated(s, program.ConfigTable())
	}); err != nil {
		return err
	}
	fields, err := services.Table()
	if err != nil {
		return err
	}
	if err := rewrite(filepath.Join(docs, "services.md"), func(s string) (string, error) { return program.SpliceGenerated(s, fields) }); err != nil {
		return err
	}
	teamFields, err := teams.Table()
	if err != nil {
		return err
	}
	if err := rewrite(filepath.Join(docs, "teams.md"), func(s string) (string, error) { return program.SpliceGenerated(s, teamFields) }); err != nil {
		return err
	}
	for _, file := range []string{filepath.Join(docs, "ingress-and-versions.md"), filepath.Join(filepath.Dir(projectFile), "README.md")} {
		if err := rewrite(file, func(s string) (string, error) { return program.SpliceGenerated(s, program.VersionsTable()) }); err != nil {
			return err
		}
	}
	return nil
}

func rewrite(path string, edit func(string) (string, error)) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := edit(string(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}
