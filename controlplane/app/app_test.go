package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/app"
	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/controlplane/localcell"
	"github.com/cellplane/cellplane/controlplane/secrets"
)

func TestMain(m *testing.M) { harness.Main(m) }

const adminKey = "app-test-admin-key-0123456789"

type instance struct {
	t   testing.TB
	URL string
	App *app.App
}

// serve starts an instance on dbURL, listening on loopback, stopped at the end of the test.
func serve(t testing.TB, dbURL string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{DatabaseURL: dbURL, AdminKey: adminKey, MasterKey: masterKey})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	return &instance{t: t, URL: "http://" + l.Addr().String(), App: a}
}

var masterKey = secrets.GenerateMasterKey()

var client = &http.Client{Timeout: 10 * time.Second}

func (in *instance) do(method, path string, body any) (int, map[string]any) {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, in.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &m)
	return res.StatusCode, m
}

func (in *instance) setup(slug string) {
	in.t.Helper()
	if s, m := in.do("POST", "/v1/clusters", map[string]any{"name": "cell-" + slug, "cloud": "local", "region": "local", "kind": "shared",
		"livekit_url": "ws://127.0.0.1:7880", "api_url": "http://127.0.0.1:8080", "livekit_api_key": "devkey",
		"livekit_api_secret": "0123456789abcdef0123456789abcdef", "capacity": 10}); s != 201 {
		in.t.Fatalf("cluster: %d %v", s, m)
	}
	in.createOrg(slug)
}

// createOrg creates an org and marks it ready, as its onboard operation would (these
// instances run no workers): only ready orgs are routed.
func (in *instance) createOrg(slug string) {
	in.t.Helper()
	if s, m := in.do("POST", "/v1/orgs", map[string]any{"slug": slug, "name": slug, "tier": "shared", "cloud": "local",
		"region": "local", "version": "1.0.0", "sizing": "small"}); s != 202 {
		in.t.Fatalf("org: %d %v", s, m)
	}
	if _, err := in.App.Pool.Exec(context.Background(), "UPDATE orgs SET status = 'ready' WHERE slug = $1", slug); err != nil {
		in.t.Fatal(err)
	}
}

