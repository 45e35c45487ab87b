package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/riverqueue/river"
)

// worker runs one operation per job.
type worker struct {
	river.WorkerDefaults[OperationArgs]
	q *Queue
}

// Timeout: none (see Config); the run ends by finishing, failing or being cancelled.
func (w *worker) Timeout(*river.Job[OperationArgs]) time.Duration { return -1 }

var (
	errCancelRequested = errors.New("cancelled by request")
	errLockLost        = errors.New("lost the connection holding the stack lock")
)

func (w *worker) Work(ctx context.Context, job *river.Job[OperationArgs]) error {
	q, ops := w.q, w.q.cfg.Operations
	op, err := ops.FindOperationByID(ctx, job.Args.OperationID)
	if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
		return river.JobCancel(err)
	} else if err != nil {
		return err
	}
	if controlplane.OpFinal(op.State) {
		return nil // done by an earlier job (or cancelled while queued)
	}

	// Wait for the operations ahead of it on its stack (and on its cell).
	blocker, err := ops.Blocker(ctx, op)
	if err != nil {
		return err
	}
	if blocker != nil {
		return river.JobSnooze(q.cfg.WaitPoll)
	}
	lock, err := ops.LockStack(ctx, op.Stack)
	if err != nil {
		return err
	}
	if lock == nil {
		return river.JobSnooze(q.cfg.WaitPoll) // still running elsewhere, or being resumed
	}
	defer lock.Release()
	defer q.wake(context.WithoutCancel(ctx), op.Stack)

	if op, err = ops.StartOperation(ctx, op.ID); err != nil {
		return err
	}
	if op.State != controlplane.OpRunning {
		return nil
	}
	log := q.log.With("operation", op.ID, "stack", op.Stack, "kind", op.Kind, "attempt", op.Attempts)
	log.Info("operation started")

	// The engine runs under runCtx, cancelled by a cancel request, by the loss of the
	// stack lock, or by the worker shutting down (ctx).
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		w.watch(runCtx, cancel, lock, op.ID)
	}()
	logw := newLogWriter(ops, op.ID, q.log)
	run := controlplane.StackRun{Stack: op.Stack, Config: op.Config, Log: logw}
	var result *controlplane.StackResult
	if op.Kind == controlplane.OpTeardown {
		result, err = q.cfg.Provisioner.Destroy(runCtx, run)
	} else {
		result, err = q.cfg.Provisioner.Up(runCtx, run)
	}
	cause := context.Cause(runCtx)
	cancel(nil)
	<-watchDone
	logw.Close()

	// Record the outcome even when ctx is done (shutdown): a fresh context, bounded.
	rec, done := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer done()
	switch {
	case err == nil:
		op, err = ops.FinishOperation(rec, op.ID, controlplane.OperationOutcome{State: controlplane.OpSucceeded, Result: result})
		if err == nil {
			log.Info("operation succeeded", "summary", op.Summary)
		}
		return err
	case errors.Is(cause, errCancelRequested):
		// The engine stopped as `pulumi cancel` stops it: in-flight steps finished, the
		// rest not started. A refresh (which first clears what an engine stopped too
		// late left behind) makes the state match the cluster before the operation ends.
		if r, ok := q.cfg.Provisioner.(refresher); ok {
			logw := newLogWriter(ops, op.ID, q.log)
			fmt.Fprintln(logw, "cellplane: the engine stopped; refreshing the stack so that its state matches the cluster")
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
			if _, rerr := r.Refresh(rctx, controlplane.StackRun{Stack: op.Stack, Config: op.Config, Log: logw}); rerr != nil {
				fmt.Fprintf(logw, "cellplane: refresh after the cancel failed (the next operation recovers the stack): %s\n", engineError(rerr))
			}
			cancel()
			logw.Close()
		}
		_, ferr := ops.FinishOperation(rec, op.ID, controlplane.OperationOutcome{State: controlplane.OpCancelled, Error: "cancelled by request", Result: result})
		log.Info("operation cancelled")
		return ferr
	case errors.Is(cause, errLockLost):
		log.Warn("operation interrupted: stack lock lost", "err", err)
		if rerr := ops.RequeueOperation(rec, op.ID, "interrupted: "+errLockLost.Error()+"; it resumes"); rerr != nil {
			return rerr
		}
		return river.JobSnooze(q.cfg.WaitPoll)
	case ctx.Err() != nil:
		// The control plane is stopping: the engine was interrupted cleanly, and the
		// operation resumes with the next worker to start.
		log.Info("operation interrupted by shutdown; it resumes on the next start")
		if rerr := ops.RequeueOperation(rec, op.ID, "interrupted: the control plane stopped; it resumes when a worker starts"); rerr != nil {
			return rerr
		}
		return river.JobSnooze(0)
	case controlplane.IsTransient(err) && op.Attempts < op.MaxAttempts:
		next := backoff{base: q.cfg.RetryBase, max: q.cfg.RetryMax}.NextRetry(job.JobRow)
		reason := fmt.Sprintf("attempt %d of %d failed (transient, retrying in %s): %s", op.Attempts, op.MaxAttempts,
			time.Until(next).Round(time.Second), engineError(err))
		log.Warn("operation failed transiently; retrying", "err", err)
		if rerr := ops.RequeueOperation(rec, op.ID, reason); rerr != nil {
			return rerr
		}
		return err // River retries it with backoff
	default:
		msg := engineError(err)
		if controlplane.IsTransient(err) {
			msg = fmt.Sprintf("gave up after %d attempts: %s", op.Attempts, msg)
		}
		log.Warn("operation failed", "err", err)
		_, ferr := ops.FinishOperation(rec, op.ID, controlplane.OperationOutcome{State: controlplane.OpFailed, Error: msg, Result: result})
		return ferr
	}
}

// refresher is a Provisioner that can refresh a stack (the real one can).
type refresher interface {
	Refresh(ctx context.Context, run controlplane.StackRun) (*controlplane.StackResult, error)
}

// watch cancels the run when a cancel is requested or the stack lock's connection fails.
func (w *worker) watch(ctx context.Context, cancel context.CancelCauseFunc, lock interface {
	CancelRequested(context.Context, string) (bool, error)
}, id string) {
	t := time.NewTicker(w.q.cfg.CancelPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, done := context.WithTimeout(ctx, 10*time.Second)
		requested, err := lock.CancelRequested(qctx, id)
		done()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			cancel(errLockLost)
			return
		case requested:
			cancel(errCancelRequested)
			return
		}
	}
}
