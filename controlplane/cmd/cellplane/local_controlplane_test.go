package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/localcell"
	"github.com/jackc/pgx/v5"
)

// TestLocalUpStartsTheControlPlane runs the `local up` hook against a real Postgres: the
// control plane comes up, the cell is registered once as the local/local shared cluster
// (also across restarts, with the same keys), and the README's session works: a tier B
// org on the local cell, an org key, its route.
func TestLocalUpStartsTheControlPlane(t *testing.T) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "cellplane-localcp-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	port, err := localcell.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := localcell.StartPostgres(ctx, filepath.Join(dir, "pg"), filepath.Join(dir, "pg", "data"), port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Process.Stop(10 * time.Second) })
	if err := pg.CreateDatabase(ctx, "cellplane"); err != nil {
		t.Fatal(err)
	}
	_ = os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	cell := &localcell.Running{Cell: &localcell.Cell{Dir: dir, APIKey: "APIlocal", APISecret: strings.Repeat("s", 48),
		LiveKit:  []localcell.LiveKitNode{{Name: "livekit-a", URL: "http://127.0.0.1:7880"}},
		Postgres: &localcell.PostgresInfo{Port: port, DatabaseURL: pg.URL("cellplane")}}}
	e := env{getenv: func(k string) string {
		return map[string]string{"CELLPLANE_LOCAL_CONTROLPLANE": "on", "CELLPLANE_LISTEN": "127.0.0.1:0"}[k]
	}, stdout: io.Discard, stderr: io.Discard}
	saved := localDownHooks
	defer func() { localDownHooks = saved }()

	up := func() map[string]string {
		t.Helper()
		localDownHooks = nil
		vars, err := startLocalControlPlane(ctx, e, cell, t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(vars["CONTROLPLANE_URL"], "http://127.0.0.1:") || vars["CELLPLANE_ADMIN_KEY"] == "" || len(localDownHooks) != 1 {
			t.Fatalf("env %v, %d down hooks", vars, len(localDownHooks))
		}
		return vars
	}
	vars := up()
	url, key := vars["CONTROLPLANE_URL"], vars["CELLPLANE_ADMIN_KEY"]
	call := func(method, path, bearer string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, url+path, rd)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	s, m := call("POST", "/v1/orgs", key, map[string]any{"slug": "st-marys", "name": "St Mary's", "tier": "shared",
		"cloud": "local", "region": "local", "version": "1.4.5", "sizing": "small"})
	if s != 202 || m["placement"].(map[string]any)["cluster"].(map[string]any)["name"] != "cell-local-local-1" {
		t.Fatalf("create org: %d %v", s, m)
	}
	// The in-process control plane of this test runs no provisioning workers: mark the
	// org ready, as its onboard operation would (only ready orgs are routed).
	if err := markReady(pg.URL("cellplane"), "st-marys"); err != nil {
		t.Fatal(err)
	}
	s, k := call("POST", "/v1/orgs/st-marys/keys", key, map[string]any{"name": "web"})
	if s != 201 {
		t.Fatalf("key: %d %v", s, k)
	}
	if s, m := call("GET", "/v1/orgs/st-marys", k["key"].(string), nil); s != 200 || m["slug"] != "st-marys" {
		t.Fatalf("org key: %d %v", s, m)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		s, m = call("GET", "/v1/route/st-marys", "", nil)
		if s == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("route: %d %v", s, m)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m["livekit_url"] != "http://127.0.0.1:7880" || m["api_url"] != url || m["region"] != "local" {
		t.Fatalf("route %v", m)
	}
	localDownHooks[0]()

	// Again: same admin key, the cell not registered twice, the org still there.
	vars = up()
	defer localDownHooks[0]()
	if vars["CELLPLANE_ADMIN_KEY"] != key {
		t.Fatal("the admin key changed across restarts")
	}
	url = vars["CONTROLPLANE_URL"]
	s, m = call("GET", "/v1/clusters?cloud=local&region=local", key, nil)
	if s != 200 || len(m["clusters"].([]any)) != 1 {
		t.Fatalf("clusters after restart: %d %v", s, m)
	}
	if s, _ := call("GET", "/v1/orgs/st-marys", key, nil); s != 200 {
		t.Fatalf("org after restart: %d", s)
	}
}

// markReady sets an org's status to ready, as a finished onboard operation does.
func markReady(databaseURL, slug string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "UPDATE orgs SET status = 'ready' WHERE slug = $1", slug)
	return err
}
