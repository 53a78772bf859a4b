package rollout

import (
	"encoding/json"
	"testing"

	"github.com/progressive-delivery/platform/program/services"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var mirrored = []string{"6.0.0", "6.0.1", "6.0.2", "6.1.0", "6.1.5", "6.1.6"}

func TestCheckVersion(t *testing.T) {
	t.Parallel()
	tests := []struct{ version, wantErr string }{
		{"6.0.1", ""},
		{"6.1.6", ""},
		{"", "--version: required, one of the mirrored tags [6.0.0 6.0.1 6.0.2 6.1.0 6.1.5 6.1.6]"},
		{"6.2.0", `--version: "6.2.0" is not mirrored for service podinfo`},
		{"v6.0.1", `--version: "v6.0.1" is not mirrored`},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			err := CheckVersion("podinfo", tt.version, mirrored)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func engineEvent(e apitype.EngineEvent) events.EngineEvent { return events.EngineEvent{EngineEvent: e} }

func TestFormatEvent(t *testing.T) {
	t.Parallel()
	deployment := "urn:pulumi:dev::progressive-delivery::progressive-delivery:workloads:App$kubernetes:apps/v1:Deployment::app-podinfo"
	tests := []struct {
		name  string
		event apitype.EngineEvent
		want  string
	}{
		{"update with diff", apitype.EngineEvent{ResOutputsEvent: &apitype.ResOutputsEvent{Metadata: apitype.StepEventMetadata{
			Op: apitype.OpUpdate, URN: deployment, Type: "kubernetes:apps/v1:Deployment", Diffs: []string{"spec"}}}},
			"~ update app-podinfo (spec)"},
		{"create", apitype.EngineEvent{ResOutputsEvent: &apitype.ResOutputsEvent{Metadata: apitype.StepEventMetadata{
			Op: apitype.OpCreate, URN: deployment, Type: "kubernetes:apps/v1:Deployment"}}}, "+ create app-podinfo"},
		{"failure", apitype.EngineEvent{ResOpFailedEvent: &apitype.ResOpFailedEvent{Metadata: apitype.StepEventMetadata{
			Op: apitype.OpUpdate, URN: deployment}}}, "x update app-podinfo failed"},
		{"warning", apitype.EngineEvent{DiagnosticEvent: &apitype.DiagnosticEvent{Severity: "warning",
			Message: "kubernetesVersion 1.24 is past EKS extended support\n"}}, "warning: kubernetesVersion 1.24 is past EKS extended support"},
		{"summary", apitype.EngineEvent{SummaryEvent: &apitype.SummaryEvent{Result: "succeeded", DurationSeconds: 12,
			ResourceChanges: map[apitype.OpType]int{apitype.OpUpdate: 1, apitype.OpSame: 80}}}, "update succeeded in 12s: 1 update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			line, ok := FormatEvent(engineEvent(tt.event))
			require.True(t, ok)
			assert.Equal(t, tt.want, line)
		})
	}
	quiet := []apitype.EngineEvent{
		{ResOutputsEvent: &apitype.ResOutputsEvent{Metadata: apitype.StepEventMetadata{Op: apitype.OpSame, URN: deployment}}},
		{DiagnosticEvent: &apitype.DiagnosticEvent{Severity: "info", Message: "noise"}},
		{PreludeEvent: &apitype.PreludeEvent{}},
	}
	for _, e := range quiet {
		_, ok := FormatEvent(engineEvent(e))
		assert.False(t, ok, "unchanged resources, info and prelude events print nothing")
	}
}

// TestStackServices_DefaultIsWhatPulumiYAMLDeclares: a stack that sets no services runs the default Pulumi.yaml
// declares; the command falls back to services.Defaults, so the two must be the same services.
func TestStackServices_DefaultIsWhatPulumiYAMLDeclares(t *testing.T) {
	t.Parallel()
	project, err := workspace.LoadProject("../Pulumi.yaml")
	require.NoError(t, err)
	declared, err := json.Marshal(project.Config[services.Key].Default)
	require.NoError(t, err)
	parsed, err := services.Parse(string(declared))
	require.NoError(t, err)
	assert.Equal(t, services.Defaults(), parsed)
}

func TestPickService_OneByNameOrTheOnlyOne(t *testing.T) {
	t.Parallel()
	one := services.Defaults()
	name, _, err := PickService(one, "")
	require.NoError(t, err)
	assert.Equal(t, "podinfo", name, "the only service needs no --service")
	two := services.Defaults()
	two["cart"] = services.Generic()
	_, _, err = PickService(two, "")
	assert.EqualError(t, err, "--service: required, the stack has services [cart podinfo]")
	_, _, err = PickService(two, "shop")
	assert.EqualError(t, err, `--service: "shop" is not a service of the stack; want one of [cart podinfo]`)
	name, spec, err := PickService(two, "cart")
	require.NoError(t, err)
	assert.Equal(t, "cart", name)
	assert.Equal(t, 8080, spec.Port)
}

func TestCheckVersion_MirroredTagsOnly(t *testing.T) {
	t.Parallel()
	assert.NoError(t, CheckVersion("podinfo", "6.0.1", []string{"6.0.0", "6.0.1"}))
	assert.EqualError(t, CheckVersion("podinfo", "7.0.0", []string{"6.0.0", "6.0.1"}),
		`--version: "7.0.0" is not mirrored for service podinfo; want one of [6.0.0 6.0.1] (services.podinfo.image.tags)`)
	assert.NoError(t, CheckVersion("cart", "7.0.0", nil), "a service pulled from its source takes any tag")
	assert.Error(t, CheckVersion("cart", "", nil))
}
