package simcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/progressive-delivery/platform/manifests"
	"github.com/progressive-delivery/platform/workloads"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// ChartsDir is the folder of the chart sources the stacks pin: E2E_CHARTS_DIR, else ../shared/charts beside the
// repository (the chart repositories are not reachable from the build machines).
func ChartsDir() (string, error) {
	if dir := os.Getenv("E2E_CHARTS_DIR"); dir != "" {
		return dir, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if exists(filepath.Join(dir, "go.mod")) {
			charts := filepath.Join(filepath.Dir(dir), "shared", "charts")
			if !exists(charts) {
				return "", fmt.Errorf("no chart sources at %s (set E2E_CHARTS_DIR)", charts)
			}
			return charts, nil
		}
	}
	return "", errors.New("no go.mod above the working folder")
}

// GlooFlaggerChart is the Flagger chart of version with the values the program installs it with on the
// walkthrough's Gloo ingress: what the tests and the demo run. The version is the caller's (the dev stack's pin,
// program.Defaults) so that this package does not link the program's AWS SDKs.
func GlooFlaggerChart(version string) (FlaggerChart, error) {
	values, err := PlainValues(workloads.FlaggerValues(manifests.MustIngress(manifests.IngressGloo), nil, nil))
	if err != nil {
		return FlaggerChart{}, err
	}
	return FlaggerChart{Version: version, Values: values}, nil
}

// PlainValues turns chart values built for a pulumi Helm release (known values only) into the plain map Helm
// renders with.
func PlainValues(values pulumi.Map) (map[string]any, error) {
	out := map[string]any{}
	for key, v := range values {
		plain, err := plainValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out[key] = plain
	}
	return out, nil
}

func plainValue(v pulumi.Input) (any, error) {
	switch t := v.(type) {
	case pulumi.Map:
		return PlainValues(t)
	case pulumi.String:
		return string(t), nil
	case pulumi.Bool:
		return bool(t), nil
	case pulumi.Int:
		return int(t), nil
	case pulumi.StringArray:
		out := make([]any, len(t))
		for i, s := range t {
			p, err := plainValue(s)
			if err != nil {
				return nil, err
			}
			out[i] = p
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %T is not a known plain value", v)
}

// RenderChart renders the chart in dir as `helm template` would for a new release name in namespace, and
// returns each template's output by its path (flagger/templates/prometheus.yaml).
func RenderChart(dir, name, namespace string, values map[string]any) (map[string]string, error) {
	c, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	if unknown := UnknownValues(c.Values, values, ""); len(unknown) > 0 {
		return nil, fmt.Errorf("chart %s %s has no values %s", c.Name(), c.Metadata.Version, strings.Join(unknown, ", "))
	}
	top, err := chartutil.ToRenderValues(c, values, chartutil.ReleaseOptions{Name: name, Namespace: namespace, IsInstall: true, Revision: 1}, nil)
	if err != nil {
		return nil, err
	}
	return engine.Render(c, top)
}

// UnknownValues are the keys (dotted paths) of values that the chart's own values.yaml does not have. Below a key
// whose default is an empty map (annotations, labels) any key is the chart's.
func UnknownValues(defaults chartutil.Values, values map[string]any, prefix string) []string {
	var out []string
	for key, v := range values {
		d, ok := defaults[key]
		if !ok {
			out = append(out, prefix+key)
			continue
		}
		sub, isMap := v.(map[string]any)
		dmap, dIsMap := d.(map[string]any)
		if isMap && dIsMap && len(dmap) > 0 {
			out = append(out, UnknownValues(dmap, sub, prefix+key+".")...)
		}
	}
	sort.Strings(out)
	return out
}

// applyManifest creates every object of a rendered template (a multi-document YAML) in the cluster.
func (c *Cluster) applyManifest(ctx context.Context, manifest string) error {
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	for _, doc := range bytes.Split([]byte(manifest), []byte("\n---")) {
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
			return err
		}
		if obj.Object == nil || obj.GetKind() == "" {
			continue
		}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		client := c.Dynamic.Resource(m.Resource)
		var create func() error
		if m.Scope.Name() == "namespace" {
			create = func() error {
				_, err := client.Namespace(obj.GetNamespace()).Create(ctx, &obj, metav1.CreateOptions{})
				return err
			}
		} else {
			create = func() error { _, err := client.Create(ctx, &obj, metav1.CreateOptions{}); return err }
		}
		if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
		}
	}
	return nil
}
