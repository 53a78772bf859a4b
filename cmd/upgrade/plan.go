package main

import (
	"context"
	"fmt"
	"io"
)

// stack is what the command needs of a Pulumi stack.
type stack interface {
	// Name is the stack's name.
	Name() string
	// KubernetesVersion is the kubernetesVersion the stack's config holds.
	KubernetesVersion(ctx context.Context) (string, error)
	// Preview runs the program as `pulumi preview` does with kubernetesVersion set to target, without changing the
	// stack or its config, and writes the program's plan and the planned changes to out; its error is the
	// program's refusal.
	Preview(ctx context.Context, target string, out io.Writer) error
	// SetKubernetesVersion sets kubernetesVersion in the stack's config.
	SetKubernetesVersion(ctx context.Context, version string) error
	// Up runs pulumi up, writing its progress to out.
	Up(ctx context.Context, out io.Writer) error
}

// upgrade prints the plan of moving s to f.to and applies it when f.approve is set.
func upgrade(ctx context.Context, s stack, f flags, out io.Writer) error {
	current, err := s.KubernetesVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "stack %s: kubernetesVersion %s in its config; planning %s with a preview that changes nothing\n", s.Name(), current, f.to)
	if err := s.Preview(ctx, f.to, out); err != nil {
		return fmt.Errorf("the plan is refused, nothing was changed: %w", err)
	}
	if !f.approve {
		fmt.Fprintf(out, "nothing was changed: the stack's config still holds kubernetesVersion %s. To apply the plan:\n"+
			"  go run ./cmd/upgrade --stack %s --to %s --approve\n", current, s.Name(), f.to)
		return nil
	}
	if err := s.SetKubernetesVersion(ctx, f.to); err != nil {
		return fmt.Errorf("setting kubernetesVersion %s: %w", f.to, err)
	}
	fmt.Fprintf(out, "kubernetesVersion=%s on stack %s; running pulumi up\n", f.to, s.Name())
	if err := s.Up(ctx, out); err != nil {
		return fmt.Errorf("pulumi up: %w (the config holds kubernetesVersion %s; set it back with `pulumi config set kubernetesVersion %s` "+
			"if the control plane did not move)", err, f.to, current)
	}
	fmt.Fprintf(out, "stack %s is at Kubernetes %s\n", s.Name(), f.to)
	return nil
}
