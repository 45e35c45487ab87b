package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The worker's side of operations: whose turn it is, the per-stack lock, state changes,
// the log, and what a finished operation does to its org and cluster.

// Blocker returns the earliest unfinished operation that must settle before op runs (an
// earlier operation on its stack, or on the cell a tenant lives in), or nil.
func (s *OperationService) Blocker(ctx context.Context, op *controlplane.Operation) (*controlplane.Operation, error) {
	b, err := scanOp(s.db.Pool.QueryRow(ctx, `SELECT `+opColumns+opFrom+`
		WHERE p.stack = ANY($1) AND p.seq < $2 AND p.state IN ('queued', 'running') ORDER BY p.seq LIMIT 1`,
		op.WaitsFor, op.Seq))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return b, err
}

// NextWaiting returns the unfinished operations that wait for stack, oldest first, so
// that the worker finishing on it can wake their jobs.
func (s *OperationService) NextWaiting(ctx context.Context, stack string) ([]*controlplane.Operation, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+opColumns+opFrom+`
		WHERE $1 = ANY(p.waits_for) AND p.state = 'queued' ORDER BY p.seq LIMIT 50`, stack)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*controlplane.Operation, error) { return scanOp(r) })
}

// StackLock is the lock that lets one worker, on any instance, run a stack's operation.
// It is a session advisory lock on a connection held for the whole run: if the process
// dies, Postgres drops the connection and with it the lock, which is how an abandoned
// operation is told from a running one.
type StackLock struct {
	Stack string
	conn  *pgxpool.Conn
}

func stackLockKey(stack string) string { return "cellplane.stack:" + stack }

// LockStack takes the stack's lock, or returns nil when another run holds it.
func (s *OperationService) LockStack(ctx context.Context, stack string) (*StackLock, error) {
	conn, err := s.db.Pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, stackLockKey(stack)).Scan(&ok); err != nil {
		conn.Release()
		return nil, err
	}
	if !ok {
		conn.Release()
		return nil, nil
	}
	return &StackLock{Stack: stack, conn: conn}, nil
}

// Release gives the lock back. A connection that cannot unlock is closed, which frees
// the lock all the same.
func (l *StackLock) Release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, stackLockKey(l.Stack)); err != nil {
		_ = l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
}

// CancelRequested reports whether a cancel was asked for operation id. It reads through
// the lock's own connection, so an error also means the lock may be lost.
func (l *StackLock) CancelRequested(ctx context.Context, id string) (bool, error) {
	var requested bool
	err := l.conn.QueryRow(ctx, `SELECT cancel_requested_at IS NOT NULL FROM operations WHERE id = $1`, uuid.MustParse(id)).Scan(&requested)
	return requested, err
}

// StartOperation marks a queued operation running (one more attempt). It must be called
// holding the stack's lock. An operation that is no longer queued is returned unchanged.
func (s *OperationService) StartOperation(ctx context.Context, id string) (*controlplane.Operation, error) {
	var op *controlplane.Operation
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE operations SET state = 'running', attempts = attempts + 1,
				started_at = coalesce(started_at, now()), updated_at = now()
			WHERE id = $1 AND state = 'queued'`, uuid.MustParse(id))
		if err != nil {
			return err
		}
		if op, err = s.findOp(ctx, tx, id); err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return appendLog(ctx, tx, id, fmt.Sprintf("cellplane: attempt %d of %d started", op.Attempts, op.MaxAttempts))
		}
		return nil
	})
	return op, err
}

// AppendLog adds lines to the operation's log.
func (s *OperationService) AppendLog(ctx context.Context, id string, lines []string) error {
	return appendLog(ctx, s.db.Pool, id, lines...)
}

// RequeueOperation puts a running operation back in the queue (it waits for a retry, or
// for a worker after an interruption), noting why.
func (s *OperationService) RequeueOperation(ctx context.Context, id, reason string) error {
	return s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE operations SET state = 'queued', error = $2, updated_at = now()
			WHERE id = $1 AND state = 'running'`, uuid.MustParse(id), reason)
		if err != nil {
			return err
		}
		return appendLog(ctx, tx, id, "cellplane: "+reason)
	})
}

// FinishOperation ends the operation with out and applies it to the org and cluster, in
// one transaction. Finishing a finished operation changes nothing.
func (s *OperationService) FinishOperation(ctx context.Context, id string, out controlplane.OperationOutcome) (*controlplane.Operation, error) {
	var op *controlplane.Operation
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		op, err = s.finish(ctx, tx, id, out)
		return err
	})
	return op, err
}

