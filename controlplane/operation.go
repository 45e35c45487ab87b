package controlplane

import (
	"context"
	"errors"
	"io"
	"time"
)

// Operation kinds: what an operation does to its stack.
const (
	OpOnboard  = "onboard"  // first `up` of an org's stack
	OpUpgrade  = "upgrade"  // `up` with a new version
	OpResize   = "resize"   // `up` with a new sizing
	OpTeardown = "teardown" // `destroy`, remove the stack, archive the org
	OpCell     = "cell"     // `up` of a shared cell's stack
)

// Operation states. An operation is queued until a worker takes it (and again while it
// waits for a retry), running while the engine works on its stack, and then ends in one
// of the three final states.
const (
	OpQueued    = "queued"
	OpRunning   = "running"
	OpSucceeded = "succeeded"
	OpFailed    = "failed"
	OpCancelled = "cancelled"
)

// OpFinal reports whether state is one an operation never leaves.
func OpFinal(state string) bool {
	return state == OpSucceeded || state == OpFailed || state == OpCancelled
}

// OrgDeleted is the status of an org whose teardown finished: archived with its usage
// history, no longer served, its slug free again.
const OrgDeleted = "deleted"

// Operation is one provisioning job on one stack, with its state, the engine's summary
// and the stack's outputs.
type Operation struct {
	ID        string `json:"id"`
	Org       string `json:"org,omitempty"` // the org's slug; empty for a shared cell's operation
	OrgID     string `json:"-"`
	ClusterID string `json:"cluster_id"`
	Stack     string `json:"stack"`
	Kind      string `json:"kind"`
	State     string `json:"state"`
	// Config is the stack config the operation applies (cellplane:* keys; never secrets).
	Config map[string]string `json:"config"`
	// Params is what was asked for (version, sizing) and what it replaces (previous_*).
	Params   map[string]string `json:"params"`
	Attempts int               `json:"attempts"`
	// MaxAttempts bounds the runs of an operation that keeps failing transiently.
	MaxAttempts int `json:"max_attempts"`
	// Summary counts the engine's resource changes by kind (create, update, delete, same, ...).
	Summary map[string]int `json:"summary"`
	// Outputs are the stack's outputs after the last successful run (secret ones left out).
	Outputs         map[string]any `json:"outputs"`
	Error           string         `json:"error,omitempty"`
	CancelRequested bool           `json:"cancel_requested"`
	CreatedAt       time.Time      `json:"created_at"`
	StartedAt       *time.Time     `json:"started_at,omitempty"`
	FinishedAt      *time.Time     `json:"finished_at,omitempty"`
	UpdatedAt       time.Time      `json:"updated_at"`

	// Seq orders operations; on one stack they run strictly in Seq order.
	Seq int64 `json:"-"`
	// WaitsFor are the stacks whose earlier operations must be settled before this one runs.
	WaitsFor []string `json:"-"`
	// JobID is the job queue's latest job for the operation.
	JobID int64 `json:"-"`
	// LogTail is the end of its log; only FindOperationsInFlight fills it.
	LogTail string `json:"-"`
}

// LogLine is one line of an operation's log.
type LogLine struct {
	Seq  int64     `json:"seq"`
	At   time.Time `json:"at"`
	Line string    `json:"line"`
}

// OperationFilter selects a page of an org's operations, newest first.
type OperationFilter struct {
	Before int64 // the Seq of the last operation of the previous page (0 for the first page)
	Limit  int
}

