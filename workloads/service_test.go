package workloads

import (
	"testing"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/progressive-delivery/platform/manifests"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
)

const testImage = "111111111111.dkr.ecr.us-west-1.amazonaws.com/ps-flagger-repository:6.0.0"

// podinfoWorkload is what the walkthrough's podinfo runs (services.Defaults' podinfo).
func podinfoWorkload() Workload {
	return Workload{
		ContainerName: "podinfod", MetricsPort: 9797, ExtraPorts: map[string]int32{"grpc": 9999},
		ReadinessPath: "/readyz", LivenessPath: "/healthz", ProbeCommand: []string{"podcli", "check", "http"},
		Command: []string{"./podinfo", "--port=9898", "--port-metrics=9797", "--grpc-port=9999", "--grpc-service-name=podinfo",
			"--level=info", "--random-delay=false", "--random-error=false"},
		Env: map[string]string{"PODINFO_UI_COLOR": "#34577c"}, RunAsUser: 100,
		Requests: map[string]string{"cpu": "100m", "memory": "64Mi"}, Limits: map[string]string{"cpu": "2000m", "memory": "512Mi"},
		MinReplicas: 2, MaxReplicas: 4, CPUUtilization: 99, MaxUnavailable: 1,
	}
}

// runApp deploys the walkthrough's podinfo on Gloo with two stand-in resources for the Gloo and Flagger releases.
func runApp(t *testing.T, domain string, analysis *manifests.Analysis) (*graph.Graph, map[string]string, string) {
	t.Helper()
	return runAppOn(t, manifests.IngressGloo, domain, analysis)
}

// runAppOn deploys the walkthrough's podinfo service and its namespace on the ingress, with two stand-in
// resources for the router and Flagger.
func runAppOn(t *testing.T, ingress, domain string, analysis *manifests.Analysis) (*graph.Graph, map[string]string, string) {
	t.Helper()
	release := manifests.WalkthroughService("apps", domain)
	if analysis != nil {
		release.Analysis = *analysis
	}
	g, out := mocks.MustRun(t, mocks.RunConfig{}, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		gloo, err := corev1.NewConfigMap(ctx, "gloo-stand-in", &corev1.ConfigMapArgs{Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("gloo")}})
		if err != nil {
			return nil, err
		}
		flagger, err := corev1.NewConfigMap(ctx, "flagger-stand-in", &corev1.ConfigMapArgs{Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("flagger")}})
		if err != nil {
			return nil, err
		}
		ns, err := NewServiceNamespace(ctx, "apps", &ServiceNamespaceArgs{Name: "apps",
			LoadTesterImage: "ghcr.io/fluxcd/flagger-loadtester:0.22.0", Flagger: flagger})
		if err != nil {
			return nil, err
		}
		app, err := NewService(ctx, "podinfo", &ServiceArgs{Release: release, Workload: podinfoWorkload(), Image: pulumi.String(testImage),
			Ingress: manifests.MustIngress(ingress), Namespace: ns, Router: gloo, Flagger: flagger})
		if err != nil {
			return nil, err
		}
		return map[string]pulumi.Output{"image": app.Image}, nil
	})
	owners := map[string]string{
		"gloo":    g.MustOne(t, "kubernetes:core/v1:ConfigMap", "gloo-stand-in").URN,
		"flagger": g.MustOne(t, "kubernetes:core/v1:ConfigMap", "flagger-stand-in").URN,
	}
	image, _ := out["image"].Value.(string)
	return g, owners, image
}

