// Package app wires the control plane together: configuration, migrations, the store, the
// router and its listener, metrics, tracing and the HTTP server. `cellplane serve` calls
// Run; tests and later features call New and Serve to run instances in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/api"
	"github.com/cellplane/cellplane/controlplane/costmodel"
	"github.com/cellplane/cellplane/controlplane/jobs"
	"github.com/cellplane/cellplane/controlplane/livekit"
	"github.com/cellplane/cellplane/controlplane/postgres"
	"github.com/cellplane/cellplane/controlplane/router"
	"github.com/cellplane/cellplane/controlplane/secrets"
	"github.com/cellplane/cellplane/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Config is the control plane's configuration (flags and environment of `serve`).
type Config struct {
	DatabaseURL string // DATABASE_URL
	Listen      string // CELLPLANE_LISTEN, default 127.0.0.1:8080
	AdminKey    string // CELLPLANE_ADMIN_KEY
	MasterKey   string // CELLPLANE_MASTER_KEY: 32 bytes, base64
	NoMigrate   bool
	// Migrations are applied after the control plane's own, under the same lock.
	Migrations []migrations.Source
	// Tracing exports OpenTelemetry traces through OTLP (configured by the standard
	// OTEL_EXPORTER_OTLP_* variables).
	Tracing         bool
	ShutdownTimeout time.Duration
	Log             *slog.Logger
	// Prices is the cost model's price table (CELLPLANE_PRICES; the built-in one when nil).
	Prices *costmodel.Table
	// Jobs configures the operations queue. Jobs.Workers operations run at once in this
	// instance (0: operations are recorded and queued for other instances to run), through
	// Jobs.Provisioner (required with workers). Pool, Operations and Log are set by New.
	Jobs jobs.Config
	// OperationAttempts is how many runs an operation gets when it keeps failing
	// transiently (default postgres.DefaultMaxAttempts).
	OperationAttempts int
	// JobsGrace is how long running operations may go on at shutdown before their engines
	// are interrupted (they resume at the next start). Default 10s.
	JobsGrace time.Duration
}

// MinAdminKeyLen is the shortest admin key accepted: it guards every admin route.
const MinAdminKeyLen = 24

// Validate reports every missing or bad setting at once, naming the variable.
func (c Config) Validate() error {
	var problems []string
	if c.DatabaseURL == "" {
		problems = append(problems, "DATABASE_URL is not set (e.g. postgres://user@127.0.0.1:5432/cellplane)")
	} else if _, err := pgx.ParseConfig(c.DatabaseURL); err != nil {
		problems = append(problems, "DATABASE_URL cannot be parsed")
	}
	if len(c.AdminKey) < MinAdminKeyLen {
		problems = append(problems, fmt.Sprintf("CELLPLANE_ADMIN_KEY must be set to a random secret of at least %d characters (e.g. `head -c32 /dev/urandom | base64`)", MinAdminKeyLen))
	}
	if _, err := secrets.ParseMasterKey(c.MasterKey); err != nil {
		problems = append(problems, "CELLPLANE_MASTER_KEY: "+err.Error())
	}
	if len(problems) > 0 {
		return errors.New("configuration: " + strings.Join(problems, "; "))
	}
	return nil
}

// Migrations is every migration source serve and migrate apply: the control plane's own,
// the job queue's (River), then cfg.Migrations.
func Migrations(cfg Config) []migrations.Source {
	return append([]migrations.Source{migrations.Core(), jobs.Migrations()}, cfg.Migrations...)
}

// App is one running instance of the control plane.
type App struct {
	Config   Config
	Log      *slog.Logger
	Pool     *pgxpool.Pool
	DB       *postgres.DB
	Orgs     controlplane.OrgService
	Clusters controlplane.ClusterService
	Keys     controlplane.KeyService
	Routes   controlplane.RouteService
	Table    *router.Table
	Syncer   *router.Syncer
	Registry *prometheus.Registry
	Handler  http.Handler
	// Sessions runs sessions on the orgs' LiveKit and receives its webhooks; Usage reads
	// the meter.
	Sessions *livekit.Service
	Usage    *postgres.UsageService
	// Operations records org and cell changes as operations; Queue runs them (River).
	Operations *postgres.OperationService
	Queue      *jobs.Queue

	jobsPool    *pgxpool.Pool
	stop        chan struct{} // closed when shutdown begins: ends streaming answers
	stopTracing func(context.Context) error
}

