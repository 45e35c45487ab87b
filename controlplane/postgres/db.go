// Package postgres implements the control plane's services on Postgres through pgxpool.
// Every statement is parameterised; every query that touches an org's rows is filtered by
// the org the caller is confined to (controlplane.OrgScope).
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/secrets"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RoutesChannel is the LISTEN/NOTIFY channel on which route changes are announced (by
// triggers, see migrations/0001_core.sql). The payload is an org slug, or "*" for all.
const RoutesChannel = "cellplane_routes"

// DB is the store: a pool and the keyring that seals cluster secrets.
type DB struct {
	Pool    *pgxpool.Pool
	Keyring *secrets.Keyring
}

// Open connects a pool to databaseURL, traced (a no-op unless a tracer provider is set),
// and checks that the database answers.
func Open(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	cfg.ConnConfig.Tracer = tracer{}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	return pool, nil
}

// NewDB returns the store on pool.
func NewDB(pool *pgxpool.Pool, keyring *secrets.Keyring) *DB {
	return &DB{Pool: pool, Keyring: keyring}
}

// scope returns the org id a query must be confined to, as a nullable parameter.
func scope(ctx context.Context) *string {
	if s := controlplane.OrgScope(ctx); s != "" {
		return &s
	}
	return nil
}

// conflictMessages turns unique constraint names into what the caller did wrong.
var conflictMessages = map[string]string{
	"orgs_slug_key":      "an org with this slug already exists",
	"clusters_name_key":  "a cluster with this name already exists",
	"clusters_stack_key": "a cluster with this stack name already exists",
}

// mapError turns database errors the caller can act on into coded errors.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		msg := conflictMessages[pgErr.ConstraintName]
		if msg == "" {
			msg = "the request conflicts with an existing record"
		}
		return controlplane.Errorf(controlplane.ECONFLICT, "%s", msg)
	}
	return err
}

func rollback(ctx context.Context, tx pgx.Tx) {
	_ = tx.Rollback(context.WithoutCancel(ctx))
}