func TestService_PodinfoDeploymentMatchesSpec(t *testing.T) {
	t.Parallel()
	g, _, image := runApp(t, "podinfo.example.com", nil)
	assert.Equal(t, testImage, image)

	ns := g.MustOne(t, "kubernetes:core/v1:Namespace", "apps-ns")
	assert.Equal(t, "apps", graph.MustLookup(t, ns.Inputs, "metadata", "name"))

	d := g.MustOne(t, "kubernetes:apps/v1:Deployment", "podinfo-deployment")
	in := d.Inputs
	assert.Equal(t, "podinfo", graph.MustLookup(t, in, "metadata", "name"))
	assert.Equal(t, "apps", graph.MustLookup(t, in, "metadata", "namespace"))
	assert.Equal(t, "true", graph.MustLookup(t, in, "metadata", "annotations", "pulumi.com/skipAwait"),
		"Flagger scales podinfo to zero; Pulumi must not wait for its pods")
	_, err := graph.Lookup(in, "spec", "replicas")
	assert.Error(t, err, "no replicas field: the HPA and Flagger own the count")
	for path, want := range map[string]any{
		"minReadySeconds": float64(5), "revisionHistoryLimit": float64(5), "progressDeadlineSeconds": float64(60),
	} {
		assert.Equal(t, want, graph.MustLookup(t, in, "spec", path), path)
	}
	assert.Equal(t, "RollingUpdate", graph.MustLookup(t, in, "spec", "strategy", "type"))
	assert.Equal(t, float64(1), graph.MustLookup(t, in, "spec", "strategy", "rollingUpdate", "maxUnavailable"))
	assert.Equal(t, map[string]any{"app": "podinfo"}, graph.MustLookup(t, in, "spec", "selector", "matchLabels"))
	assert.Equal(t, map[string]any{"prometheus.io/scrape": "true", "prometheus.io/port": "9797"},
		graph.MustLookup(t, in, "spec", "template", "metadata", "annotations"))

	c := graph.MustLookup(t, in, "spec", "template", "spec", "containers", 0).(map[string]any)
	assert.Equal(t, "podinfod", c["name"])
	assert.Equal(t, testImage, c["image"])
	assert.Equal(t, []any{"./podinfo", "--port=9898", "--port-metrics=9797", "--grpc-port=9999",
		"--grpc-service-name=podinfo", "--level=info", "--random-delay=false", "--random-error=false"}, c["command"])
	assert.Equal(t, []any{
		map[string]any{"name": "http", "containerPort": float64(9898), "protocol": "TCP"},
		map[string]any{"name": "http-metrics", "containerPort": float64(9797), "protocol": "TCP"},
		map[string]any{"name": "grpc", "containerPort": float64(9999), "protocol": "TCP"},
	}, c["ports"])
	assert.Equal(t, []any{map[string]any{"name": "PODINFO_UI_COLOR", "value": "#34577c"}}, c["env"])
	for probe, path := range map[string]string{"livenessProbe": "healthz", "readinessProbe": "readyz"} {
		assert.Equal(t, map[string]any{
			"exec":                map[string]any{"command": []any{"podcli", "check", "http", "localhost:9898/" + path}},
			"initialDelaySeconds": float64(5),
			"timeoutSeconds":      float64(5),
		}, c[probe], probe)
	}
	assert.Equal(t, map[string]any{
		"requests": map[string]any{"cpu": "100m", "memory": "64Mi"},
		"limits":   map[string]any{"cpu": "2000m", "memory": "512Mi"},
	}, c["resources"])
	assert.Equal(t, restrictedContext(100), c["securityContext"], "podinfo runs as its image's app user, restricted")
	assert.Equal(t, []any{map[string]any{"name": "tmp", "mountPath": "/tmp"}}, c["volumeMounts"], "writable /tmp only")
	assert.Equal(t, []any{map[string]any{"name": "tmp", "emptyDir": map[string]any{}}},
		graph.MustLookup(t, in, "spec", "template", "spec", "volumes"))

	pdb := g.MustOne(t, "kubernetes:policy/v1:PodDisruptionBudget", "podinfo-pdb")
	assert.Equal(t, float64(1), graph.MustLookup(t, pdb.Inputs, "spec", "minAvailable"))
	assert.Equal(t, map[string]any{"app": "podinfo-primary"}, graph.MustLookup(t, pdb.Inputs, "spec", "selector", "matchLabels"),
		"the budget covers the pods that serve once Flagger takes over")

	hpa := g.MustOne(t, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "podinfo-hpa")
	assert.Equal(t, "podinfo", graph.MustLookup(t, hpa.Inputs, "metadata", "name"))
	assert.Equal(t, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
		graph.MustLookup(t, hpa.Inputs, "spec", "scaleTargetRef"))
	assert.Equal(t, float64(2), graph.MustLookup(t, hpa.Inputs, "spec", "minReplicas"))
	assert.Equal(t, float64(4), graph.MustLookup(t, hpa.Inputs, "spec", "maxReplicas"))
	assert.Equal(t, map[string]any{"type": "Resource", "resource": map[string]any{"name": "cpu",
		"target": map[string]any{"type": "Utilization", "averageUtilization": float64(99)}}},
		graph.MustLookup(t, hpa.Inputs, "spec", "metrics", 0))
}