// OperationService records what is asked of the orgs' and cells' stacks as operations,
// in the same transaction as the change itself, and hands them to the job queue.
type OperationService interface {
	// CreateOrg creates the org (as OrgService.CreateOrg) and its onboard operation.
	CreateOrg(ctx context.Context, oc OrgCreate) (*Org, *Placement, *Operation, error)
	// UpdateOrg updates the org (as OrgService.UpdateOrg); a version or sizing change
	// gets an operation, a name change alone none (nil).
	UpdateOrg(ctx context.Context, slug string, upd OrgUpdate) (*Org, *Operation, error)
	// DeleteOrg marks the org for teardown and returns its teardown operation (the
	// unfinished one when DELETE is repeated). Queued operations of the org that have
	// not started are cancelled: they would be torn down anyway.
	DeleteOrg(ctx context.Context, slug string) (*Org, *Operation, error)
	// CreateCell registers a shared cluster (as ClusterService.CreateCluster) and, when it
	// names a stack, the operation that brings that stack up.
	CreateCell(ctx context.Context, cc ClusterCreate) (*Cluster, *Operation, error)

	FindOperationByID(ctx context.Context, id string) (*Operation, error)
	// FindOperationsInFlight returns the queued and running operations of every org and
	// cell (admin only), oldest first, each with the tail of its log.
	FindOperationsInFlight(ctx context.Context) ([]*Operation, error)
	// FindOperations returns a page of the org's operations, newest first, and whether
	// more follow.
	FindOperations(ctx context.Context, orgSlug string, f OperationFilter) ([]*Operation, bool, error)
	// OperationLog returns up to limit lines after seq `after`, and the operation as it
	// was when they were read (so a follower knows when to stop).
	OperationLog(ctx context.Context, id string, after int64, limit int) ([]LogLine, *Operation, error)
	// CancelOperation cancels a queued operation at once; a running one is interrupted:
	// its worker stops the engine cleanly and the operation ends cancelled.
	CancelOperation(ctx context.Context, id string) (*Operation, error)
}

// StackRun is one run of the infrastructure program on a stack.
type StackRun struct {
	Stack string
	// Config is the stack's whole config (full keys, "cellplane:role").
	Config map[string]string
	// Log receives the engine's progress and the provisioner's own notes.
	Log io.Writer
}

// StackOutput is one output of a stack.
type StackOutput struct {
	Value  any
	Secret bool
}

// StackResult is what a run did: the engine's resource changes and the stack's outputs.
type StackResult struct {
	Summary map[string]int
	Outputs map[string]StackOutput
}

// Provisioner runs the infrastructure program on stacks. It may be called for different
// stacks at once; the caller never runs two calls on one stack at the same time. A call
// whose ctx is cancelled stops the engine cleanly and returns ctx's error.
type Provisioner interface {
	// Up brings the stack to run.Config (creating the stack when it does not exist),
	// first recovering it from an interrupted run: a stale lock is removed and pending
	// operations are resolved and refreshed, so nothing is created twice.
	Up(ctx context.Context, run StackRun) (*StackResult, error)
	// Destroy deletes every resource of the stack and then removes the stack. A stack
	// that does not exist is already destroyed.
	Destroy(ctx context.Context, run StackRun) (*StackResult, error)
}

// TransientError is a provisioning failure worth retrying as is: another update holds
// the stack, the cluster's API did not answer. Anything else (a program error, a bad
// value) fails the operation at once.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// Transient marks err as worth retrying.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &TransientError{Err: err}
}

// IsTransient reports whether err was marked transient.
func IsTransient(err error) bool {
	var t *TransientError
	return errors.As(err, &t)
}

// OperationOutcome is how the last run of an operation ended.
type OperationOutcome struct {
	State  string // OpSucceeded, OpFailed or OpCancelled
	Error  string
	Result *StackResult // nil when the engine produced none
}

// Well-known stack outputs written back to the cluster record of a tier A org or a cell.
const (
	// OutputIngressHostname gives a cluster that has no API URL yet its public one
	// (https://<hostname>). The cluster's Kubernetes API server (apiUrl) is never written to
	// the record: its API URL is what web clients are routed to.
	OutputIngressHostname  = "ingressHostname"
	OutputLiveKitURL       = "livekitUrl"
	OutputLiveKitVersion   = "livekitVersion"
	OutputLiveKitAPIKey    = "livekitApiKey"
	OutputLiveKitAPISecret = "livekitApiSecret"
)
