package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/progressive-delivery/platform/manifests"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// A manual gate (services.<name>.gate: manual) is the Flagger load tester's gate API: the Canary's
// confirm-promotion webhook asks /gate/check, which answers 403 until someone opens the gate; its rollback
// webhook asks /rollback/check, which makes Flagger roll back once opened (flagger v1.36.1 pkg/loadtester/
// server.go). The load tester has no address outside the cluster, so the command calls it through the API
// server's service proxy, as `kubectl proxy` or `kubectl get --raw` would.

// GateAction is what the command does at a service's gate.
type GateAction string

const (
	// Approve opens the gate: Flagger promotes the release at its next check.
	Approve GateAction = "approve"
	// Halt closes the gate again: a release approved but not yet promoted keeps waiting.
	Halt GateAction = "halt"
	// Rollback opens the rollback gate: Flagger rolls the release back at its next check.
	Rollback GateAction = "rollback"
)

// GateActions are the actions, in the order the usage lists them.
var GateActions = []GateAction{Approve, Halt, Rollback}

// loadTester is the Flagger load tester's Service in a service's namespace (workloads.ServiceNamespace) and its
// port.
const (
	loadTesterService = "flagger-loadtester"
	loadTesterPort    = "80"
)

// gatePaths are the load tester's endpoints each action calls, in order.
var gatePaths = map[GateAction][]string{
	Approve:  {"/gate/open"},
	Halt:     {"/gate/close"},
	Rollback: {"/rollback/open"},
}

// Gate performs the action at the service's gate.
func (c ClusterSource) Gate(ctx context.Context, action GateAction) error {
	paths, ok := gatePaths[action]
	if !ok {
		return fmt.Errorf("unknown gate action %q", action)
	}
	for _, path := range paths {
		if err := c.callLoadTester(ctx, path); err != nil {
			return err
		}
	}
	return nil
}

// resetGates closes both gates before a release, so that an approval or a rollback given to the previous release
// is not taken by this one: the load tester keeps a gate's state until it is closed. A namespace with no load
// tester yet (the first up) has nothing to reset.
func (c ClusterSource) resetGates(ctx context.Context) error {
	for _, path := range []string{"/gate/close", "/rollback/close"} {
		if err := c.callLoadTester(ctx, path); err != nil {
			var status apierrors.APIStatus
			if errors.As(err, &status) && (apierrors.IsNotFound(err) || apierrors.IsServiceUnavailable(err)) {
				return nil
			}
			return err
		}
	}
	return nil
}

func (c ClusterSource) callLoadTester(ctx context.Context, path string) error {
	body, err := json.Marshal(map[string]string{"name": c.Name, "namespace": c.Namespace})
	if err != nil {
		return err
	}
	result := c.Core.CoreV1().RESTClient().Post().Namespace(c.Namespace).Resource("services").
		Name(loadTesterService+":"+loadTesterPort).SubResource("proxy").Suffix(path).
		Body(body).SetHeader("Content-Type", "application/json").Do(ctx)
	if err := result.Error(); err != nil {
		return fmt.Errorf("load tester %s/%s%s: %w", c.Namespace, loadTesterService, path, err)
	}
	return nil
}

// GateOn performs the action at the gate of the stack's service, after checking that its gate is manual, and says
// what it did.
func GateOn(ctx context.Context, src ClusterSource, gate string, action GateAction, out io.Writer) error {
	if gate != manifests.GateManual {
		return fmt.Errorf("service %s has gate %q; %s needs gate manual (services.%s.gate)", src.Name, gate, action, src.Name)
	}
	if err := src.Gate(ctx, action); err != nil {
		return err
	}
	switch action {
	case Approve:
		fmt.Fprintf(out, "%s/%s: gate opened; Flagger promotes the release at its next check\n", src.Namespace, src.Name)
	case Halt:
		fmt.Fprintf(out, "%s/%s: gate closed; the release waits at it\n", src.Namespace, src.Name)
	case Rollback:
		fmt.Fprintf(out, "%s/%s: rollback gate opened; Flagger rolls the release back at its next check\n", src.Namespace, src.Name)
	}
	return nil
}
