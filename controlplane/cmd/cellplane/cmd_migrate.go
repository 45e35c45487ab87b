package main

import (
	"context"
	"fmt"

	"github.com/cellplane/cellplane/controlplane/app"
	"github.com/cellplane/cellplane/migrations"
	"github.com/jackc/pgx/v5"
)

func init() {
	commands["migrate"] = command{summary: "apply the control plane's database migrations", run: runMigrate}
}

const migrateUsage = `migrate [flags]

Applies every pending migration to the database and lists what is applied. Safe to run
at any time and from several places at once (a lock serialises migrators).`

func runMigrate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "migrate", migrateUsage)
	dbURL := fs.String("database-url", envOr(e, "DATABASE_URL", ""), "Postgres URL [DATABASE_URL]")
	logFormat := fs.String("log-format", envOr(e, "CELLPLANE_LOG_FORMAT", "text"), "log format: json or text [CELLPLANE_LOG_FORMAT]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("migrate takes no arguments, got %q", fs.Args())
	}
	if *dbURL == "" {
		return usageError("DATABASE_URL (or --database-url) is required")
	}
	log, err := newLogger(e.stderr, *logFormat, "info")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := migrations.Apply(ctx, conn, log, app.Migrations(app.Config{})...); err != nil {
		return err
	}
	applied, err := migrations.Applied(ctx, conn)
	if err != nil {
		return err
	}
	for _, m := range applied {
		fmt.Fprintln(e.stdout, m)
	}
	return nil
}
