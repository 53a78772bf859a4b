// Package props converts Pulumi property values to plain Go values.
package props

import "github.com/pulumi/pulumi/sdk/v3/go/common/resource"

// Plain converts a property value to plain Go values (map[string]any, []any, string, float64, bool, nil),
// unwrapping secrets and known outputs; unknown values become nil and resource references their URN.
func Plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return Plain(v.SecretValue().Element)
	case v.IsOutput():
		return Plain(v.OutputValue().Element)
	case v.IsComputed():
		return nil
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = Plain(e)
		}
		return out
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, Plain(e))
		}
		return out
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	}
	return v.V
}

// PlainMap converts a property map.
func PlainMap(m resource.PropertyMap) map[string]any {
	out, _ := Plain(resource.NewObjectProperty(m)).(map[string]any)
	return out
}
