package jobs_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/controlplane/localcell"
	"github.com/cellplane/cellplane/controlplane/provision"
	"github.com/cellplane/cellplane/controlplane/secrets"
	"github.com/jackc/pgx/v5"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// cellplaneBinary builds the cellplane binary once per test binary.
func cellplaneBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		root, err := provision.RepoRoot()
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(harness.StateDir(t, "bin"), "cellplane")
		cmd := exec.Command("go", "build", "-o", binPath, "./controlplane/cmd/cellplane")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// serveProcess is `cellplane serve` running as a child process.
type serveProcess struct {
	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
}

func startServe(t testing.TB, env []string, logPath string) *serveProcess {
	t.Helper()
	root, err := provision.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cellplaneBinary(t), "serve", "--log-format", "text")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serveProcess{t: t, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(s.done) }()
	t.Cleanup(func() { s.stop(syscall.SIGTERM) })
	return s
}

// stop signals the process and waits for it to exit.
func (s *serveProcess) stop(sig syscall.Signal) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// TestKilledMidUpResumes: `cellplane serve` is killed (SIGKILL) while the engine is in the
// middle of an org's `up`; started again, it finds the operation abandoned, recovers the
// stack (a stale lock, pending operations) and converges to ready, with exactly one set of
// the org's objects in the cluster.
func TestKilledMidUpResumes(t *testing.T) {
	cell := harness.Cell(t)
	stackRunner(t, cell) // the shared backend and state directory
	port, err := localcell.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	dbURL := harness.Postgres(t)
	env := []string{"DATABASE_URL=" + dbURL, "CELLPLANE_ADMIN_KEY=" + adminKey,
		"CELLPLANE_MASTER_KEY=" + secrets.GenerateMasterKey(), "CELLPLANE_LISTEN=" + fmt.Sprintf("127.0.0.1:%d", port),
		"CELLPLANE_STATE=" + stateRoot, "CELLPLANE_LOCAL_CELL=" + cell.Dir, "CELLPLANE_WORKERS=2"}
	logPath := filepath.Join(harness.StateDir(t, "logs"), "serve-killed.log")
	defer func() {
		if t.Failed() {
			t.Logf("serve log: %s", logPath)
		}
	}()
	kube, err := localcell.AdminClient(cell.Dir)
	if err != nil {
		t.Fatal(err)
	}
	p := &plane{t: t, URL: url, Cell: cell, Kube: kube}
	waitReady := func() {
		t.Helper()
		eventually(t, 2*time.Minute, "serve ready", func() bool {
			res, err := http.Get(url + "/readyz")
			if err == nil {
				res.Body.Close()
			}
			return err == nil && res.StatusCode == 200
		})
	}

	first := startServe(t, env, logPath)
	waitReady()
	p.registerCell()
	id := p.createOrg("crash", "1.4.5")
	p.waitState(id, controlplane.OpRunning, 2*time.Minute)
	// Killed while the engine creates the org's release: the hardest moment (a Helm
	// release half installed, the Kubernetes objects before it created).
	eventually(t, 2*time.Minute, "the engine creating the org's release", func() bool {
		for _, l := range strings.Split(p.log(id), "\n") {
			if strings.Contains(l, "kubernetes:helm.sh/v3:Release") && strings.Contains(l, "creating") {
				return true
			}
		}
		return controlplane.OpFinal(p.op(id).State)
	})
	orphans := descendants(first.cmd.Process.Pid)
	first.stop(syscall.SIGKILL)
	// The engine's processes outlive a SIGKILLed parent (the provider plugin keeps
	// running): stop the ones this test started once the run has resumed.
	defer func() {
		for _, pid := range orphans {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var state string
	if err := conn.QueryRow(context.Background(), "SELECT state FROM operations WHERE id = $1", id).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != controlplane.OpRunning {
		t.Fatalf("the operation was %s when the process was killed, not running", state)
	}

	startServe(t, env, logPath)
	waitReady()
	op := p.mustSucceed(id)
	if op.Attempts != 2 {
		t.Errorf("attempts %d, want 2 (the killed run and the resumed one)", op.Attempts)
	}
	log := p.log(id)
	if !strings.Contains(log, "resumes on a new worker") {
		t.Errorf("the log does not tell of the resumption:\n%s", log)
	}
	if org := p.org("crash"); org["status"] != "ready" {
		t.Fatalf("org %v", org)
	}
	p.checkRelease("crash", "1.4.5")
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, "cellplane:") || strings.Contains(l, "lock") || strings.Contains(l, "pending") || strings.Contains(l, "interrupted") {
			t.Log(l)
		}
	}
	// Exactly one set: one namespace, one release, its two Deployments and its Service.
	ns := "org-crash"
	var releases localcell.List
	if err := kube.Do(context.Background(), "GET", "/api/v1/namespaces/"+ns+"/secrets?labelSelector=owner%3Dhelm", nil, &releases); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range releases.Items {
		names[s.Metadata.Labels["name"]] = true
	}
	if len(p.namespaces("crash")) != 1 || len(names) != 1 || p.objectsIn("/apis/apps/v1", ns, "deployments") != 2 || p.objectsIn("/api/v1", ns, "services") != 1 {
		t.Fatalf("objects of crash: %d namespaces, releases %v, %d deployments, %d services", len(p.namespaces("crash")), names,
			p.objectsIn("/apis/apps/v1", ns, "deployments"), p.objectsIn("/api/v1", ns, "services"))
	}
	eventually(t, 2*time.Second, "routed", func() bool { s, _ := p.route("crash"); return s == 200 })
}

// descendants lists the processes below pid (children, grandchildren, ...).
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var p int
		if _, err := fmt.Sscanf(e.Name(), "%d", &p); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		var state string
		var ppid int
		if _, err := fmt.Sscanf(rest, " %s %d", &state, &ppid); err == nil {
			parent[p] = ppid
		}
	}
	var out []int
	frontier := map[int]bool{pid: true}
	for len(frontier) > 0 {
		next := map[int]bool{}
		for p, pp := range parent {
			if frontier[pp] {
				out = append(out, p)
				next[p] = true
			}
		}
		frontier = next
	}
	return out
}
