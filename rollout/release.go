package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Canary coordinates of the platform program (SPEC §4).
const (
	CanaryNamespace = "apps"
	CanaryName      = "podinfo"
)

// CheckVersion accepts only a tag that the stack mirrors into ECR.
func CheckVersion(version string, mirrored []string) error {
	if version == "" {
		return fmt.Errorf("--version: required, one of the mirrored tags %v", mirrored)
	}
	if !slices.Contains(mirrored, version) {
		return fmt.Errorf("--version: %q is not mirrored by this stack; want one of %v", version, mirrored)
	}
	return nil
}

// MirroredTags reads the stack's podinfoTags (a JSON list), else the default Pulumi.yaml declares for it, else
// def (an inline program's project declares none).
func MirroredTags(ctx context.Context, stack auto.Stack, def []string) ([]string, error) {
	if v, err := stack.GetConfig(ctx, "podinfoTags"); err == nil && v.Value != "" {
		var tags []string
		if err := json.Unmarshal([]byte(v.Value), &tags); err != nil {
			return nil, fmt.Errorf("reading the stack's podinfoTags: %w", err)
		}
		return tags, nil
	}
	if project, err := stack.Workspace().ProjectSettings(ctx); err == nil {
		if tags := declaredTags(project); tags != nil {
			return tags, nil
		}
	}
	return def, nil
}

// declaredTags is podinfoTags' default in the project file, or nil.
func declaredTags(project *workspace.Project) []string {
	declared, ok := project.Config["podinfoTags"].Default.([]any)
	if !ok {
		return nil
	}
	tags := make([]string, 0, len(declared))
	for _, t := range declared {
		tags = append(tags, fmt.Sprint(t))
	}
	return tags
}

// FormatEvent turns an engine event into one concise progress line, or reports false for events not worth a line.
func FormatEvent(e events.EngineEvent) (string, bool) {
	switch {
	case e.ResOutputsEvent != nil:
		m := e.ResOutputsEvent.Metadata
		if m.Op == apitype.OpSame || m.Type == "pulumi:pulumi:Stack" {
			return "", false
		}
		line := fmt.Sprintf("%s %s %s", opSymbol(m.Op), m.Op, resource.URN(m.URN).Name())
		if len(m.Diffs) > 0 {
			line += " (" + strings.Join(m.Diffs, ", ") + ")"
		}
		return line, true
	case e.ResOpFailedEvent != nil:
		m := e.ResOpFailedEvent.Metadata
		return fmt.Sprintf("x %s %s failed", m.Op, resource.URN(m.URN).Name()), true
	case e.DiagnosticEvent != nil:
		d := e.DiagnosticEvent
		if d.Severity != "warning" && d.Severity != "error" || d.Ephemeral {
			return "", false
		}
		return fmt.Sprintf("%s: %s", d.Severity, strings.TrimSpace(d.Message)), true
	case e.SummaryEvent != nil:
		s := e.SummaryEvent
		var counts []string
		for op, n := range s.ResourceChanges {
			if op != apitype.OpSame && n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n, op))
			}
		}
		sort.Strings(counts)
		if len(counts) == 0 {
			counts = []string{"no changes"}
		}
		return fmt.Sprintf("update %s in %ds: %s", s.Result, s.DurationSeconds, strings.Join(counts, ", ")), true
	}
	return "", false
}

func opSymbol(op apitype.OpType) string {
	switch op {
	case apitype.OpCreate:
		return "+"
	case apitype.OpDelete:
		return "-"
	case apitype.OpReplace, apitype.OpCreateReplacement, apitype.OpDeleteReplaced:
		return "+-"
	}
	return "~"
}

