package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/progressive-delivery/platform/internal/eksfixture"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/progressive-delivery/platform/policy/rules"
	"github.com/progressive-delivery/platform/program"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tableKeys returns the first-column `names` of the markdown tables under the heading of that title in the
// document at path, up to the next heading.
func tableKeys(t *testing.T, path, heading string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	loc := regexp.MustCompile(`(?m)^#+ ` + regexp.QuoteMeta(heading) + `\n`).FindIndex(raw)
	require.NotNil(t, loc, "%s has a %q section", path, heading)
	section := string(raw[loc[1]:])
	if end := regexp.MustCompile(`(?m)^#`).FindStringIndex(section); end != nil {
		section = section[:end[0]]
	}
	var keys []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(section, -1) {
		keys = append(keys, m[1])
	}
	sort.Strings(keys)
	return keys
}

func TestREADME_OutputsTableMatchesTheProgram(t *testing.T) {
	t.Parallel()
	var names []string
	_, err := mocks.Run(program.RunWithOutputs(func(_ *pulumi.Context, out program.Outputs) error {
		for name := range out {
			names = append(names, name)
		}
		return nil
	}), mocks.RunConfig{Config: mocks.DevConfig(nil)})
	require.NoError(t, err)
	sort.Strings(names)
	assert.Equal(t, names, tableKeys(t, "../README.md", "Outputs"))
}

func TestREADME_TestCommandIsWhatCIRuns(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	ci, err := os.ReadFile("../.ci/run")
	require.NoError(t, err)
	makefile, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	assert.Contains(t, string(readme), "make test                                      # the tests: go test -timeout 30m ./...")
	assert.Contains(t, string(makefile), "test:\n\tgo test -timeout 30m ./...\n")
	assert.Regexp(t, `(?m)^go test (-count=1 )?-timeout 30m \./\.\.\.$`, string(ci))
	// One build cache: make's go commands build with CI's flags (the language host's).
	flags := regexp.MustCompile(`(?m)^export GOFLAGS ?:?= ?"?([^"\n]+)"?$`)
	ciFlags, makeFlags := flags.FindStringSubmatch(string(ci)), flags.FindStringSubmatch(string(makefile))
	require.Len(t, ciFlags, 2)
	require.Len(t, makeFlags, 2)
	assert.Equal(t, ciFlags[1], makeFlags[1], "the Makefile and .ci/run build with the same GOFLAGS")
	// CI runs the real-engine suite too, as the README tells a contributor to.
	assert.Contains(t, string(readme), "go test -tags e2e -timeout 60m ./tests/")
	assert.Regexp(t, `(?m)^go test (-count=1 )?-tags e2e -timeout 60m \./tests/$`, string(ci))
}

func TestREADME_PolicyTableListsEveryRule(t *testing.T) {
	t.Parallel()
	var names []string
	for _, r := range rules.All {
		names = append(names, r.Name)
	}
	sort.Strings(names)
	assert.Equal(t, names, tableKeys(t, "../docs/policy-pack.md", "Policy pack"))
}

// userDocs are the documents a user's clone holds: README, CONTRIBUTING and docs/.
func userDocs(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	return append([]string{"../README.md", "../CONTRIBUTING.md"}, docs...)
}

// TestDocs_LinksStayInTheRepository: every relative link names a file of the repository and, with a #fragment,
// one of its headings; nothing points outside the clone.
func TestDocs_LinksStayInTheRepository(t *testing.T) {
	t.Parallel()
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, doc := range userDocs(t) {
		raw, err := os.ReadFile(doc)
		require.NoError(t, err)
		assert.NotContains(t, string(raw), "../shared", "%s refers to a folder a user's clone does not have", doc)
		for _, m := range link.FindAllStringSubmatch(string(raw), -1) {
			target := m[1]
			if strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "http://") {
				continue
			}
			file, fragment, _ := strings.Cut(target, "#")
			path := doc
			if file != "" {
				path = filepath.Join(filepath.Dir(doc), file)
			}
			abs, err := filepath.Abs(path)
			require.NoError(t, err)
			root, err := filepath.Abs("..")
			require.NoError(t, err)
			if !assert.True(t, strings.HasPrefix(abs, root+string(filepath.Separator)), "%s: %s leaves the repository", doc, target) {
				continue
			}
			body, err := os.ReadFile(path)
			if !assert.NoError(t, err, "%s: %s names no file", doc, target) || fragment == "" {
				continue
			}
			assert.Contains(t, anchors(string(body)), fragment, "%s: %s names no heading of %s", doc, target, file)
		}
	}
}

// anchors are the fragment names GitHub gives a document's headings: lower case, spaces to '-', punctuation
// other than '-' and '_' dropped.
func anchors(doc string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(doc, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// TestDocs_ConfigurationNamesEveryKey: the configuration reference lists every key Pulumi.yaml declares.
func TestDocs_ConfigurationNamesEveryKey(t *testing.T) {
	t.Parallel()
	var want []string
	for key := range loadProject(t).Config {
		want = append(want, key)
	}
	sort.Strings(want)
	raw, err := os.ReadFile("../docs/configuration.md")
	require.NoError(t, err)
	var got []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(string(raw), -1) {
		got = append(got, m[1])
	}
	sort.Strings(got)
	assert.Equal(t, want, got)
}

// The prerequisites the README lists are the tools pulumi-eks checks on every run, previews included, at the
// lowest versions it accepts, as read from its package (internal/eksfixture).
func TestREADME_PrerequisitesAreWhatPulumiEksChecks(t *testing.T) {
	t.Parallel()
	f, err := eksfixture.Load()
	require.NoError(t, err)
	assert.Equal(t, []string{"aws", "kubectl"}, f.Prerequisites.CheckedOnEveryRun)
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	assert.Contains(t, string(readme), fmt.Sprintf("AWS CLI v%s or newer (or v%s or newer)", f.Prerequisites.AWSCLIv2, f.Prerequisites.AWSCLIv1))
	assert.Contains(t, string(readme), fmt.Sprintf("kubectl v%s or newer: pulumi-eks %s", f.Prerequisites.Kubectl, f.PulumiEks))
}
