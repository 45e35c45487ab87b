// Package harness is the one test harness of cellplane: a throwaway Postgres per test
// binary (a fresh database per test), and the local cell started once per test binary,
// both from the binaries of the tool cache. Every test package that needs either calls
// harness.Main from its TestMain so that what was started is stopped at the end.
package harness

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/localcell"
)

var (
	mu       sync.Mutex
	cleanups []func()
	tmpRoot  string
)

// Main runs the tests of a package and then stops everything the harness started.
func Main(m *testing.M) {
	code := m.Run()
	stopAll()
	os.Exit(code)
}

func stopAll() {
	mu.Lock()
	defer mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
	if tmpRoot != "" && os.Getenv("CELLPLANE_KEEP_TEST_STATE") == "" {
		_ = os.RemoveAll(tmpRoot)
	}
}

func atExit(f func()) {
	mu.Lock()
	defer mu.Unlock()
	cleanups = append(cleanups, f)
}

// stateDir returns a directory for this test binary's servers (under /tmp so that an
// unprivileged service user can reach it).
func stateDir(t testing.TB, name string) string {
	mu.Lock()
	defer mu.Unlock()
	if tmpRoot == "" {
		d, err := os.MkdirTemp("", "cellplane-test-")
		if err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(d, 0o755)
		tmpRoot = d
	}
	d := tmpRoot + "/" + name
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	pgOnce sync.Once
	pg     *localcell.Postgres
	pgErr  error
	dbSeq  atomic.Int64
)

// PostgresServer returns the test binary's Postgres server, starting it on first use.
func PostgresServer(t testing.TB) *localcell.Postgres {
	t.Helper()
	pgOnce.Do(func() {
		dir := stateDir(t, "postgres")
		port, err := localcell.FreePort()
		if err != nil {
			pgErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		pg, pgErr = localcell.StartPostgres(ctx, dir, dir+"/data", port)
		if pgErr == nil {
			atExit(func() { _ = pg.Process.Stop(10 * time.Second) })
		}
	})
	if pgErr != nil {
		t.Fatalf("throwaway postgres: %v", pgErr)
	}
	return pg
}

// Postgres returns the URL of a fresh, empty database for this test on the test binary's
// throwaway Postgres server.
func Postgres(t testing.TB) string {
	t.Helper()
	srv := PostgresServer(t)
	name := fmt.Sprintf("t%d_%s", dbSeq.Add(1), sanitize(t.Name()))
	if len(name) > 60 {
		name = name[:60]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.CreateDatabase(ctx, name); err != nil {
		t.Fatalf("create test database %s: %v", name, err)
	}
	return srv.URL(name)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

var (
	cellOnce sync.Once
	cell     *localcell.Running
	cellErr  error
)

// Cell returns the local cell of this test binary (Kubernetes with kwok nodes, Redis, two
// livekit-server nodes; Postgres comes from Postgres), starting it on first use. A missing
// tool fails the test with the command that builds it.
func Cell(t testing.TB) *localcell.Running {
	t.Helper()
	cellOnce.Do(func() {
		dir := stateDir(t, "cell")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cell, cellErr = localcell.Start(ctx, localcell.Options{Dir: dir, WebhookURL: os.Getenv("CELLPLANE_TEST_WEBHOOK_URL"), Logf: func(f string, a ...any) {
			if testing.Verbose() {
				fmt.Fprintf(os.Stderr, "harness: "+f+"\n", a...)
			}
		}})
		if cellErr == nil {
			atExit(cell.Stop)
		}
	})
	if cellErr != nil {
		t.Fatalf("local cell: %v", cellErr)
	}
	return cell
}

// StateDir returns a directory named name for this test binary's state (Pulumi backends,
// workspaces), created on first use and removed when the test binary ends.
func StateDir(t testing.TB, name string) string {
	t.Helper()
	return stateDir(t, name)
}