func restrictedContext(uid int) map[string]any {
	return map[string]any{
		"runAsNonRoot": true, "runAsUser": float64(uid), "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
		"capabilities": map[string]any{"drop": []any{"ALL"}}, "seccompProfile": map[string]any{"type": "RuntimeDefault"},
	}
}

func TestService_LoadTester(t *testing.T) {
	t.Parallel()
	g, _, _ := runApp(t, "podinfo.example.com", nil)
	d := g.MustOne(t, "kubernetes:apps/v1:Deployment", "apps-loadtester")
	assert.Equal(t, "flagger-loadtester", graph.MustLookup(t, d.Inputs, "metadata", "name"))
	c := graph.MustLookup(t, d.Inputs, "spec", "template", "spec", "containers", 0).(map[string]any)
	assert.Equal(t, "ghcr.io/fluxcd/flagger-loadtester:0.22.0", c["image"])
	assert.Equal(t, []any{"./loadtester", "-port=8080", "-log-level=info", "-timeout=1h"}, c["command"])
	assert.Equal(t, map[string]any{"prometheus.io/scrape": "true", "prometheus.io/port": "8080"},
		graph.MustLookup(t, d.Inputs, "spec", "template", "metadata", "annotations"), "the walkthrough tester's scrape annotations")
	assert.Equal(t, []any{map[string]any{"name": "http", "containerPort": float64(8080)}}, c["ports"])
	assert.Equal(t, restrictedContext(10001), c["securityContext"], "user 10001, read-only root, restricted")
	assert.Equal(t, []any{map[string]any{"name": "tmp", "mountPath": "/tmp"}}, c["volumeMounts"])
	assert.Equal(t, map[string]any{"requests": map[string]any{"cpu": "10m", "memory": "32Mi"},
		"limits": map[string]any{"cpu": "1000m", "memory": "512Mi"}}, c["resources"])
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		cmd := c[probe].(map[string]any)["exec"].(map[string]any)["command"].([]any)
		assert.Equal(t, "wget", cmd[0])
		assert.Contains(t, cmd, "http://localhost:8080/healthz")
	}
	svc := g.MustOne(t, "kubernetes:core/v1:Service", "apps-loadtester-svc")
	assert.Equal(t, "flagger-loadtester", graph.MustLookup(t, svc.Inputs, "metadata", "name"))
	assert.Equal(t, "ClusterIP", graph.MustLookup(t, svc.Inputs, "spec", "type"))
	assert.Equal(t, map[string]any{"name": "http", "port": float64(80), "protocol": "TCP", "targetPort": "http"},
		graph.MustLookup(t, svc.Inputs, "spec", "ports", 0))
}

func TestService_CustomResourcesWaitForTheirCRDOwners(t *testing.T) {
	t.Parallel()
	g, owners, _ := runApp(t, "podinfo.example.com", nil)
	vs := g.MustOne(t, "kubernetes:gateway.solo.io/v1:VirtualService", "podinfo-route")
	assert.Contains(t, vs.Dependencies, owners["gloo"], "the VirtualService waits for the Gloo release")
	assert.Equal(t, []any{"podinfo.example.com"}, graph.MustLookup(t, vs.Inputs, "spec", "virtualHost", "domains"))
	assert.Equal(t, map[string]any{"name": "podinfo", "namespace": "apps"},
		graph.MustLookup(t, vs.Inputs, "spec", "virtualHost", "routes", 0, "delegateAction", "ref"))

	canary := g.MustOne(t, "kubernetes:flagger.app/v1beta1:Canary", "podinfo-canary")
	assert.Contains(t, canary.Dependencies, owners["flagger"], "the Canary waits for Flagger")
	assert.Contains(t, canary.Dependencies, owners["gloo"], "the Canary waits for Gloo too")
	for _, name := range []string{"podinfo-deployment", "apps-loadtester"} {
		assert.True(t, g.DependsOn(canary.URN, g.MustOne(t, "kubernetes:apps/v1:Deployment", name).URN), name)
	}
	assert.Equal(t, "apps", graph.MustLookup(t, canary.Inputs, "metadata", "namespace"))
	assert.Equal(t, "gloo", graph.MustLookup(t, canary.Inputs, "spec", "provider"))
}

