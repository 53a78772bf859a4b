package rules

import (
	"fmt"
	"slices"

	"github.com/progressive-delivery/platform/internal/props"
)

// get walks keys and list indexes through plain values. Walking into a value not known yet gives props.Unknown.
func get(v any, path ...any) any {
	for _, step := range path {
		if isUnknown(v) {
			return v
		}
		switch s := step.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[s]
		case int:
			l, ok := v.([]any)
			if !ok || s >= len(l) {
				return nil
			}
			v = l[s]
		}
	}
	return v
}

func isUnknown(v any) bool {
	_, ok := v.(props.Unknown)
	return ok
}

// unknown reports whether any of vs is, or holds, a value not known yet.
func unknown(vs ...any) bool {
	return slices.ContainsFunc(vs, props.ContainsUnknown)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return b == "true"
	}
	return false
}

// strs is the known strings of a list.
func strs(v any) []string {
	var out []string
	for _, e := range asList(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func only(types ...string) func(Resource) bool {
	return func(r Resource) bool { return slices.Contains(types, r.Type) }
}

// forTypes limits a per-resource check to the given types.
func forTypes(match func(Resource) bool, check func(Resource) []string) func(Resource) []string {
	return func(r Resource) []string {
		if !match(r) {
			return nil
		}
		return check(r)
	}
}

func when(bad bool, msg string, args ...any) []string {
	if bad {
		return []string{fmt.Sprintf(msg, args...)}
	}
	return nil
}

// ofType is the resources of one type.
func ofType(rs []Resource, typ string) []Resource {
	var out []Resource
	for _, r := range rs {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}
