package rollout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// apiServer records the requests the command sends to the API server, answering each with status.
type apiServer struct {
	mu    sync.Mutex
	calls []string
}

func gateSource(t *testing.T, status int) (ClusterSource, *apiServer) {
	t.Helper()
	rec := &apiServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.calls = append(rec.calls, r.Method+" "+r.URL.Path+" "+string(body))
		rec.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	core, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	require.NoError(t, err)
	return ClusterSource{Core: core, Namespace: "shop", Name: "cart"}, rec
}

func TestGate_CallsTheLoadTestersGateThroughTheServiceProxy(t *testing.T) {
	t.Parallel()
	proxy := "POST /api/v1/namespaces/shop/services/flagger-loadtester:80/proxy"
	body := ` {"name":"cart","namespace":"shop"}`
	for action, path := range map[GateAction]string{Approve: "/gate/open", Halt: "/gate/close", Rollback: "/rollback/open"} {
		src, rec := gateSource(t, http.StatusAccepted)
		var out bytes.Buffer
		require.NoError(t, GateOn(context.Background(), src, "manual", action, &out))
		assert.Equal(t, []string{proxy + path + body}, rec.calls, action)
		assert.Contains(t, out.String(), "shop/cart: ", action)
	}

	src, rec := gateSource(t, http.StatusOK)
	err := GateOn(context.Background(), src, "none", Approve, io.Discard)
	assert.EqualError(t, err, `service cart has gate "none"; approve needs gate manual (services.cart.gate)`)
	assert.Empty(t, rec.calls, "nothing is called for a service without a manual gate")

	src, rec = gateSource(t, http.StatusOK)
	require.NoError(t, src.resetGates(context.Background()))
	assert.Equal(t, []string{proxy + "/gate/close" + body, proxy + "/rollback/close" + body}, rec.calls,
		"a release starts with both gates closed")
}

func TestGate_ResetSkipsANamespaceWithoutALoadTesterButNotOtherErrors(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusNotFound, http.StatusServiceUnavailable} {
		src, _ := gateSource(t, status)
		assert.NoError(t, src.resetGates(context.Background()), status)
	}
	src, _ := gateSource(t, http.StatusForbidden)
	assert.ErrorContains(t, src.resetGates(context.Background()), "load tester shop/flagger-loadtester/gate/close")
	src, _ = gateSource(t, http.StatusInternalServerError)
	assert.Error(t, src.Gate(context.Background(), Approve))
}

// TestRelease_LockSerialisesReleasesAndTakesOverAStaleOne: a second release waits, saying so, until the first
// lets go; a lock whose process is gone is taken over.
func TestRelease_LockSerialisesReleasesAndTakesOverAStaleOne(t *testing.T) {
	t.Parallel()
	lock := filepath.Join(t.TempDir(), ".Pulumi.dev.yaml.release-lock")
	ctx := context.Background()
	unlock, err := holdLock(ctx, lock, "dev", io.Discard)
	require.NoError(t, err)
	var waited bytes.Buffer
	second := make(chan func(), 1)
	go func() {
		u, err := holdLock(ctx, lock, "dev", &waited)
		assert.NoError(t, err)
		second <- u
	}()
	select {
	case <-second:
		t.Fatal("the second release did not wait")
	case <-time.After(time.Second):
	}
	unlock()
	select {
	case u := <-second:
		u()
	case <-time.After(5 * time.Second):
		t.Fatal("the second release did not get the lock once the first let go")
	}
	assert.Contains(t, waited.String(), "another release of stack dev is running pulumi up (process ")

	// A process that has exited leaves its lock behind: taken over at once.
	exited := exec.Command("true")
	require.NoError(t, exited.Run())
	require.NoError(t, os.WriteFile(lock, fmt.Appendf(nil, "%d\n", exited.Process.Pid), 0o600))
	timed, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	u, err := holdLock(timed, lock, "dev", io.Discard)
	require.NoError(t, err, "a stale lock is taken over")
	u()
	_, err = os.Stat(lock)
	assert.ErrorIs(t, err, fs.ErrNotExist, "unlock removes the file")
}
