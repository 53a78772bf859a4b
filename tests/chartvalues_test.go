package tests

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/progressive-delivery/platform/internal/simcluster"
	"github.com/progressive-delivery/platform/manifests"
	"github.com/progressive-delivery/platform/program"
	"github.com/progressive-delivery/platform/workloads"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chartsDir is ../shared/charts, the sources of the charts the stacks pin (the chart repositories are not
// reachable here); without it the test skips, unless CI is set.
func chartsDir(t *testing.T) string {
	t.Helper()
	dir, err := simcluster.ChartsDir()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but the chart sources are missing: %v", err)
		}
		t.Skipf("chart sources missing: %v", err)
	}
	return dir
}

// flaggerChartVersions are the Flagger charts the stacks pin (dev, prod) and the newest supported.
func flaggerChartVersions(t *testing.T) []string {
	t.Helper()
	versions := []string{program.Defaults().FlaggerChartVersion, program.Current.Flagger}
	prod, err := os.ReadFile("../Pulumi.prod.yaml")
	require.NoError(t, err)
	for _, line := range strings.Split(string(prod), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "progressive-delivery:flaggerChartVersion:"); ok {
			versions = append(versions, strings.TrimSpace(v))
		}
	}
	return versions
}

// TestChartValues_FlaggerChartsHaveEveryKeyTheProgramSets renders each pinned Flagger chart with the program's
// values for each ingress (helm's own engine): no key is one the chart does not have, and the chart's Prometheus,
// which the real-engine tests run, is rendered with the pod scrape job Flagger's queries need.
func TestChartValues_FlaggerChartsHaveEveryKeyTheProgramSets(t *testing.T) {
	charts := chartsDir(t)
	for _, version := range flaggerChartVersions(t) {
		for _, name := range manifests.Ingresses {
			ingress := manifests.MustIngress(name)
			values, err := simcluster.PlainValues(workloads.FlaggerValues(ingress, pulumi.String("dev"),
				pulumi.String("arn:aws:iam::123456789012:role/flagger")))
			require.NoError(t, err)
			rendered, err := simcluster.RenderChart(filepath.Join(charts, "flagger-"+version), "flagger",
				ingress.Namespace(), values)
			require.NoError(t, err, "Flagger chart %s, ingress %s", version, ingress)
			prometheus := rendered["flagger/templates/prometheus.yaml"]
			assert.Contains(t, prometheus, "job_name: kubernetes-pods", "chart %s", version)
			assert.Contains(t, prometheus, "namespace: "+ingress.Namespace(), "chart %s", version)
			assert.Contains(t, rendered["flagger/templates/deployment.yaml"], "-mesh-provider="+ingress.Provider(),
				"chart %s", version)
		}
	}
	_, err := simcluster.RenderChart(filepath.Join(charts, "flagger-"+program.Defaults().FlaggerChartVersion), "flagger", "gloo-system",
		map[string]any{"prometheus": map[string]any{"instal": true}, "meshProvder": "gloo"})
	require.Error(t, err, "a misspelled key fails")
	assert.Contains(t, err.Error(), "meshProvder, prometheus.instal")
}

// TestChartValues_GlooValuesMatchTheChartSchema checks the program's Gloo values against the Gloo chart's values
// schema, the Go structs of its generate/values.go (the chart's values.yaml is generated from them), for the dev
// pin and the newest 1.x.
func TestChartValues_GlooValuesMatchTheChartSchema(t *testing.T) {
	charts := chartsDir(t)
	for _, version := range []string{program.Defaults().GlooChartVersion, program.Current.Gloo} {
		schema := parseValuesSchema(t, filepath.Join(charts, "gloo-"+version, "generate", "values.go"))
		for _, toDatadog := range []bool{false, true} {
			values, err := simcluster.PlainValues(workloads.GlooValues(toDatadog))
			require.NoError(t, err)
			assert.Empty(t, schema.unknown(values, "HelmConfig", ""), "Gloo chart %s, Datadog %v", version, toDatadog)
		}
		misspelled := map[string]any{"discovery": map[string]any{"enabld": false},
			"gatewayProxies": map[string]any{"gatewayProxy": map[string]any{"podTemplat": map[string]any{}}}}
		assert.Equal(t, []string{"discovery.enabld", "gatewayProxies.gatewayProxy.podTemplat"},
			schema.unknown(misspelled, "HelmConfig", ""), "Gloo chart %s", version)
	}
}

// valuesSchema is the struct types of a Go file: each type's fields by JSON name.
type valuesSchema map[string]map[string]ast.Expr

func parseValuesSchema(t *testing.T, path string) valuesSchema {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	require.NoError(t, err)
	schema := valuesSchema{}
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, spec := range gen.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok {
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			fields := map[string]ast.Expr{}
			for _, f := range st.Fields.List {
				name := ""
				if f.Tag != nil {
					tag, err := strconv.Unquote(f.Tag.Value)
					require.NoError(t, err)
					name, _, _ = strings.Cut(reflect.StructTag(tag).Get("json"), ",")
				}
				if len(f.Names) == 0 && name == "" {
					name = "," + exprName(f.Type) // embedded: its fields are this type's
				}
				fields[name] = f.Type
			}
			schema[ts.Name.Name] = fields
		}
	}
	return schema
}

func exprName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.StarExpr:
		return exprName(t.X)
	}
	return ""
}

// field finds a JSON key in a struct type, looking into embedded ones.
func (s valuesSchema) field(typeName, key string) (ast.Expr, bool) {
	fields := s[typeName]
	if e, ok := fields[key]; ok {
		return e, true
	}
	for name := range fields {
		if embedded, ok := strings.CutPrefix(name, ","); ok {
			if e, ok := s.field(embedded, key); ok {
				return e, true
			}
		}
	}
	return nil, false
}

// unknown lists the keys of values (dotted paths) that type typeName does not have.
func (s valuesSchema) unknown(values map[string]any, typeName, prefix string) []string {
	var out []string
	for key, v := range values {
		e, ok := s.field(typeName, key)
		if !ok {
			out = append(out, prefix+key)
			continue
		}
		out = append(out, s.unknownIn(v, e, prefix+key)...)
	}
	sort.Strings(out)
	return out
}

// unknownIn checks a value against a field's type: a struct of this file, a map of one, or anything else (a
// scalar, or a Kubernetes type the schema imports) taken as it is.
func (s valuesSchema) unknownIn(v any, e ast.Expr, path string) []string {
	sub, isMap := v.(map[string]any)
	if !isMap {
		return nil
	}
	switch t := e.(type) {
	case *ast.StarExpr:
		return s.unknownIn(v, t.X, path)
	case *ast.Ident:
		if _, isStruct := s[t.Name]; isStruct {
			return s.unknown(sub, t.Name, path+".")
		}
	case *ast.MapType:
		var out []string
		for key, item := range sub {
			out = append(out, s.unknownIn(item, t.Value, path+"."+key)...)
		}
		return out
	}
	return nil
}
