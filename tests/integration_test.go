//go:build integration

package tests

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/stretchr/testify/require"
)

// TestAccDevPreview previews the dev stack against a real AWS account with the real Pulumi CLI. It needs AWS
// credentials, the pulumi CLI and Docker, and skips (saying why) without them:
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
	defer func() { _ = stack.Workspace().RemoveStack(context.Background(), stack.Name()) }()
	require.NoError(t, stack.SetConfig(ctx, "aws:region", auto.ConfigValue{Value: "us-west-1"}))
	start := time.Now()
	res, err := stack.Preview(ctx, optpreview.Diff())
	require.NoError(t, err)
	t.Logf("preview of a new dev stack: %s, %v", time.Since(start).Round(time.Second), res.ChangeSummary)
	require.Greater(t, res.ChangeSummary["create"], 50)
}
