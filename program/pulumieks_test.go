package program

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/progressive-delivery/platform/internal/eksfixture"
	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// previewForFixture runs the program as a new stack's preview with the settings the fixture was generated with.
func previewForFixture(t *testing.T) *graph.Graph {
	t.Helper()
	mon, err := mocks.Run(Run, mocks.RunConfig{Config: mocks.DevConfig(eksfixture.ConfigOverrides), DryRun: true})
	require.NoError(t, err)
	return graph.NewGraph(mon.Registrations())
}

func canonicalJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	return string(b)
}

// The program still passes pulumi-eks the inputs the fixture was generated from; otherwise the fixture describes
// another program.
func TestPulumiEksFixture_HasTheProgramsInputs(t *testing.T) {
	t.Parallel()
	f, err := eksfixture.Load()
	require.NoError(t, err)
	g := previewForFixture(t)
	require.Len(t, f.Components, 2)
	for _, c := range f.Components {
		reg := g.MustOne(t, c.Type, c.Name)
		assert.Equal(t, canonicalJSON(t, c.Inputs), canonicalJSON(t, eksfixture.CanonicalMap(reg.Inputs)),
			"%s: the program passes other inputs than pulumi-eks.json was generated from; run `%s`", c.Key(), eksfixture.Regenerate)
	}
}

// The mock of pulumi-eks creates, from the program's inputs, exactly the children pulumi-eks's own code creates:
// same types, names and parents, and the same inputs, unknown where a new stack's preview does not know them.
func TestPulumiEksMock_CreatesWhatPulumiEksCreates(t *testing.T) {
	t.Parallel()
	f, err := eksfixture.Load()
	require.NoError(t, err)
	g := previewForFixture(t)

	mocked := map[string]eksfixture.Resource{}
	for _, r := range g.Order {
		if !r.Constructed {
			continue
		}
		parent := g.ByURN[r.Parent]
		mocked[r.Type+"::"+r.Name] = eksfixture.Resource{Type: r.Type, Name: r.Name, Parent: parent.Type + "::" + parent.Name,
			Custom: r.Custom, Inputs: eksfixture.CanonicalMap(r.Inputs)}
	}
	var missing, extra []string
	for _, want := range f.Children {
		got, ok := mocked[want.Key()]
		if !ok {
			missing = append(missing, want.Key()+" ("+want.DeclaredAt+")")
			continue
		}
		delete(mocked, want.Key())
		assert.Equal(t, want.Parent, got.Parent, "%s: parent", want.Key())
		assert.Equal(t, want.Custom, got.Custom, "%s: custom", want.Key())
		assert.Equal(t, canonicalJSON(t, want.Inputs), canonicalJSON(t, got.Inputs), "%s: inputs (pulumi-eks declares it at %s)",
			want.Key(), want.DeclaredAt)
	}
	for key := range mocked {
		extra = append(extra, key)
	}
	sort.Strings(extra)
	assert.Empty(t, missing, "pulumi-eks creates these; the mock does not")
	assert.Empty(t, extra, "the mock creates these; pulumi-eks does not")
}
