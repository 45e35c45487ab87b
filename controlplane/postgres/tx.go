package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A service method called with a context carrying a transaction (withTx) runs inside it,
// so that a change and the operation that follows from it commit together or not at all.
type txKey struct{}

func withTx(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

func txFrom(ctx context.Context) pgx.Tx {
	tx, _ := ctx.Value(txKey{}).(pgx.Tx)
	return tx
}

// querier is what both a pool and a transaction answer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// q returns the transaction of ctx, or the pool.
func (db *DB) q(ctx context.Context) querier {
	if tx := txFrom(ctx); tx != nil {
		return tx
	}
	return db.Pool
}

// begin starts a transaction, or a savepoint inside the transaction of ctx.
func (db *DB) begin(ctx context.Context) (pgx.Tx, error) {
	if tx := txFrom(ctx); tx != nil {
		return tx.Begin(ctx)
	}
	return db.Pool.Begin(ctx)
}
