// Package simcluster runs a simulated Kubernetes cluster on loopback for tests and the demo: etcd and
// kube-apiserver through controller-runtime's envtest, the real kube-controller-manager and kube-scheduler, kwok
// playing the kubelets of fake nodes shaped like the dev stack's, a data plane that runs podinfo, the Flagger load
// tester and the Flagger chart's Prometheus for real at pod addresses, a stand-in for the gateway and for the APIs
// outside the cluster (Datadog, CloudWatch, Slack, Teams, webhooks), and the real Flagger controller. Every process
// it starts is stopped by Stop.
package simcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Tools are the binaries tests/e2e/tools.sh builds into one folder.
type Tools struct {
	Bin string
	// ProviderVersion is the version the Kubernetes provider plugin is registered under (what the SDK asks for).
	ProviderVersion string
}

// toolNames are the files Start and the engine tests need in Tools.Bin.
var toolNames = []string{
	"pulumi", "pulumi-language-go", "pulumi-resource-kubernetes", "etcd", "kube-apiserver",
	"kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages", "flagger", "flagger-crds.yaml", "gateway-api-crds",
	"podcli", "flagger-loadtester", "hey", "prometheus", "curl",
}

// ErrToolsMissing is returned by FindTools when tools.sh has not run.
var ErrToolsMissing = errors.New("real-engine tools missing")

// FindTools reads E2E_TOOLS_BIN (set by `eval "$(bash tests/e2e/tools.sh)"`) and checks every tool is there.
func FindTools() (Tools, error) {
	t := Tools{Bin: os.Getenv("E2E_TOOLS_BIN"), ProviderVersion: os.Getenv("E2E_K8S_PROVIDER_VERSION")}
	if t.ProviderVersion == "" {
		t.ProviderVersion = "4.32.0"
	}
	var missing []string
	for _, name := range toolNames {
		if _, err := os.Stat(t.Path(name)); t.Bin == "" || err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return t, fmt.Errorf("%w (%s); build them with: eval \"$(bash tests/e2e/tools.sh)\"", ErrToolsMissing, strings.Join(missing, ", "))
	}
	return t, nil
}

// Path is the path of one tool.
func (t Tools) Path(name string) string { return filepath.Join(t.Bin, name) }
