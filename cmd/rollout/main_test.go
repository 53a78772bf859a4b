package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRun_FlagValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"version required", []string{"--work-dir", "../.."}, exitUsage, "--version is required"},
		{"timeout positive", []string{"--work-dir", "../..", "--version", "6.0.1", "--timeout", "0s"}, exitUsage, "--timeout must be positive"},
		{"unknown stack", []string{"--work-dir", "../..", "--version", "6.0.1", "--stack", "staging"}, exitUsage, "--stack staging: no Pulumi.staging.yaml"},
		{"no project", []string{"--work-dir", os.TempDir(), "--version", "6.0.1"}, exitUsage, "no Pulumi.yaml there"},
		{"unknown flag", []string{"--versoin", "6.0.1"}, exitUsage, "flag provided but not defined: -versoin"},
		{"stray argument", []string{"--work-dir", "../..", "--version", "6.0.1", "now"}, exitUsage, `unexpected argument "now"`},
		{"status unknown stack", []string{"status", "--work-dir", "../..", "--stack", "qa"}, exitUsage, "--stack qa: no Pulumi.qa.yaml"},
		{"approve unknown stack", []string{"approve", "--work-dir", "../..", "--stack", "qa"}, exitUsage, "--stack qa: no Pulumi.qa.yaml"},
		{"rollback stray argument", []string{"rollback", "--work-dir", "../..", "cart"}, exitUsage, `unexpected argument "cart"`},
		{"halt takes no version", []string{"halt", "--version", "6.0.1"}, exitUsage, "flag provided but not defined: -version"},
		{"bad duration", []string{"--version", "6.0.1", "--timeout", "soon"}, exitUsage, `invalid value "soon" for flag -timeout`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			assert.Equal(t, tt.wantCode, code)
			assert.Contains(t, stderr.String(), tt.wantErr)
			assert.Empty(t, stdout.String(), "nothing runs on bad flags")
		})
	}
}

func TestRun_HelpExplainsFlags(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run(context.Background(), []string{"--help"}, &stdout, &stderr))
	for _, want := range []string{"-stack", "-version", "-timeout", "-work-dir", "Succeeded (exit 0)", "Failed (exit 1", "timeout passes (exit 2)", "Ctrl-C", "rollout approve", "rollout rollback"} {
		assert.Contains(t, stderr.String(), want)
	}
}

func TestCheckStack_AcceptsTheRepositoryStacks(t *testing.T) {
	t.Parallel()
	stacks, err := filepath.Glob("../../Pulumi.*.yaml")
	assert.NoError(t, err)
	assert.NotEmpty(t, stacks)
	for _, s := range []string{"dev", "prod"} {
		assert.NoError(t, checkStack(s, "../.."), s)
	}
	assert.Error(t, checkStack("", "../.."))
}