func TestService_CanaryFollowsDomainAndAnalysis(t *testing.T) {
	t.Parallel()
	analysis := manifests.Analysis{Interval: "30s", Threshold: 3, MaxWeight: 60, StepWeight: 10, SuccessRateMin: 95, LatencyMaxMs: 800}
	g, _, _ := runApp(t, "shop.example.org", &analysis)
	canary := g.MustOne(t, "kubernetes:flagger.app/v1beta1:Canary", "podinfo-canary")
	a := graph.MustLookup(t, canary.Inputs, "spec", "analysis").(map[string]any)
	assert.Equal(t, "30s", a["interval"])
	assert.Equal(t, float64(3), a["threshold"])
	assert.Equal(t, float64(60), a["maxWeight"])
	assert.Equal(t, float64(10), a["stepWeight"])
	assert.Equal(t, "hey -z 2m -q 5 -c 2 -host shop.example.org http://gateway-proxy.gloo-system",
		graph.MustLookup(t, canary.Inputs, "spec", "analysis", "webhooks", 1, "metadata", "cmd"))
	vs := g.MustOne(t, "kubernetes:gateway.solo.io/v1:VirtualService", "podinfo-route")
	assert.Equal(t, []any{"shop.example.org"}, graph.MustLookup(t, vs.Inputs, "spec", "virtualHost", "domains"))
}

func TestService_CreatesNothingFlaggerOwns(t *testing.T) {
	t.Parallel()
	g, _, _ := runApp(t, "podinfo.example.com", nil)
	flaggerOwned := map[string]bool{"podinfo-primary": true, "podinfo": true, "podinfo-canary": true}
	for _, r := range g.Order {
		switch r.Type {
		case "kubernetes:core/v1:Service":
			name := graph.MustLookup(t, r.Inputs, "metadata", "name").(string)
			assert.False(t, flaggerOwned[name], "Service %s belongs to Flagger", name)
		case "kubernetes:gateway.solo.io/v1:RouteTable", "kubernetes:gloo.solo.io/v1:Upstream":
			t.Errorf("%s %s belongs to Flagger", r.Type, r.Name)
		case "kubernetes:apps/v1:Deployment":
			assert.NotEqual(t, "podinfo-primary", graph.MustLookup(t, r.Inputs, "metadata", "name"))
		}
	}
	assert.Len(t, g.Find("kubernetes:core/v1:Service"), 1, "only the load tester's Service")
}

func TestService_GatewayAPICanaryAttachesToThePublicGateway(t *testing.T) {
	t.Parallel()
	g, owners, _ := runAppOn(t, manifests.IngressGatewayAPI, "podinfo.example.com", nil)
	assert.Empty(t, g.Find("kubernetes:gateway.solo.io/v1:VirtualService"), "no Gloo object on the Gateway API")
	canary := g.MustOne(t, "kubernetes:flagger.app/v1beta1:Canary", "podinfo-canary")
	assert.Equal(t, "gatewayapi:v1", graph.MustLookup(t, canary.Inputs, "spec", "provider"))
	assert.Equal(t, []any{map[string]any{"name": "gateway-proxy", "namespace": "kgateway-system"}},
		graph.MustLookup(t, canary.Inputs, "spec", "service", "gatewayRefs"))
	assert.Equal(t, []any{"podinfo.example.com"}, graph.MustLookup(t, canary.Inputs, "spec", "service", "hosts"))
	assert.Equal(t, "hey -z 2m -q 5 -c 2 -host podinfo.example.com http://gateway-proxy.kgateway-system",
		graph.MustLookup(t, canary.Inputs, "spec", "analysis", "webhooks", 1, "metadata", "cmd"))
	assert.Contains(t, canary.Dependencies, owners["gloo"], "the Canary waits for the router (here the Gateway)")
}

func TestService_RefusesAReleaseWhoseNamespaceHasNoLoadTester(t *testing.T) {
	t.Parallel()
	_, err := mocks.Run(func(ctx *pulumi.Context) error {
		ns, err := NewServiceNamespace(ctx, "apps", &ServiceNamespaceArgs{Name: "apps"})
		if err != nil {
			return err
		}
		_, err = NewService(ctx, "podinfo", &ServiceArgs{Release: manifests.WalkthroughService("apps", "podinfo.example.com"),
			Workload: podinfoWorkload(), Image: pulumi.String(testImage), Ingress: manifests.MustIngress(manifests.IngressGloo), Namespace: ns})
		return err
	}, mocks.RunConfig{})
	assert.ErrorContains(t, err, "service podinfo: the release calls a load tester, and namespace apps has none")
}

