package main

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/cellplane/cellplane/controlplane/app"
	"github.com/cellplane/cellplane/controlplane/costmodel"
)

func init() {
	commands["serve"] = command{summary: "run the control plane HTTP service", run: runServe}
}

const serveUsage = `serve [flags]

Runs the control plane: applies migrations (unless --no-migrate), loads the org router and
answers on --listen until SIGTERM or Ctrl-C, then drains in-flight requests.
Secrets come from the environment only (never flags, which other users can see):
  CELLPLANE_ADMIN_KEY   the admin API key (at least 24 characters)
  CELLPLANE_MASTER_KEY  32 random bytes, base64: seals cluster secrets at rest
  OTEL_EXPORTER_OTLP_ENDPOINT  when set, traces are exported through OTLP
  PULUMI_CONFIG_PASSPHRASE     encrypts stack secrets (see Provisioning)` + workersUsage

func runServe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "serve", serveUsage)
	dbURL := fs.String("database-url", envOr(e, "DATABASE_URL", ""), "Postgres URL [DATABASE_URL]")
	listen := fs.String("listen", envOr(e, "CELLPLANE_LISTEN", "127.0.0.1:8080"), "address to listen on [CELLPLANE_LISTEN]")
	noMigrate := fs.Bool("no-migrate", false, "do not apply migrations at start (run 'cellplane migrate' instead)")
	logFormat := fs.String("log-format", envOr(e, "CELLPLANE_LOG_FORMAT", "json"), "log format: json or text [CELLPLANE_LOG_FORMAT]")
	logLevel := fs.String("log-level", envOr(e, "CELLPLANE_LOG_LEVEL", "info"), "log level: debug, info, warn or error [CELLPLANE_LOG_LEVEL]")
	prices := fs.String("prices", envOr(e, "CELLPLANE_PRICES", ""), "cost model price table replacing the built-in one [CELLPLANE_PRICES]")
	wf := addWorkerFlags(fs, e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("serve takes no arguments, got %q", fs.Args())
	}
	log, err := newLogger(e.stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	table, err := costmodel.Load(*prices)
	if err != nil {
		return exitError{code: 2, err: err}
	}
	cfg := app.Config{
		DatabaseURL: *dbURL,
		Listen:      *listen,
		AdminKey:    e.getenv("CELLPLANE_ADMIN_KEY"),
		MasterKey:   e.getenv("CELLPLANE_MASTER_KEY"),
		NoMigrate:   *noMigrate,
		Tracing:     e.getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || e.getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "",
		Log:         log,
		Prices:      table,
	}
	if err := cfg.Validate(); err != nil {
		return exitError{code: 2, err: err}
	}
	if cfg.Jobs, cfg.OperationAttempts, err = wf.config(e); err != nil {
		return err
	}
	return app.Run(ctx, cfg)
}

// newLogger returns a slog logger writing to w in format (json or text) at level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usageError("--log-format %q: want json or text", format)
}
