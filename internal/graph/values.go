package graph

import (
	"fmt"
	"testing"

	"github.com/progressive-delivery/platform/internal/props"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Plain converts a property value to plain Go values; see props.Plain.
func Plain(v resource.PropertyValue) any { return props.Plain(v) }

// Lookup walks path (map keys and list indexes) through inputs and returns the plain value found there.
func Lookup(inputs resource.PropertyMap, path ...any) (any, error) {
	var cur any = Plain(resource.NewObjectProperty(inputs))
	for _, step := range path {
		switch node := cur.(type) {
		case map[string]any:
			key, ok := step.(string)
			if !ok {
				return nil, fmt.Errorf("%v: %v is not a key", path, step)
			}
			next, ok := node[key]
			if !ok {
				return nil, fmt.Errorf("%v: no field %q", path, key)
			}
			cur = next
		case []any:
			i, ok := step.(int)
			if !ok || i < 0 || i >= len(node) {
				return nil, fmt.Errorf("%v: bad index %v of %d elements", path, step, len(node))
			}
			cur = node[i]
		default:
			return nil, fmt.Errorf("%v: %v reaches a scalar", path, step)
		}
	}
	return cur, nil
}

// MustLookup is Lookup that fails the test when the path does not exist.
func MustLookup(t testing.TB, inputs resource.PropertyMap, path ...any) any {
	t.Helper()
	v, err := Lookup(inputs, path...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// IsSecret reports whether the value at path is marked secret (anywhere along the path).
func IsSecret(inputs resource.PropertyMap, path ...any) bool {
	v := resource.NewObjectProperty(inputs)
	for _, step := range path {
		for v.IsSecret() || v.IsOutput() {
			if v.IsSecret() {
				return true
			}
			v = v.OutputValue().Element
		}
		switch i, isIndex := step.(int); {
		case isIndex && v.IsArray() && i < len(v.ArrayValue()):
			v = v.ArrayValue()[i]
		case !isIndex && v.IsObject():
			v = v.ObjectValue()[resource.PropertyKey(fmt.Sprint(step))]
		default:
			return false
		}
	}
	return v.IsSecret() || (v.IsOutput() && v.OutputValue().Secret)
}

// MustOne returns the single registration of typ named name, or fails the test.
func (g *Graph) MustOne(t testing.TB, typ, name string) Registration {
	t.Helper()
	r, err := g.One(typ, name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
