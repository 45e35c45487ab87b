package router_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/controlplane/postgres"
	"github.com/cellplane/cellplane/controlplane/router"
	"github.com/cellplane/cellplane/controlplane/secrets"
	"github.com/cellplane/cellplane/migrations"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { harness.Main(m) }

func TestTableSwapsAtomically(t *testing.T) {
	tb := router.NewTable()
	if tb.Loaded() || tb.Len() != 0 {
		t.Fatal("new table not empty")
	}
	tb.Replace([]controlplane.Route{{Slug: "a", Status: "ready"}, {Slug: "b"}})
	e, ok := tb.Lookup("a")
	if !ok || !tb.Loaded() || e.Route.Status != "ready" || string(e.Body) != `{"slug":"a","cloud":"","region":"","api_url":"","livekit_url":"","status":"ready"}`+"\n" {
		t.Fatalf("lookup a: %v %+v %s", ok, e, e.Body)
	}
	old := e
	tb.Apply([]controlplane.Route{{Slug: "a", Status: "failed"}, {Slug: "c"}}, []string{"b"})
	if _, ok := tb.Lookup("b"); ok || tb.Len() != 2 {
		t.Fatal("b not removed")
	}
	e, _ = tb.Lookup("a")
	if e.ETag == old.ETag || old.Route.Status != "ready" {
		t.Fatal("an entry handed out was changed, or the ETag did not change")
	}
	// Readers race writers without locks (run with -race to check).
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 2000 {
				if i == 0 {
					tb.Apply([]controlplane.Route{{Slug: fmt.Sprint(j)}}, nil)
				} else {
					tb.Lookup("a")
				}
			}
		}()
	}
	wg.Wait()
}

func TestSyncerFollowsNotifications(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := harness.Postgres(t)
	if err := migrations.ApplyURL(ctx, url, nil); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	keyring, _ := secrets.ParseMasterKey(secrets.GenerateMasterKey())
	db := postgres.NewDB(pool, keyring)
	orgs := postgres.NewOrgService(db)
	capacity := 1000
	if _, err := postgres.NewClusterService(db).CreateCluster(ctx, controlplane.ClusterCreate{Name: "cell", Cloud: "local", Region: "local",
		Kind: "shared", LiveKitURL: "ws://127.0.0.1:7880", LiveKitAPIKey: "k", LiveKitAPISecret: "0123456789abcdef0123456789abcdef", Capacity: &capacity}); err != nil {
		t.Fatal(err)
	}
	create := func(slug string) {
		t.Helper()
		if _, _, err := orgs.CreateOrg(ctx, controlplane.OrgCreate{Slug: slug, Name: slug, Tier: "shared", Cloud: "local", Region: "local", Version: "1.0.0", Sizing: "small"}); err != nil {
			t.Fatal(err)
		}
		// Only ready orgs are routed; a finished onboard operation makes it so.
		if _, err := pool.Exec(ctx, "UPDATE orgs SET status = 'ready' WHERE slug = $1", slug); err != nil {
			t.Fatal(err)
		}
	}
	create("before")
	table := router.NewTable()
	var connects atomic.Int32
	s := &router.Syncer{Table: table, Routes: postgres.NewRouteService(db),
		Connect: func(ctx context.Context) (*pgx.Conn, error) { connects.Add(1); return pgx.Connect(ctx, url) },
		Log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	go s.Run(ctx)
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 2s (check: %v)", what, s.Check())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait("listening", func() bool { return s.Check() == nil })
	if _, ok := table.Lookup("before"); !ok {
		t.Fatal("the initial load missed an org")
	}
	create("one")
	wait("one", func() bool { _, ok := table.Lookup("one"); return ok })
	// A burst larger than a batch: one full reload.
	for i := range 50 {
		create(fmt.Sprintf("burst-%d", i))
	}
	wait("burst", func() bool { return table.Len() == 52 })
	if err := s.Check(); err != nil {
		t.Fatalf("the listener dropped during normal operation: %v", err)
	}
	if _, err := orgs.DeleteOrg(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	wait("a deleting org leaves the table", func() bool { _, ok := table.Lookup("one"); return !ok })
	if err := s.Check(); err != nil || connects.Load() != 1 {
		t.Fatalf("the listener dropped during normal operation: %v (%d connects)", err, connects.Load())
	}
}
