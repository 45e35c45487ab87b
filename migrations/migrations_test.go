package migrations_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/migrations"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { harness.Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestApplyOnEmptyDatabaseThenIdempotent(t *testing.T) {
	ctx := context.Background()
	url := harness.Postgres(t)
	conn := connect(t, url)
	if err := migrations.Apply(ctx, conn, nil); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"orgs", "clusters", "api_keys", "schema_migrations"} {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil || !ok {
			t.Fatalf("table %s missing after migrate (%v)", table, err)
		}
	}
	first, err := migrations.Applied(ctx, conn)
	if err != nil || len(first) == 0 || first[0] != "cellplane/0001_core" {
		t.Fatalf("applied = %v, %v", first, err)
	}
	// Again, twice at once from two connections: nothing new, no error, no race.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = migrations.ApplyURL(ctx, url, nil) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	second, _ := migrations.Applied(ctx, conn)
	if strings.Join(first, ",") != strings.Join(second, ",") {
		t.Fatalf("re-applying changed the record: %v -> %v", first, second)
	}
}

func TestConcurrentFirstApply(t *testing.T) {
	ctx := context.Background()
	url := harness.Postgres(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = migrations.ApplyURL(ctx, url, nil) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migrator %d: %v", i, err)
		}
	}
	var n int
	if err := connect(t, url).QueryRow(ctx, "SELECT count(*) FROM schema_migrations WHERE version = '0001_core'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("0001_core recorded %d times (%v)", n, err)
	}
}

func TestExtraSourceAndChangedMigration(t *testing.T) {
	ctx := context.Background()
	url := harness.Postgres(t)
	conn := connect(t, url)
	extra := fstest.MapFS{"0001_jobs.sql": {Data: []byte("CREATE TABLE jobs (id bigint PRIMARY KEY);")}}
	if err := migrations.Apply(ctx, conn, nil, migrations.Core(), migrations.SQL("jobs", extra)); err != nil {
		t.Fatal(err)
	}
	applied, _ := migrations.Applied(ctx, conn)
	// The core's own migrations first (however many there are), then the extra source's.
	if len(applied) < 2 || applied[0] != "cellplane/0001_core" || applied[len(applied)-1] != "jobs/0001_jobs" ||
		strings.Count(strings.Join(applied, ","), "jobs/") != 1 {
		t.Fatalf("applied = %v", applied)
	}
	changed := fstest.MapFS{"0001_jobs.sql": {Data: []byte("CREATE TABLE jobs (id text PRIMARY KEY);")}}
	err := migrations.Apply(ctx, conn, nil, migrations.SQL("jobs", changed))
	if err == nil || !strings.Contains(err.Error(), "0001_jobs.sql was changed") {
		t.Fatalf("a changed migration was not refused: %v", err)
	}
	broken := fstest.MapFS{"0002_bad.sql": {Data: []byte("CREATE TABLE jobs2 (id bigint); SELECT nonsense FROM nowhere;")}}
	if err := migrations.Apply(ctx, conn, nil, migrations.SQL("jobs", fstest.MapFS{"0001_jobs.sql": extra["0001_jobs.sql"], "0002_bad.sql": broken["0002_bad.sql"]})); err == nil {
		t.Fatal("a failing migration reported success")
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('jobs2') IS NOT NULL").Scan(&exists); err != nil || exists {
		t.Fatalf("a failed migration left part of its work behind (jobs2 exists=%v, %v)", exists, err)
	}
}
