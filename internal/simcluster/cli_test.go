package simcluster

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

func TestProjectWithBinary_ReplacesTheBuildTargetAndKeepsTheRest(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../Pulumi.yaml")
	require.NoError(t, err)
	out, err := ProjectWithBinary(raw, "/tmp/demo/bin/program")
	require.NoError(t, err)
	var project, original map[string]any
	require.NoError(t, yaml.Unmarshal(out, &project))
	require.NoError(t, yaml.Unmarshal(raw, &original))
	assert.Equal(t, map[string]any{"binary": "/tmp/demo/bin/program"}, project["runtime"].(map[string]any)["options"])
	assert.Equal(t, original["config"], project["config"], "the config schema and its defaults are the file's")
	assert.Equal(t, original["name"], project["name"])

	_, err = ProjectWithBinary([]byte("name: x\nruntime: go\n"), "/bin/true")
	assert.ErrorContains(t, err, "no Go runtime option buildTarget")
}