// ReleaseOptions configures a release.
type ReleaseOptions struct {
	Stack, Version, WorkDir string
	Timeout                 time.Duration
	// SecondInterruptExits restores the default signal handling once the first Ctrl-C arrived during pulumi
	// up, so that a second one ends the process (the command's behaviour); a caller with its own clean-up
	// leaves it false.
	SecondInterruptExits bool
	// Workspace are options of the stack's workspace (environment, CLI). Optional; the ambient ones by default.
	Workspace []auto.LocalWorkspaceOption
	// DefaultTags are the mirrored tags when neither the stack nor Pulumi.yaml sets podinfoTags (an inline
	// program). Optional.
	DefaultTags []string
	Out         io.Writer
}

// Release sets the stack's podinfo version, runs `pulumi up` with its events streamed as progress lines, then
// follows the Canary. It returns the exit code of Follow.
func Release(ctx context.Context, o ReleaseOptions) (int, error) {
	// The pulumi on PATH in a process group of its own; a CLI among the caller's options comes later and wins.
	var opts []auto.LocalWorkspaceOption
	if cli, err := NewCLI(""); err == nil {
		opts = append(opts, auto.Pulumi(cli))
	}
	stack, err := auto.SelectStackLocalSource(ctx, o.Stack, o.WorkDir, append(opts, o.Workspace...)...)
	if err != nil {
		return ExitFailed, fmt.Errorf("selecting stack %s in %s: %w", o.Stack, o.WorkDir, err)
	}
	return ReleaseOn(ctx, stack, o)
}

// ReleaseOn is Release on a stack already selected (o.Stack and o.WorkDir are not used).
func ReleaseOn(ctx context.Context, stack auto.Stack, o ReleaseOptions) (int, error) {
	tags, err := MirroredTags(ctx, stack, o.DefaultTags)
	if err != nil {
		return ExitFailed, err
	}
	if err := CheckVersion(o.Version, tags); err != nil {
		return ExitFailed, err
	}
	// What the cluster holds before the update, when the stack has been deployed: the Canary's revision tells
	// this release's result from the previous one's, the Deployment's pod template whether there is a new revision
	// at all.
	src, srcErr := SourceFromStack(ctx, stack)
	var before clusterState
	if srcErr == nil {
		before = src.state(ctx)
	}
	if err := stack.SetConfig(ctx, "podinfoVersion", auto.ConfigValue{Value: o.Version}); err != nil {
		return ExitFailed, fmt.Errorf("setting podinfoVersion: %w", err)
	}
	fmt.Fprintf(o.Out, "podinfoVersion=%s on stack %s; running pulumi up\n", o.Version, stack.Name())

	stream := make(chan events.EngineEvent)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for e := range stream {
			if line, ok := FormatEvent(e); ok {
				fmt.Fprintln(o.Out, "  "+line)
			}
		}
	}()
	// Ctrl-C must not touch the stack: cancelling the update would interrupt Pulumi and, 10 s later, kill it
	// mid-operation. So the update runs to its end; a first Ctrl-C only means "do not watch afterwards", and,
	// for the command, a second one restores the default and exits, leaving pulumi (in its own process group)
	// to finish.
	upDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			if o.SecondInterruptExits {
				fmt.Fprintln(o.Out, "pulumi up runs to its end so the stack is not left half-updated; Ctrl-C again exits now and leaves it running")
				signal.Reset(os.Interrupt, syscall.SIGTERM)
			} else {
				fmt.Fprintln(o.Out, "pulumi up runs to its end so the stack is not left half-updated")
			}
		case <-upDone:
		}
	}()
	_, err = stack.Up(context.WithoutCancel(ctx), optup.EventStreams(stream))
	close(upDone)
	<-printed
	if err != nil {
		return ExitFailed, fmt.Errorf("pulumi up: %w", err)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(o.Out, "update done; not watching the canary (interrupted)")
		return ExitInterrupted, nil
	}
	if srcErr != nil {
		if src, srcErr = SourceFromStack(ctx, stack); srcErr != nil {
			return ExitFailed, srcErr
		}
	}
	after := src.state(ctx)
	if before.canaryExists && after.template == before.template {
		return src.unchanged(ctx, o.Out)
	}
	fmt.Fprintf(o.Out, "watching canary %s/%s (Ctrl-C stops watching; the rollout goes on)\n", src.Namespace, src.Name)
	return Follow(ctx, src, NewPrinter(o.Out), FollowOptions{
		Timeout:          o.Timeout,
		PreviousRevision: before.revision,
		FirstRelease:     !before.canaryExists,
	}), nil
}

