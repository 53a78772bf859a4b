package manifests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSet_ReplacesOnlyExistingFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		path    []any
		wantErr string
	}{
		{"map key", []any{"spec", "analysis", "threshold"}, ""},
		{"list element by name", []any{"spec", "analysis", "webhooks", "load-test", "timeout"}, ""},
		{"list element by index", []any{"spec", "analysis", "metrics", 1, "interval"}, ""},
		{"misspelled key", []any{"spec", "analysis", "treshold"}, `no field "treshold"`},
		{"unknown element name", []any{"spec", "analysis", "webhooks", "smoke-test", "url"}, `no element named "smoke-test"`},
		{"index out of range", []any{"spec", "analysis", "metrics", 5, "interval"}, "index 5 out of range (2 elements)"},
		{"through a scalar", []any{"spec", "provider", "name"}, "reaches a scalar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj, err := decode(canaryYAML)
			require.NoError(t, err)
			err = set(obj, "x", tt.path...)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestAnalysis_Validate(t *testing.T) {
	t.Parallel()
	assert.Empty(t, DefaultAnalysis.Validate())
	bad := Analysis{Interval: "500ms", Threshold: 0, MaxWeight: 101, StepWeight: 0, SuccessRateMin: 0, LatencyMaxMs: -1}
	errs := bad.Validate()
	require.Len(t, errs, 6)
	for i, key := range []string{"canaryInterval", "canaryThreshold", "canaryMaxWeight", "canaryStepWeight", "canarySuccessRateMin", "canaryLatencyMaxMs"} {
		assert.Contains(t, errs[i].Error(), key+":")
	}
}
