package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/progressive-delivery/platform/rollout"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"go.yaml.in/yaml/v3"
)

// versionKey is kubernetesVersion as the stack's config file spells it.
const versionKey = "progressive-delivery:kubernetesVersion"

// autoStack is a stack of the project in a directory, run through the Automation API and the pulumi CLI.
type autoStack struct {
	stack      auto.Stack
	configFile string
}

func openStack(ctx context.Context, f flags) (stack, error) {
	var opts []auto.LocalWorkspaceOption
	// The pulumi on PATH in a process group of its own, as the rollout command runs it: Ctrl-C here does not
	// interrupt an update half-way.
	if cli, err := rollout.NewCLI(""); err == nil {
		opts = append(opts, auto.Pulumi(cli))
	}
	s, err := auto.SelectStackLocalSource(ctx, f.stack, f.workDir, opts...)
	if err != nil {
		return nil, fmt.Errorf("selecting stack %s in %s: %w", f.stack, f.workDir, err)
	}
	return &autoStack{stack: s, configFile: filepath.Join(f.workDir, "Pulumi."+f.stack+".yaml")}, nil
}

func (a *autoStack) Name() string { return a.stack.Name() }

func (a *autoStack) KubernetesVersion(ctx context.Context) (string, error) {
	v, err := a.stack.GetConfig(ctx, versionKey)
	if err != nil {
		return "", fmt.Errorf("reading kubernetesVersion of stack %s: %w", a.Name(), err)
	}
	return v.Value, nil
}

// Preview previews with a copy of the stack's config file in which kubernetesVersion is the target; the stack's
// own file is read, never written.
func (a *autoStack) Preview(ctx context.Context, target string, out io.Writer) error {
	raw, err := os.ReadFile(a.configFile)
	if err != nil {
		return err
	}
	changed, err := withConfigValue(raw, versionKey, target)
	if err != nil {
		return fmt.Errorf("%s: %w", a.configFile, err)
	}
	dir, err := os.MkdirTemp("", "upgrade-plan-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, filepath.Base(a.configFile))
	if err := os.WriteFile(file, changed, 0o600); err != nil {
		return err
	}
	return streamed(out, func(stream chan<- events.EngineEvent) error {
		_, err := a.stack.Preview(ctx, optpreview.ConfigFile(file), optpreview.EventStreams(stream))
		return err
	})
}

func (a *autoStack) SetKubernetesVersion(ctx context.Context, version string) error {
	return a.stack.SetConfig(ctx, versionKey, auto.ConfigValue{Value: version})
}

func (a *autoStack) Up(ctx context.Context, out io.Writer) error {
	// An update under way runs to its end: cancelling it half-way would leave the cluster between versions.
	return streamed(out, func(stream chan<- events.EngineEvent) error {
		_, err := a.stack.Up(context.WithoutCancel(ctx), optup.EventStreams(stream))
		return err
	})
}

// streamed runs op with an event stream whose events it prints as progress lines: the planned and done
// operations, the program's plan (an info diagnostic), warnings and errors.
func streamed(out io.Writer, op func(chan<- events.EngineEvent) error) error {
	stream := make(chan events.EngineEvent)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for e := range stream {
			if line, ok := progressLine(e); ok {
				fmt.Fprintln(out, line)
			}
		}
	}()
	err := op(stream)
	<-printed
	return err
}

// progressLine is an event's line: rollout.FormatEvent's, and in a preview the planned operations and the
// program's info (its plan).
func progressLine(e events.EngineEvent) (string, bool) {
	switch {
	case e.ResourcePreEvent != nil && e.ResourcePreEvent.Planning:
		m := e.ResourcePreEvent.Metadata
		if m.Op == apitype.OpSame || m.Type == "pulumi:pulumi:Stack" {
			return "", false
		}
		line := fmt.Sprintf("  would %s %s (%s)", m.Op, resource.URN(m.URN).Name(), m.Type)
		if len(m.Diffs) > 0 {
			line += ": " + strings.Join(m.Diffs, ", ")
		}
		return line, true
	case e.DiagnosticEvent != nil && e.DiagnosticEvent.Severity == "info" && !e.DiagnosticEvent.Ephemeral:
		return strings.TrimSpace(e.DiagnosticEvent.Message), true
	}
	if line, ok := rollout.FormatEvent(e); ok {
		return "  " + line, true
	}
	return "", false
}

// withConfigValue is a stack config file with key set to value under config:, the rest (secrets, comments) as it
// was.
func withConfigValue(raw []byte, key, value string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a stack config file")
	}
	root := doc.Content[0]
	var config *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "config" {
			config = root.Content[i+1]
		}
	}
	if config == nil {
		config = &yaml.Node{Kind: yaml.MappingNode}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "config"}, config)
	}
	for i := 0; i+1 < len(config.Content); i += 2 {
		if config.Content[i].Value == key {
			config.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Value: value, Style: yaml.DoubleQuotedStyle}
			return encode(&doc)
		}
	}
	config.Content = append(config.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Value: value, Style: yaml.DoubleQuotedStyle})
	return encode(&doc)
}

// encode writes doc indented as the CLI writes stack files (two spaces).
func encode(doc *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}