// New checks the configuration, applies migrations (unless disabled), connects, loads the
// routing table and builds the handler. Serve runs it.
func New(ctx context.Context, cfg Config) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 20 * time.Second
	}
	keyring, _ := secrets.ParseMasterKey(cfg.MasterKey) // checked by Validate
	a := &App{Config: cfg, Log: cfg.Log, stopTracing: func(context.Context) error { return nil }}

	if !cfg.NoMigrate {
		if err := migrations.ApplyURL(ctx, cfg.DatabaseURL, cfg.Log, Migrations(cfg)...); err != nil {
			return nil, err
		}
	}
	if cfg.Tracing {
		stop, err := startTracing(ctx)
		if err != nil {
			return nil, fmt.Errorf("tracing: %w", err)
		}
		a.stopTracing = stop
	}
	pool, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		_ = a.stopTracing(ctx)
		return nil, err
	}
	a.Pool = pool
	a.DB = postgres.NewDB(pool, keyring)
	a.Orgs = postgres.NewOrgService(a.DB)
	a.Clusters = postgres.NewClusterService(a.DB)
	a.Keys = postgres.NewKeyService(a.DB)
	a.Routes = postgres.NewRouteService(a.DB)

	a.Table = router.NewTable()
	a.Syncer = &router.Syncer{
		Table:  a.Table,
		Routes: a.Routes,
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.Connect(ctx, cfg.DatabaseURL)
		},
		Log: cfg.Log,
	}
	if err := a.Syncer.Load(ctx); err != nil {
		a.Close()
		return nil, err
	}
	a.Usage = postgres.NewUsageService(a.DB)
	a.Sessions = livekit.New(livekit.Config{Store: postgres.NewSessionStore(a.DB), Clusters: a.Clusters,
		Routes: a.Table, RouteService: a.Routes, Log: cfg.Log})

	a.Registry = prometheus.NewRegistry()
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), newPoolCollector(pool))
	if err := a.newQueue(ctx); err != nil {
		a.Close()
		return nil, err
	}
	a.stop = make(chan struct{})
	a.Handler = api.NewServer(api.Deps{
		Orgs:     a.Orgs,
		Clusters: a.Clusters,
		Keys:     a.Keys,
		Routes:   a.Table,
		Checks: []api.Check{
			{Name: "database", Check: func(ctx context.Context) error { return pool.Ping(ctx) }},
			{Name: "router", Check: func(context.Context) error { return a.Syncer.Check() }},
		},
		AdminKey: cfg.AdminKey,
		Log:      cfg.Log,
		Registry: a.Registry,
		Tracing:  cfg.Tracing,
		Prices:   cfg.Prices,
		Sessions: a.Sessions,
		Usage:    a.Usage,
		Webhooks: a.Sessions,

		Operations: a.Operations,
		Stop:       a.stop,
	})
	return a, nil
}

// Serve answers on l until ctx ends, then shuts down gracefully: in-flight requests get
// ShutdownTimeout to finish. The route listener runs for as long as Serve does.
func (a *App) Serve(ctx context.Context, l net.Listener) error {
	syncCtx, stopSync := context.WithCancel(context.WithoutCancel(ctx))
	syncDone := make(chan struct{})
	go func() { defer close(syncDone); a.Syncer.Run(syncCtx) }()
	defer func() { stopSync(); <-syncDone }()
	// Sessions past their max duration are ended (their rooms closed, the meter stopped).
	expiryDone := make(chan struct{})
	go func() { defer close(expiryDone); a.Sessions.RunExpiry(syncCtx, 30*time.Second) }()
	defer func() { stopSync(); <-expiryDone }()

	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	// Workers take operations only once the instance answers (a restart resumes the
	// operations its predecessor left running).
	if err := a.Queue.Start(ctx); err != nil {
		return fmt.Errorf("operation workers: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	a.Log.Info("control plane serving", "addr", l.Addr().String(), "routes", a.Table.Len())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.Log.Info("shutting down", "grace", a.Config.ShutdownTimeout)
	close(a.stop)
	jobsDone := make(chan struct{})
	go func() { defer close(jobsDone); a.Queue.Stop(a.Config.JobsGrace) }()
	defer func() { <-jobsDone }()
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close releases the pool and flushes traces.
func (a *App) Close() {
	if a.jobsPool != nil {
		a.jobsPool.Close()
	}
	if a.Pool != nil {
		a.Pool.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.stopTracing(ctx)
}

// Run is `cellplane serve`: New, listen on cfg.Listen, Serve until ctx ends, Close.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	a, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	return a.Serve(ctx, l)
}
