// Package jobs runs operations on River, the Postgres job queue, in the control plane's own
// database: an operation's job is inserted in the transaction that records the operation,
// and workers inside `cellplane serve` run it through a controlplane.Provisioner.
//
// Ordering and safety do not rest on the queue alone. Operations of one stack run strictly
// in creation order (a job whose operation must wait snoozes), under a Postgres advisory
// lock per stack held on a connection for the whole run; a run whose process died has lost
// that lock, which is how it is found and resumed (Resume, run at start and periodically).
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/postgres"
	"github.com/cellplane/cellplane/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Migrations is River's schema as a migration source, applied by the control plane's
// migrator after its own migrations, under the same lock.
func Migrations() migrations.Source { return riverSource{} }

type riverSource struct{}

func (riverSource) Name() string { return "river" }

func (riverSource) Migrate(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	m, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return nil, err
	}
	// One transaction per version: a later version may use an enum value an earlier one
	// added, which Postgres allows only once that is committed.
	var applied []string
	for {
		var n int
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			res, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{MaxSteps: 1})
			if err != nil {
				return err
			}
			for _, v := range res.Versions {
				applied = append(applied, fmt.Sprintf("%03d_%s", v.Version, v.Name))
			}
			n = len(res.Versions)
			return nil
		})
		if err != nil || n == 0 {
			return applied, err
		}
	}
}

// OperationArgs is the job of one operation. Everything else is read from the operation.
type OperationArgs struct {
	OperationID string `json:"operation_id"`
}

// Kind names the job kind in River's table.
func (OperationArgs) Kind() string { return "cellplane_operation" }

// Config configures the queue and its workers.
type Config struct {
	Pool        *pgxpool.Pool
	Operations  *postgres.OperationService
	Provisioner controlplane.Provisioner
	// Workers is how many operations run at once in this process; 0 makes an insert-only
	// queue (operations are recorded and run by other instances).
	Workers int
	// RetryBase and RetryMax shape the backoff of transient failures: RetryBase doubled
	// per attempt, at most RetryMax (defaults 5s and 2m).
	RetryBase, RetryMax time.Duration
	// WaitPoll is how often an operation waiting for its turn looks again (default 2s;
	// the one finishing ahead of it also wakes it at once).
	WaitPoll time.Duration
	// CancelPoll is how often a running operation checks for a cancel request and its
	// stack lock (default 1s).
	CancelPoll time.Duration
	// ResumeEvery is how often abandoned operations are looked for (default 15s).
	ResumeEvery time.Duration
	// RescueAfter is when River itself rescues a job whose worker vanished (default 1h:
	// Resume normally gets there first).
	RescueAfter time.Duration
	Log         *slog.Logger
}

// Queue is River's client for operations: it inserts their jobs and, with workers, runs
// them.
type Queue struct {
	cfg    Config
	client *river.Client[pgx.Tx]
	log    *slog.Logger

	mu      sync.Mutex
	stopBg  context.CancelFunc
	bgDone  chan struct{}
	started bool
}

var _ postgres.Queue = (*Queue)(nil)

// New builds the queue. With Workers > 0 a Provisioner is required.
func New(cfg Config) (*Queue, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 5 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 2 * time.Minute
	}
	if cfg.WaitPoll <= 0 {
		cfg.WaitPoll = 2 * time.Second
	}
	if cfg.CancelPoll <= 0 {
		cfg.CancelPoll = time.Second
	}
	if cfg.ResumeEvery <= 0 {
		cfg.ResumeEvery = 15 * time.Second
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = time.Hour
	}
	q := &Queue{cfg: cfg, log: cfg.Log}
	rc := &river.Config{
		Logger: cfg.Log.With("component", "river"),
		// Provisioning has no natural deadline (a cloud cluster takes many minutes); an
		// operation ends by finishing, failing or being cancelled.
		JobTimeout:           -1,
		RescueStuckJobsAfter: cfg.RescueAfter,
		// Our own attempts (Operation.MaxAttempts) decide when to stop; River's bound
		// only guards against a loop.
		MaxAttempts: 100,
		RetryPolicy: backoff{base: cfg.RetryBase, max: cfg.RetryMax},
	}
	if cfg.Workers > 0 {
		if cfg.Provisioner == nil {
			return nil, errors.New("jobs: workers need a provisioner")
		}
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, &worker{q: q}); err != nil {
			return nil, err
		}
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}}
	}
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	q.client = client
	return q, nil
}

// Enqueue inserts op's job in tx (postgres.Queue).
func (q *Queue) Enqueue(ctx context.Context, tx pgx.Tx, op *controlplane.Operation) error {
	res, err := q.client.InsertTx(ctx, tx, OperationArgs{OperationID: op.ID}, nil)
	if err != nil {
		return err
	}
	op.JobID = res.Job.ID
	return nil
}

// Start runs the workers (a no-op without workers) and the resumer of abandoned
// operations, until Stop.
func (q *Queue) Start(ctx context.Context) error {
	if q.cfg.Workers <= 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return errors.New("jobs: already started")
	}
	// The workers' context is not ctx: Stop decides how they end (drain, then cancel).
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	q.stopBg, q.bgDone, q.started = stop, make(chan struct{}), true
	go func() {
		defer close(q.bgDone)
		q.resumeLoop(bg)
	}()
	return nil
}

// Stop stops taking jobs and lets running operations finish within grace; then their
// engines are interrupted (cleanly: the operations go back to the queue and resume on
// the next start).
func (q *Queue) Stop(grace time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.started {
		return
	}
	q.stopBg()
	<-q.bgDone
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := q.client.Stop(ctx); err != nil {
		q.log.Info("operations still running at shutdown: interrupting their engines", "grace", grace)
		hard, cancelHard := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancelHard()
		if err := q.client.StopAndCancel(hard); err != nil {
			q.log.Warn("job workers did not stop", "err", err)
		}
	}
	q.started = false
}

// Resume puts operations abandoned by a dead worker back in the queue.
func (q *Queue) Resume(ctx context.Context) ([]*controlplane.Operation, error) {
	ops, err := q.cfg.Operations.ResumeAbandoned(ctx)
	for _, op := range ops {
		q.log.Info("resuming an operation left running by a stopped worker", "operation", op.ID, "stack", op.Stack, "kind", op.Kind)
	}
	return ops, err
}

func (q *Queue) resumeLoop(ctx context.Context) {
	t := time.NewTicker(q.cfg.ResumeEvery)
	defer t.Stop()
	for {
		if _, err := q.Resume(ctx); err != nil && ctx.Err() == nil {
			q.log.Warn("looking for abandoned operations", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// wake makes the jobs of the operations waiting for stack available now, instead of at
// their next poll.
func (q *Queue) wake(ctx context.Context, stack string) {
	ops, err := q.cfg.Operations.NextWaiting(ctx, stack)
	if err != nil {
		return
	}
	for _, op := range ops {
		if op.JobID != 0 {
			_, _ = q.client.JobRetry(ctx, op.JobID)
		}
	}
}

// backoff retries transient failures after base, 2*base, 4*base, ... at most max.
type backoff struct{ base, max time.Duration }

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.base
	for i := 1; i < job.Attempt && d < b.max; i++ {
		d *= 2
	}
	return time.Now().Add(min(d, b.max))
}
