package app

import (
	"context"
	"fmt"
	"time"

	"github.com/cellplane/cellplane/controlplane/jobs"
	"github.com/cellplane/cellplane/controlplane/postgres"
	"github.com/jackc/pgx/v5/pgxpool"
)

// newQueue builds the operations service and its queue. Workers get a pool of their own,
// sized for them: each running operation holds a connection (its stack lock) for the
// whole run, besides the queue's own queries and the log writes.
func (a *App) newQueue(ctx context.Context) error {
	cfg := a.Config
	if cfg.JobsGrace == 0 {
		cfg.JobsGrace = 10 * time.Second
		a.Config.JobsGrace = cfg.JobsGrace
	}
	db := a.DB
	if cfg.Jobs.Workers > 0 {
		pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
		if err != nil {
			return fmt.Errorf("database URL: %w", err)
		}
		pc.MaxConns = int32(2*cfg.Jobs.Workers + 6)
		pool, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			return err
		}
		a.jobsPool = pool
		db = postgres.NewDB(pool, a.DB.Keyring)
	}
	// One service for the API (on the main pool), one for the workers (on theirs).
	a.Operations = postgres.NewOperationService(a.DB, nil)
	workerOps := postgres.NewOperationService(db, nil)
	if cfg.OperationAttempts > 0 {
		a.Operations.MaxAttempts = cfg.OperationAttempts
		workerOps.MaxAttempts = cfg.OperationAttempts
	}
	jc := cfg.Jobs
	jc.Pool, jc.Operations, jc.Log = db.Pool, workerOps, cfg.Log
	q, err := jobs.New(jc)
	if err != nil {
		return err
	}
	a.Queue = q
	a.Operations.Queue, workerOps.Queue = q, q
	return nil
}
