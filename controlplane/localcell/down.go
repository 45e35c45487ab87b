package localcell

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// stopOrder stops the media plane and clients before the API server and etcd.
var stopOrder = []string{"livekit-b", "livekit-a", "kwok", "kube-scheduler", "kube-controller-manager", "redis", "postgres", "kube-apiserver", "etcd"}

// recorded lists the parts with a PID file in dir: name -> pid, and whether it is alive.
type recordedPart struct {
	Name  string
	PID   int
	Alive bool
	file  string
}

func recordedParts(dir string) []recordedPart {
	files, _ := filepath.Glob(filepath.Join(dir, "pids", "*.pid"))
	var out []recordedPart
	for _, f := range files {
		pid, bin, err := readPIDFile(f)
		name := strings.TrimSuffix(filepath.Base(f), ".pid")
		out = append(out, recordedPart{Name: name, PID: pid, Alive: err == nil && pidAlive(pid, bin), file: f})
	}
	rank := func(n string) int {
		for i, s := range stopOrder {
			if s == n {
				return i
			}
		}
		return len(stopOrder)
	}
	sort.Slice(out, func(i, j int) bool { return rank(out[i].Name) < rank(out[j].Name) })
	return out
}

// checkNotRunning refuses to start over a running cell and clears stale PID files.
func checkNotRunning(dir string, logf func(string, ...any)) error {
	var alive []string
	for _, p := range recordedParts(dir) {
		if p.Alive {
			alive = append(alive, fmt.Sprintf("%s (pid %d)", p.Name, p.PID))
			continue
		}
		logf("removing stale pid file of %s (pid %d is not running)", p.Name, p.PID)
		_ = os.Remove(p.file)
	}
	if len(alive) > 0 {
		return fmt.Errorf("%w in %s: %s; stop it with 'cellplane local down' or use another --state directory", ErrAlreadyRunning, dir, strings.Join(alive, ", "))
	}
	return nil
}

// Down stops a cell started by another process, by the PIDs it recorded. It returns the
// parts it stopped; a directory with nothing running is not an error for the caller to
// hide: it returns ErrNotRunning.
func Down(ctx context.Context, dir string, logf func(string, ...any)) ([]string, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	parts := recordedParts(dir)
	var stopped []string
	for _, p := range parts {
		if !p.Alive {
			_ = os.Remove(p.file)
			continue
		}
		logf("stopping %s (pid %d)", p.Name, p.PID)
		_ = syscall.Kill(p.PID, syscall.SIGTERM)
		grace := stopGrace(p.Name)
		deadline := time.Now().Add(grace)
		for time.Now().Before(deadline) && syscall.Kill(p.PID, 0) == nil {
			time.Sleep(50 * time.Millisecond)
		}
		if syscall.Kill(p.PID, 0) == nil {
			logf("%s did not stop in %s; killing it", p.Name, grace)
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
		_ = os.Remove(p.file)
		stopped = append(stopped, p.Name)
	}
	_ = os.Remove(DescriptionFile(dir))
	if len(stopped) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNotRunning, dir)
	}
	return stopped, nil
}

// ErrNotRunning is returned by Down and Status when no part of a cell runs.
var ErrNotRunning = fmt.Errorf("no local cell is running")

// PartStatus is one line of `local status`.
type PartStatus struct {
	Name    string `json:"name"`
	PID     int    `json:"pid,omitempty"`
	Healthy bool   `json:"healthy"`
	Detail  string `json:"detail"`
}

// Status checks every part of the cell in dir: the process is alive and it answers.
func Status(ctx context.Context, dir string) ([]PartStatus, error) {
	parts := recordedParts(dir)
	anyAlive := false
	for _, p := range parts {
		anyAlive = anyAlive || p.Alive
	}
	if !anyAlive {
		return nil, fmt.Errorf("%w in %s", ErrNotRunning, dir)
	}
	cell, cellErr := Load(dir)
	checks := map[string]func(context.Context) error{}
	if cellErr == nil {
		if k, err := AdminClient(dir); err == nil {
			checks["kube-apiserver"] = func(ctx context.Context) error { return k.Do(ctx, "GET", "/readyz", nil, nil) }
			checks["kwok"] = func(ctx context.Context) error { return NodesReady(ctx, k) }
		}
		checks["redis"] = func(ctx context.Context) error {
			return RedisCommand(ctx, cell.Redis.Addr, cell.Redis.Password, "PING")
		}
		for _, n := range cell.LiveKit {
			checks[n.Name] = func(ctx context.Context) error { return httpOK(ctx, n.URL) }
		}
		if cell.Postgres != nil {
			checks["postgres"] = func(ctx context.Context) error {
				return (&Postgres{Port: cell.Postgres.Port}).ping(ctx)
			}
		}
	}
	var out []PartStatus
	for _, p := range parts {
		st := PartStatus{Name: p.Name, PID: p.PID}
		switch {
		case !p.Alive:
			st.Detail = "not running"
			if tail, err := tailFile(filepath.Join(dir, "logs", p.Name+".log"), 3); err == nil {
				st.Detail += "; log:\n" + tail
			}
		case checks[p.Name] != nil:
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := checks[p.Name](cctx)
			cancel()
			st.Healthy = err == nil
			st.Detail = "ok"
			if err != nil {
				st.Detail = err.Error()
			}
		default:
			st.Healthy, st.Detail = true, "running"
		}
		out = append(out, st)
	}
	return out, nil
}

// AdminClient returns an admin client of the Kubernetes API of the cell in dir.
func AdminClient(dir string) (*KubeClient, error) {
	cell, err := Load(dir)
	if err != nil {
		return nil, err
	}
	t, err := readTokens(filepath.Join(dir, "pki", "tokens.csv"))
	if err != nil {
		return nil, err
	}
	if t.admin == "" {
		return nil, fmt.Errorf("%s: no admin token", t.file)
	}
	return NewKubeClient(cell.APIServer, t.admin, filepath.Join(dir, "pki", "ca.crt"))
}