// TestService_AServiceOfItsOwn: a service not on podinfo's ports, probes or command gets HTTP probes on its port,
// no metrics port of its own, its own names, and a MetricTemplate per check.
func TestService_AServiceOfItsOwn(t *testing.T) {
	t.Parallel()
	maxErrors := 1.0
	release := manifests.Service{Name: "cart", Namespace: "shop", Host: "cart.example.com", Port: 8080, Strategy: manifests.StrategyBlueGreen,
		Analysis: manifests.Analysis{Interval: "10s", Threshold: 2, Iterations: 5, SuccessRateMin: 99, LatencyMaxMs: 500},
		LoadTest: "hey -z 1m -q 5 -c 2 {canary}/", Gate: manifests.GateNone,
		Checks: []manifests.Check{{Name: "errors", Query: "sum(rate(errors_total[1m]))", Max: &maxErrors, Interval: "1m"}}}
	work := Workload{MetricsPort: 8080, ReadinessPath: "/ready", LivenessPath: "/live",
		Requests: map[string]string{"cpu": "50m", "memory": "32Mi"}, Limits: map[string]string{"cpu": "500m", "memory": "128Mi"},
		MinReplicas: 1, MaxReplicas: 3, CPUUtilization: 80}
	g, _ := mocks.MustRun(t, mocks.RunConfig{}, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		ns, err := NewServiceNamespace(ctx, "shop", &ServiceNamespaceArgs{Name: "shop", LoadTesterImage: "ghcr.io/fluxcd/flagger-loadtester:0.22.0"})
		if err != nil {
			return nil, err
		}
		_, err = NewService(ctx, "cart", &ServiceArgs{Release: release, Workload: work, Image: pulumi.String("ghcr.io/acme/cart:1.0.0"),
			Ingress: manifests.MustIngress(manifests.IngressGatewayAPI), Namespace: ns})
		return nil, err
	})
	d := g.MustOne(t, "kubernetes:apps/v1:Deployment", "cart-deployment")
	c := graph.MustLookup(t, d.Inputs, "spec", "template", "spec", "containers", 0).(map[string]any)
	assert.Equal(t, "cart", c["name"])
	assert.Nil(t, c["command"], "the image's own entrypoint")
	assert.Equal(t, []any{map[string]any{"name": "http", "containerPort": float64(8080), "protocol": "TCP"}}, c["ports"])
	assert.Equal(t, map[string]any{"httpGet": map[string]any{"path": "/ready", "port": float64(8080)}, "initialDelaySeconds": float64(5),
		"timeoutSeconds": float64(5)}, c["readinessProbe"])
	_, hasUser := c["securityContext"].(map[string]any)["runAsUser"]
	assert.False(t, hasUser, "the image's own non-root user")
	assert.Equal(t, "8080", graph.MustLookup(t, d.Inputs, "spec", "template", "metadata", "annotations", "prometheus.io/port"))
	hpa := g.MustOne(t, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "cart-hpa")
	assert.Equal(t, float64(3), graph.MustLookup(t, hpa.Inputs, "spec", "maxReplicas"))
	assert.Equal(t, float64(80), graph.MustLookup(t, hpa.Inputs, "spec", "metrics", 0, "resource", "target", "averageUtilization"))
	mt := g.MustOne(t, "kubernetes:flagger.app/v1beta1:MetricTemplate", "cart-check-cart-errors")
	canary := g.MustOne(t, "kubernetes:flagger.app/v1beta1:Canary", "cart-canary")
	assert.True(t, g.DependsOn(canary.URN, mt.URN), "the Canary waits for its check's template")
	assert.Equal(t, float64(5), graph.MustLookup(t, canary.Inputs, "spec", "analysis", "iterations"))
	assert.Equal(t, "hey -z 1m -q 5 -c 2 http://cart-canary:8080/", graph.MustLookup(t, canary.Inputs, "spec", "analysis", "webhooks", 0, "metadata", "cmd"))
	assert.Empty(t, g.Find("kubernetes:gateway.solo.io/v1:VirtualService"))
}
