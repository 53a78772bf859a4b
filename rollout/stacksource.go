package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/progressive-delivery/platform/program/services"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// clusterState is what a release compares before and after pulumi up.
type clusterState struct {
	canaryExists    bool
	revision, phase string
	// template is the podinfo Deployment's pod template: Flagger starts an analysis when it changes (not when
	// the replicas do, which Flagger itself sets).
	template string
}

func (c ClusterSource) state(ctx context.Context) clusterState {
	var st clusterState
	if s, err := c.Get(ctx); err == nil {
		st.canaryExists, st.revision, st.phase = true, s.Revision, s.Phase
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

// SourceFromStack is SourceForService for the walkthrough's service where the stack runs it, else the stack's
// only service.
func SourceFromStack(ctx context.Context, stack auto.Stack) (ClusterSource, error) {
	specs, err := StackServices(ctx, stack)
	if err != nil {
		return ClusterSource{}, err
	}
	name := ""
	if _, ok := specs[services.Walkthrough]; ok {
		name = services.Walkthrough
	}
	name, spec, err := PickService(specs, name)
	if err != nil {
		return ClusterSource{}, err
	}
	return SourceForService(ctx, stack, name, spec.Namespace)
}

// SourceForService builds a ClusterSource for the service's Canary on the cluster the stack deploys to: its
// kubeconfig output (the stack creates the cluster), its kubeconfig config (kubeconfig mode), or the kubeconfig
// output of its infraStack.
func SourceForService(ctx context.Context, stack auto.Stack, name, namespace string) (ClusterSource, error) {
	kubeconfig, err := stackKubeconfig(ctx, stack)
	if err != nil {
		return ClusterSource{}, err
	}
	src, err := SourceFromKubeconfig([]byte(kubeconfig))
	if err != nil {
		return ClusterSource{}, err
	}
	src.Name, src.Namespace = name, namespace
	return src, nil
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

// SourceFromKubeconfig builds a ClusterSource for the platform's Canary in its default namespace.
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