func (s *OperationService) finish(ctx context.Context, tx pgx.Tx, id string, out controlplane.OperationOutcome) (*controlplane.Operation, error) {
	uid := uuid.MustParse(id)
	op, err := scanOp(tx.QueryRow(ctx, `SELECT `+opColumns+opFrom+` WHERE p.id = $1 FOR UPDATE OF p`, uid))
	if err != nil {
		return nil, err
	}
	if controlplane.OpFinal(op.State) {
		return op, nil
	}
	summary, outputs := op.Summary, op.Outputs
	if out.Result != nil {
		summary = out.Result.Summary
		if out.State == controlplane.OpSucceeded {
			outputs = publicOutputs(out.Result.Outputs)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE operations SET state = $2, error = $3, summary = $4, outputs = $5,
			finished_at = now(), updated_at = now() WHERE id = $1`, uid, out.State, out.Error, summary, outputs); err != nil {
		return nil, err
	}
	line := "cellplane: " + op.Kind + " " + out.State
	if out.Error != "" {
		line += ": " + firstLine(out.Error)
	}
	if err := appendLog(ctx, tx, id, line); err != nil {
		return nil, err
	}

	switch op.Kind {
	case controlplane.OpOnboard, controlplane.OpUpgrade, controlplane.OpResize:
		err = s.finishOrgChange(ctx, tx, op, out)
	case controlplane.OpTeardown:
		err = s.finishTeardown(ctx, tx, op, out)
	}
	if err != nil {
		return nil, err
	}
	if out.State == controlplane.OpSucceeded && out.Result != nil && (op.Kind == controlplane.OpCell || op.Config[controlplane.ConfigRole] == "org") && op.Kind != controlplane.OpTeardown {
		if err := s.writeBack(ctx, tx, op.ClusterID, out.Result.Outputs); err != nil {
			return nil, err
		}
	}
	return s.findOp(ctx, tx, id)
}

// finishOrgChange moves the org: an onboard makes it ready or failed. A failed or
// cancelled upgrade or resize of a ready org leaves it ready on its previous release: its
// version and sizing go back to what the last successful operation applied (unless changed
// again since), and the reason says what failed.
func (s *OperationService) finishOrgChange(ctx context.Context, tx pgx.Tx, op *controlplane.Operation, out controlplane.OperationOutcome) error {
	orgID := uuid.MustParse(op.OrgID)
	if out.State == controlplane.OpSucceeded {
		_, err := tx.Exec(ctx, `UPDATE orgs SET status = 'ready', status_reason = '', updated_at = now()
			WHERE id = $1 AND status IN ('provisioning', 'ready', 'failed')`, orgID)
		return err
	}
	what := op.Kind
	if v := op.Params["version"]; op.Kind == controlplane.OpUpgrade && v != "" {
		what += " to " + v
	} else if z := op.Params["sizing"]; op.Kind == controlplane.OpResize && z != "" {
		what += " to " + z
	}
	reason := fmt.Sprintf("%s %s (operation %s)", what, out.State, op.ID)
	if out.Error != "" {
		reason += ": " + truncate(firstLine(out.Error), 300)
	}
	var status string
	if err := tx.QueryRow(ctx, `SELECT status FROM orgs WHERE id = $1 FOR UPDATE`, orgID).Scan(&status); err != nil {
		return err
	}
	if op.Kind != controlplane.OpOnboard && status == controlplane.OrgReady {
		var version, sizing *string
		err := tx.QueryRow(ctx, `SELECT params->>'version', params->>'sizing' FROM operations
			WHERE org_id = $1 AND state = 'succeeded' AND kind IN ('onboard', 'upgrade', 'resize') ORDER BY seq DESC LIMIT 1`, orgID).Scan(&version, &sizing)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if version != nil {
			reason += fmt.Sprintf("; serving the previous release (%s, %s)", *version, deref(sizing))
		}
		_, err = tx.Exec(ctx, `UPDATE orgs SET status_reason = $2, updated_at = now(),
				version = CASE WHEN $3::text IS NOT NULL AND version = $4 THEN $3 ELSE version END,
				sizing = CASE WHEN $5::text IS NOT NULL AND sizing = $6 THEN $5 ELSE sizing END
			WHERE id = $1`, orgID, reason, version, op.Params["version"], sizing, op.Params["sizing"])
		return err
	}
	if status == controlplane.OrgDeleting {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE orgs SET status = 'failed', status_reason = $2, updated_at = now() WHERE id = $1`, orgID, reason)
	return err
}

// finishTeardown archives the org once its stack is gone: status deleted (no longer
// served, its slug free again), its keys revoked, its own cluster retired. Sessions and
// usage stay for billing. A failed teardown leaves the org deleting, to be retried.
func (s *OperationService) finishTeardown(ctx context.Context, tx pgx.Tx, op *controlplane.Operation, out controlplane.OperationOutcome) error {
	orgID := uuid.MustParse(op.OrgID)
	if out.State != controlplane.OpSucceeded {
		reason := fmt.Sprintf("teardown %s (operation %s)", out.State, op.ID)
		if out.Error != "" {
			reason += ": " + truncate(firstLine(out.Error), 300)
		}
		_, err := tx.Exec(ctx, `UPDATE orgs SET status_reason = $2, updated_at = now() WHERE id = $1`, orgID, reason+"; DELETE the org again to retry")
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE orgs SET status = 'deleted', status_reason = $2, deleted_at = now(), updated_at = now() WHERE id = $1`,
		orgID, "torn down by operation "+op.ID); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE org_id = $1`, orgID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE clusters SET status = 'retired', updated_at = now() WHERE id = $1 AND kind = 'dedicated'`, uuid.MustParse(op.ClusterID))
	return err
}

// writeBack records a cluster's endpoints from its stack's outputs (sealing the LiveKit
// secret) and makes a pending cluster active. A registered API URL is kept.
func (s *OperationService) writeBack(ctx context.Context, tx pgx.Tx, clusterID string, outputs map[string]controlplane.StackOutput) error {
	str := func(name string) string {
		if o, ok := outputs[name]; ok {
			if v, ok := o.Value.(string); ok {
				return v
			}
		}
		return ""
	}
	var sealed []byte
	if secret := str(controlplane.OutputLiveKitAPISecret); secret != "" && s.db.Keyring != nil {
		var err error
		if sealed, err = s.db.Keyring.Seal([]byte(secret), secretAAD(clusterID)); err != nil {
			return err
		}
	}
	apiURL := ""
	if h := str(controlplane.OutputIngressHostname); h != "" && h != "localhost" {
		apiURL = "https://" + h
	}
	_, err := tx.Exec(ctx, `UPDATE clusters SET
			api_url = CASE WHEN api_url = '' THEN $2 ELSE api_url END,
			livekit_url = coalesce(nullif($3, ''), livekit_url),
			livekit_version = coalesce(nullif($4, ''), livekit_version),
			livekit_api_key = coalesce(nullif($5, ''), livekit_api_key),
			livekit_api_secret_sealed = coalesce($6, livekit_api_secret_sealed),
			status = CASE WHEN status = 'pending' THEN 'active' ELSE status END,
			updated_at = now()
		WHERE id = $1`, uuid.MustParse(clusterID), apiURL, str(controlplane.OutputLiveKitURL),
		strings.TrimPrefix(str(controlplane.OutputLiveKitVersion), "v"), str(controlplane.OutputLiveKitAPIKey), sealed)
	return err
}

// ResumeAbandoned puts back in the queue every operation left running by a worker that
// is gone (its stack lock is free), with a new job. It takes each stack's lock while it
// does so: a live worker marks an operation running only while holding that lock.
func (s *OperationService) ResumeAbandoned(ctx context.Context) ([]*controlplane.Operation, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT DISTINCT stack FROM operations WHERE state = 'running'`)
	if err != nil {
		return nil, err
	}
	stacks, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var resumed []*controlplane.Operation
	for _, stack := range stacks {
		lock, err := s.LockStack(ctx, stack)
		if err != nil {
			return resumed, err
		}
		if lock == nil {
			continue // a live worker holds it
		}
		err = s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `UPDATE operations SET state = 'queued', updated_at = now(),
					error = 'interrupted: the worker running it stopped'
				WHERE stack = $1 AND state = 'running' RETURNING id`, stack)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
			if err != nil {
				return err
			}
			for _, id := range ids {
				if err := appendLog(ctx, tx, id.String(), "cellplane: the worker running this operation stopped; it resumes on a new worker"); err != nil {
					return err
				}
				op, err := s.findOp(ctx, tx, id.String())
				if err != nil {
					return err
				}
				if s.Queue != nil {
					if err := s.Queue.Enqueue(ctx, tx, op); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `UPDATE operations SET job_id = $2 WHERE id = $1`, id, op.JobID); err != nil {
						return err
					}
				}
				resumed = append(resumed, op)
			}
			return nil
		})
		lock.Release()
		if err != nil {
			return resumed, err
		}
	}
	return resumed, nil
}

// publicOutputs keeps the outputs that are not secret.
func publicOutputs(outputs map[string]controlplane.StackOutput) map[string]any {
	m := make(map[string]any, len(outputs))
	for k, o := range outputs {
		if !o.Secret {
			m[k] = o.Value
		}
	}
	return m
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
