// Package props converts Pulumi property values to plain Go values.
package props

import "github.com/pulumi/pulumi/sdk/v3/go/common/resource"

// Unknown stands for a value that is not known yet: in a preview, what the provider computes when it creates the
// resource (IDs, ARNs) and everything derived from it.
type Unknown struct{}

// Plain converts a property value to plain Go values (map[string]any, []any, string, float64, bool, nil, Unknown),
// unwrapping secrets and known outputs; resource references become their URN.
func Plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return Plain(v.SecretValue().Element)
	case v.IsOutput():
		if !v.OutputValue().Known {
			return Unknown{}
		}
		return Plain(v.OutputValue().Element)
	case v.IsComputed():
		return Unknown{}
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

// ContainsUnknown reports whether v, or anything inside it, is Unknown.
func ContainsUnknown(v any) bool {
	switch t := v.(type) {
	case Unknown:
		return true
	case map[string]any:
		for _, e := range t {
			if ContainsUnknown(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if ContainsUnknown(e) {
				return true
			}
		}
	}
	return false
}
