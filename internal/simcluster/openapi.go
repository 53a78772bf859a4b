package simcluster

import (
	"context"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// warmOpenAPI has the API server build its OpenAPI v2 document now, within the cluster's start, and serve it from
// its cache afterwards. The API server builds the document on the first request after a start or a CRD change,
// and with the Gloo, Flagger and Gateway API CRDs that is seconds of CPU. The Kubernetes provider fetches it
// before its first change with client-go's fixed 32 s timeout: built on that request beside a busy suite, it
// took longer, and a first `pulumi up` failed with "unable to load schema information from the API server"
// (the demo's, pinned to one core, 2026-12-05; a destroy after an API server restart, earlier).
func (c *Cluster) warmOpenAPI(ctx context.Context) error {
	cfg := rest.CopyConfig(c.Config)
	// Not client-go's 32 s default: the poll bounds the wait. The server caches the document once built, even
	// for a request that gave up, so a retry finds it.
	cfg.Timeout = openAPIWarmupTimeout
	client, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	err = c.poll(ctx, openAPIWarmupTimeout, "the API server's OpenAPI v2 document", func(ctx context.Context) (bool, error) {
		// The request the Kubernetes provider makes (client-go's discovery, protobuf form).
		_, err := client.OpenAPISchemaWithContext(ctx)
		return err == nil, nil
	})
	if err != nil {
		return err
	}
	c.OpenAPIWarmup = time.Since(start)
	return nil
}

// openAPIWarmupTimeout bounds the first build of the document: seconds alone, under a minute on one busy core.
const openAPIWarmupTimeout = 2 * time.Minute
