package tests

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/progressive-delivery/platform/policy/rules"
	"github.com/progressive-delivery/platform/program"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tableKeys returns the first-column `names` of the markdown table under heading.
func tableKeys(t *testing.T, readme, heading string) []string {
	t.Helper()
	start := strings.Index(readme, "\n## "+heading+"\n")
	require.GreaterOrEqual(t, start, 0, "README has a %q section", heading)
	section := readme[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var keys []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(section, -1) {
		keys = append(keys, m[1])
	}
	sort.Strings(keys)
	return keys
}

func TestREADME_ConfigTableMatchesPulumiYAML(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	var want []string
	for key := range loadProject(t).Config {
		want = append(want, key)
	}
	sort.Strings(want)
	assert.Equal(t, want, tableKeys(t, string(raw), "Configuration"))
}

func TestREADME_OutputsTableMatchesTheProgram(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	var names []string
	_, err = mocks.Run(program.RunWithOutputs(func(_ *pulumi.Context, out program.Outputs) error {
		for name := range out {
			names = append(names, name)
		}
		return nil
	}), mocks.RunConfig{Config: mocks.DevConfig(nil)})
	require.NoError(t, err)
	sort.Strings(names)
	assert.Equal(t, names, tableKeys(t, string(raw), "Outputs"))
}

func TestREADME_TestCommandIsWhatCIRuns(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	ci, err := os.ReadFile("../.ci/run")
	require.NoError(t, err)
	assert.Contains(t, string(readme), "go test -timeout 30m ./...                     # the tests")
	assert.Regexp(t, `(?m)^go test (-count=1 )?-timeout 30m \./\.\.\.$`, string(ci))
}

func TestREADME_PolicyTableListsEveryRule(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	var names []string
	for _, r := range rules.All {
		names = append(names, r.Name)
	}
	sort.Strings(names)
	assert.Equal(t, names, tableKeys(t, string(raw), "Policy pack"))
}
