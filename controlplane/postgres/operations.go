package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Queue is the job queue operations are handed to, inside the transaction that records
// them: an operation exists exactly when its job does.
type Queue interface {
	// Enqueue inserts the job that runs op and sets op.JobID.
	Enqueue(ctx context.Context, tx pgx.Tx, op *controlplane.Operation) error
}

// OperationService implements controlplane.OperationService: org and cell changes and
// their operations in one transaction, and the reads of operations and their logs.
type OperationService struct {
	db       *DB
	orgs     *OrgService
	clusters *ClusterService
	// Queue receives the jobs of new operations (nil: they are recorded, never run).
	Queue Queue
	// MaxAttempts is how many runs an operation gets when it keeps failing transiently.
	MaxAttempts int
}

var _ controlplane.OperationService = (*OperationService)(nil)

// DefaultMaxAttempts is the number of runs an operation gets by default.
const DefaultMaxAttempts = 5

// NewOperationService returns the operation service of db, handing operations to queue
// (recorded only, never run, when queue is nil).
func NewOperationService(db *DB, queue Queue) *OperationService {
	return &OperationService{db: db, orgs: NewOrgService(db), clusters: NewClusterService(db), Queue: queue, MaxAttempts: DefaultMaxAttempts}
}

const opColumns = `p.id, coalesce(o.slug, ''), p.org_id, p.cluster_id, p.stack, p.waits_for, p.kind, p.state, p.config,
	p.params, p.attempts, p.max_attempts, p.summary, p.outputs, p.error, p.cancel_requested_at IS NOT NULL,
	p.created_at, p.started_at, p.finished_at, p.updated_at, p.seq, coalesce(p.job_id, 0)`

const opFrom = ` FROM operations p LEFT JOIN orgs o ON o.id = p.org_id`

func scanOp(row pgx.Row) (*controlplane.Operation, error) {
	var op controlplane.Operation
	var id, clusterID uuid.UUID
	var orgID *uuid.UUID
	err := row.Scan(&id, &op.Org, &orgID, &clusterID, &op.Stack, &op.WaitsFor, &op.Kind, &op.State, &op.Config,
		&op.Params, &op.Attempts, &op.MaxAttempts, &op.Summary, &op.Outputs, &op.Error, &op.CancelRequested,
		&op.CreatedAt, &op.StartedAt, &op.FinishedAt, &op.UpdatedAt, &op.Seq, &op.JobID)
	if err != nil {
		return nil, err
	}
	op.ID, op.ClusterID = id.String(), clusterID.String()
	if orgID != nil {
		op.OrgID = orgID.String()
	}
	if op.Params == nil {
		op.Params = map[string]string{}
	}
	if op.Summary == nil {
		op.Summary = map[string]int{}
	}
	if op.Outputs == nil {
		op.Outputs = map[string]any{}
	}
	return &op, nil
}

func opNotFound(id string) error {
	return controlplane.Errorf(controlplane.ENOTFOUND, "operation %q not found", id)
}

// inTx runs f in a transaction whose context the org and cluster services join.
func (s *OperationService) inTx(ctx context.Context, f func(ctx context.Context, tx pgx.Tx) error) error {
	tx, err := s.db.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer rollback(ctx, tx)
	if err := f(withTx(ctx, tx), tx); err != nil {
		return err
	}
	return mapError(tx.Commit(ctx))
}

