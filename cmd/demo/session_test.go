package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

func TestProjectWithBinary_ReplacesTheBuildTargetAndKeepsTheRest(t *testing.T) {
	t.Parallel()
	out, err := projectWithBinary("../../Pulumi.yaml", "/tmp/demo/bin/program")
	require.NoError(t, err)
	var project, original map[string]any
	require.NoError(t, yaml.Unmarshal(out, &project))
	raw, err := os.ReadFile("../../Pulumi.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, &original))
	assert.Equal(t, map[string]any{"binary": "/tmp/demo/bin/program"}, project["runtime"].(map[string]any)["options"])
	assert.Equal(t, original["config"], project["config"], "the config schema and its defaults are the repository's")
	assert.Equal(t, original["name"], project["name"])

	noTarget := filepath.Join(t.TempDir(), "Pulumi.yaml")
	require.NoError(t, os.WriteFile(noTarget, []byte("name: x\nruntime: go\n"), 0o644))
	_, err = projectWithBinary(noTarget, "/bin/true")
	assert.ErrorContains(t, err, "no Go runtime option buildTarget")
}