func (in *instance) route(slug string) (int, map[string]any) {
	in.t.Helper()
	res, err := client.Get(in.URL + "/v1/route/" + slug)
	if err != nil {
		in.t.Fatalf("route: %v", err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func within(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// TestTwoInstancesOneDatabase: a change made through one instance is served by the
// other's router within a second.
func TestTwoInstancesOneDatabase(t *testing.T) {
	url := harness.Postgres(t)
	// Both start at once on an empty database: the migration lock makes them take turns.
	var a, b *instance
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a = serve(t, url) }()
	go func() { defer wg.Done(); b = serve(t, url) }()
	wg.Wait()
	if a == nil || b == nil {
		t.FailNow()
	}
	within(t, 5*time.Second, "both routers listening", func() bool {
		return a.App.Syncer.Check() == nil && b.App.Syncer.Check() == nil
	})

	a.setup("two-a")
	took := within(t, time.Second, "org created on A served by B", func() bool { s, _ := b.route("two-a"); return s == 200 })
	t.Logf("create on A -> route on B: %s", took)

	if s, _ := a.do("DELETE", "/v1/orgs/two-a", nil); s != 202 {
		t.Fatalf("delete: %d", s)
	}
	took = within(t, time.Second, "status change on A served by B (a deleting org is not routed)", func() bool {
		s, _ := b.route("two-a")
		return s == 404
	})
	t.Logf("delete on A -> route on B: %s", took)

	// And the other way round.
	b.createOrg("two-b")
	within(t, time.Second, "org created on B served by A", func() bool { s, _ := a.route("two-b"); return s == 200 })
}

// TestRouterSurvivesPostgresOutage stops Postgres under a running instance: lookups keep
// answering from memory, /healthz stays up, /readyz says degraded naming the checks; when
// Postgres returns, the instance recovers by itself and follows changes again.
func TestRouterSurvivesPostgresOutage(t *testing.T) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "cellplane-outage-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755) // the server may run as an unprivileged user
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	port, err := localcell.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := localcell.StartPostgres(ctx, dir, dir+"/data", port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Process.Stop(10 * time.Second) })
	if err := pg.CreateDatabase(ctx, "cellplane"); err != nil {
		t.Fatal(err)
	}
	in := serve(t, pg.URL("cellplane"))
	in.setup("survivor")
	within(t, 2*time.Second, "route", func() bool { s, _ := in.route("survivor"); return s == 200 })
	within(t, 5*time.Second, "ready", func() bool { s, _ := in.do("GET", "/readyz", nil); return s == 200 })

	if err := pg.Process.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	var ready map[string]any
	within(t, 10*time.Second, "readyz degraded", func() bool {
		s, m := in.do("GET", "/readyz", nil)
		ready = m
		failing, _ := m["failing"].([]any)
		return s == 503 && len(failing) == 2
	})
	checks := ready["checks"].(map[string]any)
	if ready["status"] != "degraded" || checks["database"].(map[string]any)["status"] != "fail" ||
		!strings.Contains(checks["router"].(map[string]any)["error"].(string), "not receiving route changes") {
		t.Fatalf("readyz while Postgres is down: %v", ready)
	}
	for range 50 {
		if s, m := in.route("survivor"); s != 200 || m["slug"] != "survivor" {
			t.Fatalf("route lookup while Postgres is down: %d %v", s, m)
		}
		if s, _ := in.route("nobody"); s != 404 {
			t.Fatalf("unknown org while Postgres is down: %d", s)
		}
	}
	if s, _ := in.do("GET", "/healthz", nil); s != 200 {
		t.Fatalf("healthz while Postgres is down: %d", s)
	}
	// Writes fail cleanly, as a problem, without taking the process down.
	if s, m := in.do("POST", "/v1/orgs", map[string]any{"slug": "during", "name": "x", "tier": "shared", "cloud": "local",
		"region": "local", "version": "1.0.0", "sizing": "small"}); s < 500 || m["type"] == nil {
		t.Fatalf("create while Postgres is down: %d %v", s, m)
	}

	pg, err = localcell.StartPostgres(ctx, dir, dir+"/data", port)
	if err != nil {
		t.Fatal(err)
	}
	took := within(t, 20*time.Second, "ready again", func() bool { s, _ := in.do("GET", "/readyz", nil); return s == 200 })
	t.Logf("ready %s after Postgres returned", took)
	in.createOrg("after-outage")
	within(t, 2*time.Second, "a change after the outage reaches the router", func() bool { s, _ := in.route("after-outage"); return s == 200 })
	if s, _ := in.route("survivor"); s != 200 {
		t.Fatal("lost a route over the outage")
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	err := app.Config{}.Validate()
	for _, want := range []string{"DATABASE_URL is not set", "CELLPLANE_ADMIN_KEY must be set", "CELLPLANE_MASTER_KEY: the master key is empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	err = app.Config{DatabaseURL: "postgres://x@127.0.0.1/x", AdminKey: strings.Repeat("k", 30), MasterKey: "c2hvcnQ="}.Validate()
	if err == nil || !strings.Contains(err.Error(), "CELLPLANE_MASTER_KEY: the master key must be 32 bytes, got 5") {
		t.Fatalf("short master key: %v", err)
	}
	if _, err := app.New(context.Background(), app.Config{DatabaseURL: "postgres://x@127.0.0.1/x", AdminKey: "short", MasterKey: masterKey}); err == nil ||
		!strings.Contains(err.Error(), "CELLPLANE_ADMIN_KEY") {
		t.Fatalf("New with a short admin key: %v", err)
	}
}

func TestRunShutsDownGracefully(t *testing.T) {
	url := harness.Postgres(t)
	port, err := localcell.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", itoa(port))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Config{DatabaseURL: url, Listen: addr, AdminKey: adminKey, MasterKey: masterKey, ShutdownTimeout: 5 * time.Second})
	}()
	within(t, 20*time.Second, "serving", func() bool {
		res, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == 200
	})
	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
		t.Logf("Run returned %s after cancel", time.Since(stopped))
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := client.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
