// Package overlay lays a config entry over its defaults: an entry of the services or teams key, a JSON object as
// the Pulumi SDK hands an object key over, on the spec it starts from.
package overlay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Map reads the value of a map key such as services (JSON): each entry laid over the entry of its name in defaults,
// else over generic(); an empty value is defaults. Errors name key.<entry>; noun names an entry ("service").
func Map[T any](key, noun, raw string, defaults map[string]T, generic func() T, docs string) (map[string]T, error) {
	if strings.TrimSpace(raw) == "" {
		return defaults, nil
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &entries); err != nil {
		return nil, fmt.Errorf("%s: want an object of %s name: spec, got %s", key, noun, raw)
	}
	out := map[string]T{}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		base, ok := defaults[name]
		if !ok {
			base = generic()
		}
		spec, err := Over(base, entries[name], docs)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: %w", key, name, err))
			continue
		}
		out[name] = spec
	}
	return out, errors.Join(errs...)
}

// Over lays entry over base: objects merge field by field, lists and scalars replace. An unknown field is an
// error naming it and docs, the page listing the fields.
func Over[T any](base T, entry json.RawMessage, docs string) (T, error) {
	var zero T
	baseJSON, err := json.Marshal(base)
	if err != nil {
		return zero, err
	}
	var merged, over map[string]any
	if err := json.Unmarshal(baseJSON, &merged); err != nil {
		return zero, err
	}
	if err := json.Unmarshal(entry, &over); err != nil {
		return zero, fmt.Errorf("want an object of fields (%s), got %s", docs, entry)
	}
	mergeObjects(merged, over)
	coerce(reflect.TypeFor[T](), merged)
	mergedJSON, err := json.Marshal(merged)
	if err != nil {
		return zero, err
	}
	dec := json.NewDecoder(bytes.NewReader(mergedJSON))
	dec.DisallowUnknownFields()
	var spec T
	if err := dec.Decode(&spec); err != nil {
		return zero, fmt.Errorf("%s (fields: %s)", strings.TrimPrefix(err.Error(), "json: "), docs)
	}
	return spec, nil
}

// mergeObjects sets over's fields into dst, recursing into objects both have; a map field (env, say) merges per
// key, as any object.
func mergeObjects(dst, over map[string]any) {
	for k, v := range over {
		sub, isObject := v.(map[string]any)
		if existing, ok := dst[k].(map[string]any); ok && isObject {
			mergeObjects(existing, sub)
			continue
		}
		dst[k] = v
	}
}

// coerce turns scalars into the type the field has: `pulumi config set --path` stores "2" as a number and
// "true" as a boolean, whatever the field is, so a version 2, a port "8080" or a cpu quota 4 must still read.
func coerce(t reflect.Type, v any) any {
	switch t.Kind() {
	case reflect.Pointer:
		return coerce(t.Elem(), v)
	case reflect.String:
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			return strconv.FormatBool(x)
		}
	case reflect.Int, reflect.Float64:
		if x, ok := v.(string); ok {
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				return f
			}
		}
	case reflect.Slice:
		if list, ok := v.([]any); ok {
			for i := range list {
				list[i] = coerce(t.Elem(), list[i])
			}
		}
	case reflect.Map:
		if obj, ok := v.(map[string]any); ok {
			for k := range obj {
				obj[k] = coerce(t.Elem(), obj[k])
			}
		}
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return v
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if x, present := obj[name]; present {
				obj[name] = coerce(f.Type, x)
			}
		}
	}
	return v
}
