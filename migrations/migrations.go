// Package migrations holds the control plane's SQL migrations, embedded in the binary, and
// the migrator that applies them. Other sets of migrations (the job queue's, later) are
// applied by the same migrator as further Sources, under the same lock.
package migrations

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed *.sql
var files embed.FS

// Core is the control plane's own migrations: the *.sql files of this directory.
func Core() Source { return SQL("cellplane", files) }

// Source is one set of migrations. Migrate brings the database up to date for this set and
// returns what it applied; it must be idempotent (run on every start).
type Source interface {
	Name() string
	Migrate(ctx context.Context, conn *pgx.Conn) (applied []string, err error)
}

// lockKey is the advisory lock that serialises migrators: two instances starting at once
// take turns, and the second finds nothing left to do.
const lockKey int64 = 0x63656c6c706c6e // "cellpln"

// Apply runs every source in order on conn while holding the migration lock. With no
// sources it applies Core.
func Apply(ctx context.Context, conn *pgx.Conn, log *slog.Logger, sources ...Source) error {
	if len(sources) == 0 {
		sources = []Source{Core()}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("migrations: take lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be released even if ctx was cancelled.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", lockKey)
	}()
	for _, s := range sources {
		applied, err := s.Migrate(ctx, conn)
		for _, a := range applied {
			log.Info("migration applied", "source", s.Name(), "migration", a)
		}
		if err != nil {
			return fmt.Errorf("migrations %s: %w", s.Name(), err)
		}
	}
	log.Debug("migrations up to date", "took", time.Since(start))
	return nil
}

// ApplyURL connects to databaseURL and applies sources (Core when none are given).
func ApplyURL(ctx context.Context, databaseURL string, log *slog.Logger, sources ...Source) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("migrations: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return Apply(ctx, conn, log, sources...)
}

// SQL returns a source of *.sql files in fsys, applied in name order, each in its own
// transaction, and recorded with its checksum in schema_migrations.
func SQL(name string, fsys fs.FS) Source { return sqlSource{name: name, fsys: fsys} }

type sqlSource struct {
	name string
	fsys fs.FS
}

func (s sqlSource) Name() string { return s.name }

const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	source     text NOT NULL,
	version    text NOT NULL,
	checksum   text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (source, version)
)`

func (s sqlSource) Migrate(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	names, err := fs.Glob(s.fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	if _, err := conn.Exec(ctx, createTable); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	done := map[string]string{}
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM schema_migrations WHERE source = $1", s.name)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var v, sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, err
		}
		done[v] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var applied []string
	for _, file := range names {
		version := strings.TrimSuffix(file, ".sql")
		body, err := fs.ReadFile(s.fsys, file)
		if err != nil {
			return applied, err
		}
		sum := sha256.Sum256(body)
		checksum := hex.EncodeToString(sum[:])
		if prev, ok := done[version]; ok {
			if prev != checksum {
				return applied, fmt.Errorf("%s was changed after it was applied (add a new migration instead)", file)
			}
			continue
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (source, version, checksum) VALUES ($1, $2, $3)", s.name, version, checksum)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("%s: %w", file, err)
		}
		applied = append(applied, version)
	}
	return applied, nil
}

// Applied lists the applied migrations of every source, in order of application.
func Applied(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return nil, err
	}
	rows, err := conn.Query(ctx, "SELECT source || '/' || version FROM schema_migrations ORDER BY applied_at, source, version")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
