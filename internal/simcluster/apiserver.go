package simcluster

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StopAPIServer stops kube-apiserver as a restart or a crash does: SIGTERM, SIGKILL after 5s. etcd
// and every other process keep running, and the certificates stay, so StartAPIServer brings back the same
// server: same address, same CA, same users.
func (c *Cluster) StopAPIServer() error {
	if c.apiServer != nil {
		err := c.apiServer.stop(5 * time.Second)
		c.apiServer = nil
		return err
	}
	pid, args, err := c.findAPIServer()
	if err != nil {
		return err
	}
	c.apiServerArgs = args
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	// A graceful shutdown drains open requests for up to a minute; a restart that takes that long is a crash
	// for everyone waiting, so SIGKILL follows after a few seconds.
	killed := false
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid), "cmdline")); err != nil {
			return nil
		}
		if !killed && time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed = true
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			return errors.New("kube-apiserver is still running 10s after SIGKILL")
		}
	}
}

// StartAPIServer starts kube-apiserver again with the arguments envtest first gave it and waits until it is
// ready and has built its OpenAPI document.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	if c.apiServerArgs == nil {
		return errors.New("StartAPIServer: the API server was not stopped with StopAPIServer")
	}
	p, err := startProcess(c.Dir, "kube-apiserver-restarted", nil, c.tools.Path("kube-apiserver"), c.apiServerArgs...)
	if err != nil {
		return err
	}
	c.apiServer = p
	err = c.poll(ctx, 2*time.Minute, "kube-apiserver ready again", func(ctx context.Context) (bool, error) {
		if done, err := p.exited(); done {
			return false, fmt.Errorf("kube-apiserver exited: %v\n%s", err, p.logTail(2000))
		}
		body, err := c.Core.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
	if err != nil {
		return err
	}
	// A new process builds its OpenAPI document anew (a destroy right after a restart found it too slow).
	return c.warmOpenAPI(ctx)
}

// findAPIServer is the kube-apiserver envtest started for this cluster: its pid and arguments.
func (c *Cluster) findAPIServer() (int, []string, error) {
	want, err := filepath.EvalSymlinks(c.tools.Path("kube-apiserver"))
	if err != nil {
		return 0, nil, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil, err
	}
	host, err := url.Parse(c.Config.Host)
	if err != nil {
		return 0, nil, err
	}
	port := host.Port()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || exe != want {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")[1:]
		for _, a := range args {
			if a == "--secure-port="+port {
				return pid, args, nil
			}
		}
	}
	return 0, nil, fmt.Errorf("no kube-apiserver serving port %s found", port)
}
