package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/cellplane/cellplane/controlplane/app"
	"github.com/cellplane/cellplane/controlplane/localcell"
	"github.com/cellplane/cellplane/controlplane/secrets"
)

// `local up` also runs the control plane on the cell's Postgres, with the cell registered
// as the shared cluster of cloud local, region local, and puts CONTROLPLANE_URL and
// CELLPLANE_ADMIN_KEY in the env file.
func init() { localUpHooks = append(localUpHooks, startLocalControlPlane) }

// localControlPlaneCapacity is how many orgs the local cell takes.
const localControlPlaneCapacity = 100

type localKeys struct {
	AdminKey  string `json:"adminKey"`
	MasterKey string `json:"masterKey"`
}

// loadLocalKeys returns the local control plane's keys, made once per state directory
// (the master key must outlive restarts: it opens the secrets sealed in the database).
func loadLocalKeys(dir string) (localKeys, error) {
	path := filepath.Join(dir, "controlplane-keys.json")
	var k localKeys
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &k); err != nil {
			return k, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	} else if !os.IsNotExist(err) {
		return k, err
	}
	k = localKeys{AdminKey: "cpa_" + secrets.GenerateMasterKey()[:43], MasterKey: secrets.GenerateMasterKey()}
	b, _ := json.MarshalIndent(k, "", "  ")
	return k, os.WriteFile(path, b, 0o600)
}

func startLocalControlPlane(ctx context.Context, e env, cell *localcell.Running, logf func(string, ...any)) (map[string]string, error) {
	if cell.Postgres == nil || e.getenv("CELLPLANE_LOCAL_CONTROLPLANE") == "off" {
		return nil, nil
	}
	exe, _ := os.Executable()
	inProcess := filepath.Base(exe) != "cellplane"
	if inProcess && e.getenv("CELLPLANE_LOCAL_CONTROLPLANE") != "on" {
		// A test binary driving `local up`: it cannot run `serve` as a child, and an
		// in-process server would outlive a detached cell. Opt in with =on.
		return nil, nil
	}
	keys, err := loadLocalKeys(cell.Dir)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", envOr(e, "CELLPLANE_LISTEN", "127.0.0.1:8080"))
	if err != nil {
		logf("control plane: %v; taking any free port (LiveKit's webhooks, unless --webhook-url says otherwise, go to %s)", err, defaultLocalWebhookURL(e))
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, err
		}
	}
	url := "http://" + l.Addr().String()
	logFile := filepath.Join(cell.Dir, "logs", "controlplane.log")
	logf("starting the control plane on %s (log: %s)", url, logFile)
	var stop func()
	if inProcess {
		stop, err = serveInProcess(cell, keys, l, logFile)
	} else {
		addr := l.Addr().String()
		l.Close() // the child binds it
		stop, err = serveChild(exe, cell, keys, addr, logFile)
	}
	if err != nil {
		return nil, err
	}
	if err := registerLocalCell(ctx, url, keys.AdminKey, cell.Cell); err != nil {
		stop()
		return nil, fmt.Errorf("control plane: %w (log: %s)", err, logFile)
	}
	localDownHooks = append(localDownHooks, stop)
	return map[string]string{"CONTROLPLANE_URL": url, "CELLPLANE_ADMIN_KEY": keys.AdminKey}, nil
}

func serveInProcess(cell *localcell.Running, keys localKeys, l net.Listener, logFile string) (func(), error) {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{DatabaseURL: cell.Postgres.DatabaseURL, AdminKey: keys.AdminKey, MasterKey: keys.MasterKey,
		Log: slog.New(slog.NewJSONHandler(f, nil)), ShutdownTimeout: 5 * time.Second})
	if err != nil {
		cancel()
		f.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Serve(ctx, l) }()
	return func() { cancel(); <-done; a.Close(); f.Close() }, nil
}

// serveChild runs `cellplane serve` as a process of the cell: its PID file sits with the
// others, so `local down` stops a detached one too.
func serveChild(exe string, cell *localcell.Running, keys localKeys, addr, logFile string) (func(), error) {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Its provisioning workers keep their stacks in the cell's state directory (where
	// `cellplane stack` looks too) and adopt this cell.
	cmd := exec.Command(exe, "serve", "--listen", addr, "--log-format", "json", "--state", cell.Dir, "--local-cell", cell.Dir)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+cell.Postgres.DatabaseURL,
		"CELLPLANE_ADMIN_KEY="+keys.AdminKey, "CELLPLANE_MASTER_KEY="+keys.MasterKey)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches the supervisor, which stops it in order
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pidFile := filepath.Join(cell.Dir, "pids", "controlplane.pid")
	_ = os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"+exe+"\n"), 0o644)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	return func() {
		defer os.Remove(pidFile)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}, nil
}

// registerLocalCell waits for the control plane to be ready and registers the cell as
// the shared cluster of local/local, unless it already is.
func registerLocalCell(ctx context.Context, url, adminKey string, cell *localcell.Cell) error {
	client := &http.Client{Timeout: 5 * time.Second}
	call := func(method, path string, body any) (int, []byte, error) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(ctx, method, url+path, rd)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res.StatusCode, b, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, _, err := call("GET", "/readyz", nil)
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after 60s (last: %d %v)", status, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	status, b, err := call("GET", "/v1/clusters?cloud=local&region=local", nil)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("list clusters: %d %v %s", status, err, b)
	}
	var list struct {
		Clusters []struct {
			Name string `json:"name"`
		} `json:"clusters"`
	}
	_ = json.Unmarshal(b, &list)
	for _, c := range list.Clusters {
		if c.Name == app.LocalClusterName {
			return nil
		}
	}
	if cell.LiveKitURL() == "" {
		return errors.New("the local cell has no LiveKit node to register")
	}
	status, b, err = call("POST", "/v1/clusters", map[string]any{
		"name": app.LocalClusterName, "cloud": "local", "region": "local", "kind": "shared",
		"api_url": url, "livekit_url": cell.LiveKitURL(), "livekit_api_key": cell.APIKey,
		"livekit_api_secret": cell.APISecret, "capacity": localControlPlaneCapacity, "stack": app.LocalClusterName,
	})
	if err != nil || status != http.StatusCreated {
		return fmt.Errorf("register the local cell: %d %v %s", status, err, b)
	}
	return nil
}