// clusterState is what a release compares before and after pulumi up.
type clusterState struct {
	canaryExists bool
	revision     string
	// template is the podinfo Deployment's pod template: Flagger starts an analysis when it changes (not when
	// the replicas do, which Flagger itself sets).
	template string
}

func (c ClusterSource) state(ctx context.Context) clusterState {
	var st clusterState
	if s, err := c.Get(ctx); err == nil {
		st.canaryExists, st.revision = true, s.Revision
	}
	if d, err := c.Core.AppsV1().Deployments(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{}); err == nil {
		b, _ := json.Marshal(d.Spec.Template)
		st.template = string(b)
	}
	return st
}

// unchanged reports a release that changed nothing Flagger watches: there is no new revision to analyse, so
// the canary's current result stands.
func (c ClusterSource) unchanged(ctx context.Context, out io.Writer) (int, error) {
	s, err := c.Get(ctx)
	if err != nil {
		return ExitFailed, err
	}
	fmt.Fprintf(out, "podinfo's pod template did not change: no new revision for Flagger to analyse\n%s\n", NewPrinter(out).Line(s))
	if s.Phase == string(flaggerv1.CanaryPhaseFailed) {
		fmt.Fprintf(out, "the canary's last result stands: %s\n", reason(s))
		return ExitFailed, nil
	}
	return ExitSucceeded, nil
}

// SourceFromStack builds a ClusterSource for the cluster the stack deploys to: its kubeconfig output (the stack
// creates the cluster), its kubeconfig config (kubeconfig mode), or the kubeconfig output of its infraStack.
func SourceFromStack(ctx context.Context, stack auto.Stack) (ClusterSource, error) {
	kubeconfig, err := stackKubeconfig(ctx, stack)
	if err != nil {
		return ClusterSource{}, err
	}
	return SourceFromKubeconfig([]byte(kubeconfig))
}

func stackKubeconfig(ctx context.Context, stack auto.Stack) (string, error) {
	outputs, err := stack.Outputs(ctx)
	if err != nil {
		return "", fmt.Errorf("reading stack outputs: %w", err)
	}
	if k, _ := outputs["kubeconfig"].Value.(string); k != "" {
		return k, nil
	}
	if v, err := stack.GetConfig(ctx, "kubeconfig"); err == nil && v.Value != "" {
		return v.Value, nil
	}
	if v, err := stack.GetConfig(ctx, "infraStack"); err == nil && v.Value != "" {
		// Read without selecting it: selecting would change the workspace's current stack under the user.
		outputs, err := stack.Workspace().StackOutputs(ctx, v.Value)
		if err != nil {
			return "", fmt.Errorf("reading the outputs of infraStack %s: %w", v.Value, err)
		}
		if k, _ := outputs["kubeconfig"].Value.(string); k != "" {
			return k, nil
		}
		return "", fmt.Errorf("infraStack %s has no kubeconfig output; run pulumi up there first", v.Value)
	}
	return "", fmt.Errorf("stack %s has no kubeconfig output, kubeconfig or infraStack config; run pulumi up first", stack.Name())
}

// SourceFromKubeconfig builds a ClusterSource for the platform's Canary.
func SourceFromKubeconfig(kubeconfig []byte) (ClusterSource, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return ClusterSource{}, fmt.Errorf("reading kubeconfig: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return ClusterSource{}, err
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return ClusterSource{}, err
	}
	return ClusterSource{Dynamic: dyn, Core: core, Namespace: CanaryNamespace, Name: CanaryName}, nil
}
