package mocks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/stretchr/testify/require"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// RunConfig configures one mocked run of a program.
type RunConfig struct {
	// Config holds project keys without the project prefix ("zones") and namespaced keys as is ("aws:region").
	Config map[string]string
	// Secrets lists keys of Config that were set with --secret.
	Secrets []string
	// DryRun runs the program as `pulumi preview` does.
	DryRun bool
	// Zones the mocked account sees; default the region's a and b zones.
	Zones []string
	// EKSVersions and EKSUnreachable: see Monitor.
	EKSVersions    []EKSVersion
	EKSUnreachable bool
	// Running: see Monitor.
	Running *RunningCluster
}

// Run runs program under mocks and returns the monitor with what it recorded and the program's error.
func Run(program pulumi.RunFunc, rc RunConfig) (*Monitor, error) {
	cfg := map[string]string{}
	var secrets []string
	for k, v := range rc.Config {
		cfg[qualify(k)] = v
	}
	for _, k := range rc.Secrets {
		secrets = append(secrets, qualify(k))
	}
	mon := &Monitor{Region: cfg["aws:region"], Zones: rc.Zones, DryRun: rc.DryRun, EKSVersions: rc.EKSVersions,
		EKSUnreachable: rc.EKSUnreachable, Running: rc.Running}
	err := pulumi.RunErr(program, pulumi.WithMocks(Project, Stack, mon), func(ri *pulumi.RunInfo) {
		ri.Config = cfg
		ri.ConfigSecretKeys = secrets
		ri.DryRun = rc.DryRun
	})
	return mon, err
}

func qualify(key string) string {
	if strings.Contains(key, ":") {
		return key
	}
	return Project + ":" + key
}

// Await resolves an output inside a running program.
func Await(ctx *pulumi.Context, o pulumi.Output) (internals.UnsafeAwaitOutputResult, error) {
	return internals.UnsafeAwaitOutput(ctx.Context(), o)
}

// DevConfig is the least a dev stack sets (region, the walkthrough's open endpoint), with overrides on top. Its
// Kubernetes version is one EKS still creates: `pulumi up` refuses dev's own 1.24, and most tests play an up.
func DevConfig(overrides map[string]string) map[string]string {
	cfg := map[string]string{"aws:region": "us-west-1", "endpointPublicAccessCidrs": `["0.0.0.0/0"]`, "kubernetesVersion": "1.32"}
	for k, v := range overrides {
		cfg[k] = v
	}
	return cfg
}

// Awaited is a resolved output: its value and whether it is secret.
type Awaited struct {
	Value  any
	Secret bool
}

// MustRun runs program under mocks, awaits the outputs it returns, and fails the test on any error. It is the one
// harness of the component and program tests.
func MustRun(t testing.TB, rc RunConfig, program func(ctx *pulumi.Context) (map[string]pulumi.Output, error)) (*graph.Graph, map[string]Awaited) {
	t.Helper()
	awaited := map[string]Awaited{}
	mon, err := Run(func(ctx *pulumi.Context) error {
		outputs, err := program(ctx)
		if err != nil {
			return err
		}
		for name, o := range outputs {
			res, err := Await(ctx, o)
			if err != nil {
				return fmt.Errorf("awaiting %s: %w", name, err)
			}
			awaited[name] = Awaited{res.Value, res.Secret}
		}
		return nil
	}, rc)
	require.NoError(t, err)
	return graph.NewGraph(mon.Registrations()), awaited
}
