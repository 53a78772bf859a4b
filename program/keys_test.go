package program

import (
	"os"
	"testing"

	"github.com/progressive-delivery/platform/program/services"
	"github.com/progressive-delivery/platform/program/teams"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const regenerate = "stale: run `go generate ./program` and commit the result"

// TestKeys_GeneratedFilesAreFresh: Pulumi.yaml's config block and the docs' table are exactly what Keys renders.
func TestKeys_GeneratedFilesAreFresh(t *testing.T) {
	t.Parallel()
	project, err := os.ReadFile("../Pulumi.yaml")
	require.NoError(t, err)
	block, err := ProjectConfigBlock()
	require.NoError(t, err)
	want, err := SpliceProjectConfig(string(project), block)
	require.NoError(t, err)
	assert.Equal(t, want, string(project), "Pulumi.yaml "+regenerate)

	docs, err := os.ReadFile("../docs/configuration.md")
	require.NoError(t, err)
	want, err = SpliceGenerated(string(docs), ConfigTable())
	require.NoError(t, err)
	assert.Equal(t, want, string(docs), "docs/configuration.md "+regenerate)

	// The guides whose field tables are generated from their key's definition.
	for file, table := range map[string]func() (string, error){"../docs/services.md": services.Table, "../docs/teams.md": teams.Table} {
		guide, err := os.ReadFile(file)
		require.NoError(t, err)
		fields, err := table()
		require.NoError(t, err)
		want, err := SpliceGenerated(string(guide), fields)
		require.NoError(t, err)
		assert.Equal(t, want, string(guide), file+" "+regenerate)
	}

	for _, file := range []string{"../docs/ingress-and-versions.md", "../README.md"} {
		versions, err := os.ReadFile(file)
		require.NoError(t, err)
		want, err = SpliceGenerated(string(versions), VersionsTable())
		require.NoError(t, err)
		assert.Equal(t, want, string(versions), file+" "+regenerate)
	}
}

func TestKeys_EachKeyOnceWithADescription(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, k := range Keys {
		assert.False(t, seen[k.Name], "%s is defined twice", k.Name)
		seen[k.Name] = true
		assert.NotEmpty(t, k.Description, k.Name)
		assert.NotEmpty(t, k.Group, k.Name)
		if k.Secret {
			assert.Equal(t, "", k.Default, "%s: a secret has no default", k.Name)
			assert.NotNil(t, k.secret, k.Name)
		} else {
			assert.NotNil(t, k.field, k.Name)
		}
	}
}

// TestKeys_DefaultsAreCopies: a caller that changes a default list or map does not change the next Defaults().
func TestKeys_DefaultsAreCopies(t *testing.T) {
	t.Parallel()
	d := Defaults()
	d.Zones[0] = "changed"
	d.Services["podinfo"].Env["PODINFO_UI_COLOR"] = "changed"
	d.Services["podinfo"].Image.Tags[0] = "changed"
	again := Defaults()
	assert.Equal(t, "us-west-1a", again.Zones[0])
	assert.Equal(t, "#34577c", again.Services["podinfo"].Env["PODINFO_UI_COLOR"])
	assert.Equal(t, "6.0.0", again.Services["podinfo"].Image.Tags[0])
}

func TestKeys_SpliceRefusesADocumentWithoutMarkers(t *testing.T) {
	t.Parallel()
	_, err := SpliceGenerated("# Configuration\n", "table")
	assert.ErrorContains(t, err, "has no")
	_, err = SpliceProjectConfig("name: progressive-delivery\n", []byte("config: {}\n"))
	assert.ErrorContains(t, err, "no top-level config: block at the end of Pulumi.yaml")
}
