//go:build integration

package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/stretchr/testify/require"
)

// TestAccDevPreview previews the dev stack, with Pulumi.dev.yaml's config, against a real AWS account with the
// real Pulumi CLI, in a stack of its own on a temporary backend. It needs AWS credentials and the pulumi CLI, and
// skips (saying why) without them; no workflow runs it, as none holds an account:
//
//	go test -tags integration -run TestAcc ./tests/
func TestAccDevPreview(t *testing.T) {
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" && os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE") == "" {
		t.Skip("skipped: no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID) - this test previews against a real account")
	}
	if _, err := exec.LookPath("pulumi"); err != nil {
		t.Skip("skipped: the pulumi CLI is not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	passphrase := os.Getenv("PULUMI_CONFIG_PASSPHRASE")
	if passphrase == "" {
		passphrase = "integration-test"
	}
	stack, err := auto.UpsertStackLocalSource(ctx, "acc-"+time.Now().Format("20060102150405"), "..",
		auto.EnvVars(map[string]string{
			"PULUMI_BACKEND_URL":       "file://" + t.TempDir(),
			"PULUMI_CONFIG_PASSPHRASE": passphrase,
			"PULUMI_SKIP_UPDATE_CHECK": "true",
		}))
	require.NoError(t, err)
	ws := stack.Workspace()
	// The stack's file (Pulumi.acc-<time>.yaml) sits beside Pulumi.dev.yaml for the test only.
	t.Cleanup(func() {
		_ = ws.RemoveStack(context.Background(), stack.Name())
		_ = os.Remove(filepath.Join("..", "Pulumi."+stack.Name()+".yaml"))
	})
	dev, err := ws.StackSettings(ctx, "dev")
	require.NoError(t, err, "reading Pulumi.dev.yaml")
	require.NotEmpty(t, dev.Config, "Pulumi.dev.yaml holds the dev stack's config")
	// The dev file's own salt belongs to its passphrase; this stack makes its own.
	dev.EncryptionSalt = ""
	require.NoError(t, ws.SaveStackSettings(ctx, stack.Name(), dev))
	start := time.Now()
	res, err := stack.Preview(ctx, optpreview.Diff())
	require.NoError(t, err)
	t.Logf("preview of a new stack with the dev stack's config: %s, %v", time.Since(start).Round(time.Second), res.ChangeSummary)
	require.Greater(t, res.ChangeSummary["create"], 50)
}
