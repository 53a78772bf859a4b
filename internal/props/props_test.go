package props

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
)

func TestPlain_KeepsUnknownsApartFromAbsentValues(t *testing.T) {
	t.Parallel()
	m := resource.PropertyMap{
		"name":   resource.NewProperty("podinfo"),
		"arn":    resource.MakeComputed(resource.NewProperty("")),
		"secret": resource.MakeSecret(resource.NewProperty("s")),
		"output": resource.NewProperty(resource.Output{Known: false}),
		"list":   resource.NewProperty([]resource.PropertyValue{resource.NewProperty("a"), resource.MakeComputed(resource.NewProperty(""))}),
	}
	got := PlainMap(m)
	assert.Equal(t, "podinfo", got["name"])
	assert.Equal(t, Unknown{}, got["arn"])
	assert.Equal(t, "s", got["secret"])
	assert.Equal(t, Unknown{}, got["output"])
	assert.Equal(t, []any{"a", Unknown{}}, got["list"])
	_, present := got["absent"]
	assert.False(t, present)
	assert.True(t, ContainsUnknown(got))
	assert.False(t, ContainsUnknown(got["name"]))
	assert.True(t, ContainsUnknown(got["list"]))
}
