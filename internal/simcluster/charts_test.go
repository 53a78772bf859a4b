package simcluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGlooFlaggerChart_HasTheProgramsValues: the chart the tests and the demo start is the version they ask for,
// with the values the program installs on Gloo, as plain values Helm renders with.
func TestGlooFlaggerChart_HasTheProgramsValues(t *testing.T) {
	chart, err := GlooFlaggerChart("1.42.0")
	require.NoError(t, err)
	assert.Equal(t, "1.42.0", chart.Version)
	assert.Equal(t, map[string]any{"meshProvider": "gloo", "prometheus": map[string]any{"install": true}}, chart.Values,
		"no cluster name or role: the simulated cluster is not EKS")
}