// record inserts the operation of plan and hands it to the queue.
func (s *OperationService) record(ctx context.Context, tx pgx.Tx, kind string, orgID *uuid.UUID, clusterID string,
	plan *controlplane.StackPlan, params map[string]string) (*controlplane.Operation, error) {
	if params == nil {
		params = map[string]string{}
	}
	op, err := scanOp(tx.QueryRow(ctx, `WITH p AS (
			INSERT INTO operations (id, org_id, cluster_id, stack, waits_for, kind, state, config, params, max_attempts)
			VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9) RETURNING *)
		SELECT `+opColumns+` FROM p LEFT JOIN orgs o ON o.id = p.org_id`,
		uuid.New(), orgID, uuid.MustParse(clusterID), plan.Stack, plan.WaitsFor, kind, plan.Config, params, max(1, s.MaxAttempts)))
	if err != nil {
		return nil, err
	}
	if err := appendLog(ctx, tx, op.ID, fmt.Sprintf("cellplane: %s of stack %s queued (%s)", kind, plan.Stack, controlplane.ConfigSummary(plan.Config))); err != nil {
		return nil, err
	}
	if s.Queue != nil {
		if err := s.Queue.Enqueue(ctx, tx, op); err != nil {
			return nil, fmt.Errorf("enqueue operation: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE operations SET job_id = $2 WHERE id = $1`, uuid.MustParse(op.ID), op.JobID); err != nil {
			return nil, err
		}
	}
	return op, nil
}

// CreateOrg creates the org, places it and records its onboard operation, all in one
// transaction.
func (s *OperationService) CreateOrg(ctx context.Context, oc controlplane.OrgCreate) (*controlplane.Org, *controlplane.Placement, *controlplane.Operation, error) {
	var org *controlplane.Org
	var placement *controlplane.Placement
	var op *controlplane.Operation
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if org, placement, err = s.orgs.CreateOrg(ctx, oc); err != nil {
			return err
		}
		plan, err := controlplane.OrgStack(org, placement.Cluster)
		if err != nil {
			return err
		}
		orgID := uuid.MustParse(org.ID)
		op, err = s.record(ctx, tx, controlplane.OpOnboard, &orgID, org.ClusterID, plan,
			map[string]string{"version": org.Version, "sizing": string(org.Sizing)})
		return err
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return org, placement, op, nil
}

// UpdateOrg applies the update; a changed version is an upgrade, a changed sizing alone a
// resize. Operations of one stack run in order, so a second change queues behind the first.
func (s *OperationService) UpdateOrg(ctx context.Context, slug string, upd controlplane.OrgUpdate) (*controlplane.Org, *controlplane.Operation, error) {
	var org *controlplane.Org
	var op *controlplane.Operation
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		before, err := scanOrg(tx.QueryRow(ctx, `SELECT `+orgColumns+` FROM orgs o
			WHERE o.slug = $1 AND o.status <> 'deleted' AND ($2::uuid IS NULL OR o.id = $2) FOR UPDATE`, slug, scope(ctx)))
		if errors.Is(err, pgx.ErrNoRows) {
			return orgNotFound(slug)
		} else if err != nil {
			return err
		}
		if org, err = s.orgs.UpdateOrg(ctx, slug, upd); err != nil {
			return err
		}
		kind := ""
		switch {
		case org.Version != before.Version:
			kind = controlplane.OpUpgrade
		case org.Sizing != before.Sizing:
			kind = controlplane.OpResize
		default:
			return nil // a new name changes no stack
		}
		cluster, err := s.clusters.FindClusterByID(withoutScope(ctx), org.ClusterID)
		if err != nil {
			return err
		}
		plan, err := controlplane.OrgStack(org, cluster)
		if err != nil {
			return err
		}
		orgID := uuid.MustParse(org.ID)
		op, err = s.record(ctx, tx, kind, &orgID, org.ClusterID, plan, map[string]string{
			"version": org.Version, "sizing": string(org.Sizing),
			"previous_version": before.Version, "previous_sizing": string(before.Sizing),
		})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return org, op, nil
}

// withoutScope lets the service read the org's own cluster record on behalf of an org
// principal (cluster reads are otherwise admin only).
func withoutScope(ctx context.Context) context.Context {
	return controlplane.NewContextWithPrincipal(ctx, &controlplane.Principal{Admin: true})
}

// DeleteOrg marks the org for teardown and records the teardown, unless one is already
// queued or running (DELETE is idempotent). Queued operations of the org that have not
// started are cancelled first: their stack is about to be destroyed.
func (s *OperationService) DeleteOrg(ctx context.Context, slug string) (*controlplane.Org, *controlplane.Operation, error) {
	var org *controlplane.Org
	var op *controlplane.Operation
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if org, err = s.orgs.DeleteOrg(ctx, slug); err != nil {
			return err
		}
		orgID := uuid.MustParse(org.ID)
		op, err = scanOp(tx.QueryRow(ctx, `SELECT `+opColumns+opFrom+`
			WHERE p.org_id = $1 AND p.kind = 'teardown' AND p.state IN ('queued', 'running') ORDER BY p.seq LIMIT 1`, orgID))
		if err == nil {
			return nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE operations SET state = 'cancelled', error = 'superseded by the teardown of the org',
				finished_at = now(), updated_at = now()
			WHERE org_id = $1 AND state = 'queued' AND started_at IS NULL RETURNING id`, orgID)
		if err != nil {
			return err
		}
		superseded, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		for _, id := range superseded {
			if err := appendLog(ctx, tx, id.String(), "cellplane: cancelled: superseded by the teardown of the org"); err != nil {
				return err
			}
		}
		cluster, err := s.clusters.FindClusterByID(withoutScope(ctx), org.ClusterID)
		if err != nil {
			return err
		}
		plan, err := controlplane.OrgStack(org, cluster)
		if err != nil {
			return err
		}
		op, err = s.record(ctx, tx, controlplane.OpTeardown, &orgID, org.ClusterID, plan, nil)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return org, op, nil
}

// CreateCell registers the cluster; a shared cluster with a stack also gets the operation
// that brings its cell stack up (its status turns active when that succeeds).
func (s *OperationService) CreateCell(ctx context.Context, cc controlplane.ClusterCreate) (*controlplane.Cluster, *controlplane.Operation, error) {
	var c *controlplane.Cluster
	var op *controlplane.Operation
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if c, err = s.clusters.CreateCluster(ctx, cc); err != nil {
			return err
		}
		if c.Kind != controlplane.ClusterShared || c.Stack == "" {
			return nil
		}
		plan, err := controlplane.CellStack(c)
		if err != nil {
			return err
		}
		op, err = s.record(ctx, tx, controlplane.OpCell, nil, c.ID, plan, nil)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return c, op, nil
}

// findOp reads one operation, confined to the caller's org (another org's operation, a
// cell's operation for an org key, and a malformed id are all simply not found).
func (s *OperationService) findOp(ctx context.Context, q querier, id string) (*controlplane.Operation, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, opNotFound(id)
	}
	op, err := scanOp(q.QueryRow(ctx, `SELECT `+opColumns+opFrom+`
		WHERE p.id = $1 AND ($2::uuid IS NULL OR p.org_id = $2)`, uid, scope(ctx)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, opNotFound(id)
	}
	return op, err
}

// FindOperationByID returns the operation, or ENOTFOUND.
func (s *OperationService) FindOperationByID(ctx context.Context, id string) (*controlplane.Operation, error) {
	return s.findOp(ctx, s.db.Pool, id)
}

// FindOperationsInFlight returns the unfinished operations, oldest first (at most 200),
// each with its last ten log lines.
func (s *OperationService) FindOperationsInFlight(ctx context.Context) ([]*controlplane.Operation, error) {
	if controlplane.OrgScope(ctx) != "" {
		return nil, controlplane.Errorf(controlplane.EFORBIDDEN, "listing every operation requires the admin key")
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+opColumns+`,
			coalesce((SELECT string_agg(line, E'\n' ORDER BY seq) FROM (SELECT seq, line FROM operation_logs l
				WHERE l.operation_id = p.id ORDER BY seq DESC LIMIT 10) t), '')`+opFrom+`
		WHERE p.state IN ('queued', 'running') ORDER BY p.seq LIMIT 200`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*controlplane.Operation, error) {
		var tail string
		op, err := scanOp(tailRow{r, &tail})
		if op != nil {
			op.LogTail = tail
		}
		return op, err
	})
}

// tailRow scans a row of opColumns followed by one more column.
type tailRow struct {
	pgx.Row
	tail *string
}

func (t tailRow) Scan(dest ...any) error { return t.Row.Scan(append(dest, t.tail)...) }

// FindOperations returns a page of the org's operations, newest first (also those of an
// org being torn down; none once it is archived).
func (s *OperationService) FindOperations(ctx context.Context, slug string, f controlplane.OperationFilter) ([]*controlplane.Operation, bool, error) {
	org, err := s.orgs.FindOrgBySlug(ctx, slug)
	if err != nil {
		return nil, false, err
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+opColumns+opFrom+`
		WHERE p.org_id = $1 AND ($2 = 0 OR p.seq < $2) ORDER BY p.seq DESC LIMIT $3`,
		uuid.MustParse(org.ID), f.Before, f.Limit+1)
	if err != nil {
		return nil, false, err
	}
	ops, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*controlplane.Operation, error) { return scanOp(r) })
	if err != nil {
		return nil, false, err
	}
	more := len(ops) > f.Limit
	if more {
		ops = ops[:f.Limit]
	}
	return ops, more, nil
}

// OperationLog returns up to limit log lines after seq `after`, read in one snapshot with
// the operation's state, so that a follower that sees a final state has every line.
func (s *OperationService) OperationLog(ctx context.Context, id string, after int64, limit int) ([]controlplane.LogLine, *controlplane.Operation, error) {
	if limit <= 0 {
		limit = 1000
	}
	tx, err := s.db.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, err
	}
	defer rollback(ctx, tx)
	op, err := s.findOp(ctx, tx, id)
	if err != nil {
		return nil, nil, err
	}
	rows, err := tx.Query(ctx, `SELECT seq, at, line FROM operation_logs WHERE operation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		uuid.MustParse(op.ID), after, limit)
	if err != nil {
		return nil, nil, err
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (controlplane.LogLine, error) {
		var l controlplane.LogLine
		return l, r.Scan(&l.Seq, &l.At, &l.Line)
	})
	if err != nil {
		return nil, nil, err
	}
	return lines, op, tx.Commit(ctx)
}

// CancelOperation ends a queued operation as cancelled at once, and asks the worker of a
// running one to stop its engine (the worker ends it cancelled once the stack is
// consistent). A finished operation cannot be cancelled.
func (s *OperationService) CancelOperation(ctx context.Context, id string) (*controlplane.Operation, error) {
	var op *controlplane.Operation
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if op, err = s.findOp(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM operations WHERE id = $1 FOR UPDATE`, uuid.MustParse(op.ID)); err != nil {
			return err
		}
		if op, err = s.findOp(ctx, tx, id); err != nil {
			return err
		}
		switch {
		case controlplane.OpFinal(op.State):
			return controlplane.Errorf(controlplane.ECONFLICT, "operation %s has already %s", op.ID, op.State)
		case op.CancelRequested:
			return nil
		case op.State == controlplane.OpQueued:
			outcome := controlplane.OperationOutcome{State: controlplane.OpCancelled, Error: "cancelled before it ran"}
			if op.Attempts > 0 {
				outcome.Error = "cancelled while waiting to retry"
			}
			if err := appendLog(ctx, tx, op.ID, "cellplane: "+outcome.Error); err != nil {
				return err
			}
			_, err = s.finish(ctx, tx, op.ID, outcome)
		default:
			_, err = tx.Exec(ctx, `UPDATE operations SET cancel_requested_at = now(), updated_at = now() WHERE id = $1`, uuid.MustParse(op.ID))
			if err == nil {
				err = appendLog(ctx, tx, op.ID, "cellplane: cancel requested: stopping the engine")
			}
		}
		if err != nil {
			return err
		}
		op, err = s.findOp(ctx, tx, id)
		return err
	})
	return op, err
}

// appendLog adds lines to an operation's log. The operation's line counter numbers them;
// its row lock orders concurrent writers (the worker and a cancel request).
func appendLog(ctx context.Context, q querier, opID string, lines ...string) error {
	if len(lines) == 0 {
		return nil
	}
	_, err := q.Exec(ctx, `WITH n AS (
			UPDATE operations SET log_lines = log_lines + cardinality($2::text[]) WHERE id = $1
			RETURNING log_lines - cardinality($2::text[]) AS first)
		INSERT INTO operation_logs (operation_id, seq, line)
		SELECT $1, n.first + t.n, t.line FROM n, unnest($2::text[]) WITH ORDINALITY AS t(line, n)`, uuid.MustParse(opID), lines)
	return err
}
