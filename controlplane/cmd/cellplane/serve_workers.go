package main

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/cellplane/cellplane/controlplane/jobs"
	"github.com/cellplane/cellplane/controlplane/provision"
)

// The provisioning workers of `serve`: how many operations run at once, and where the
// stacks live (the same defaults as `cellplane stack`, so both see the same stacks).
type workerFlags struct {
	workers  *int
	attempts *int
	state    *string
	backend  *string
	secrets  *string
	cell     *string
}

const workersUsage = `
Provisioning: --workers operations run at once in this instance (0: record and queue
operations only, for other instances to run). Each runs the infrastructure program inline
through the Automation API in a workspace of its own under <state>/pulumi/workspaces, on
file://<state>/pulumi/backend unless --backend / PULUMI_BACKEND_URL names another backend.
Stack secrets are encrypted with PULUMI_CONFIG_PASSPHRASE (local stacks have a default) or
--secrets-provider. Local stacks adopt the local cell in --local-cell (default <state>).`

func addWorkerFlags(fs *flag.FlagSet, e env) *workerFlags {
	return &workerFlags{
		workers:  fs.Int("workers", envInt(e, "CELLPLANE_WORKERS", 4), "operations run at once by this instance; 0 = none [CELLPLANE_WORKERS]"),
		attempts: fs.Int("attempts", envInt(e, "CELLPLANE_OPERATION_ATTEMPTS", 5), "runs an operation gets when it keeps failing transiently [CELLPLANE_OPERATION_ATTEMPTS]"),
		state:    stateFlag(e, fs, "state directory: stack workspaces, file backend, the local cell"),
		backend:  fs.String("backend", envOr(e, "PULUMI_BACKEND_URL", ""), "Pulumi backend URL (default file://<state>/pulumi/backend) [PULUMI_BACKEND_URL]"),
		secrets:  fs.String("secrets-provider", envOr(e, "CELLPLANE_SECRETS_PROVIDER", ""), "KMS secrets provider URL; default: passphrase [CELLPLANE_SECRETS_PROVIDER]"),
		cell:     fs.String("local-cell", envOr(e, "CELLPLANE_LOCAL_CELL", ""), "directory of the local cell local stacks adopt (default <state>) [CELLPLANE_LOCAL_CELL]"),
	}
}

// config returns the queue's configuration; with workers, the stack runner.
func (w *workerFlags) config(e env) (jobs.Config, int, error) {
	if *w.workers < 0 || *w.workers > 256 {
		return jobs.Config{}, 0, usageError("--workers %d: want 0 to 256", *w.workers)
	}
	if *w.attempts < 1 || *w.attempts > 100 {
		return jobs.Config{}, 0, usageError("--attempts %d: want 1 to 100", *w.attempts)
	}
	cfg := jobs.Config{Workers: *w.workers}
	if cfg.Workers == 0 {
		return cfg, *w.attempts, nil
	}
	state, err := filepath.Abs(*w.state)
	if err != nil {
		return cfg, 0, err
	}
	cell := state
	if *w.cell != "" {
		if cell, err = filepath.Abs(*w.cell); err != nil {
			return cfg, 0, err
		}
	}
	r, err := provision.New(provision.Options{
		StateDir: state, BackendURL: *w.backend, SecretsProvider: *w.secrets,
		Passphrase: e.getenv("PULUMI_CONFIG_PASSPHRASE"), LocalCellDir: cell,
	})
	if err != nil {
		return cfg, 0, exitError{code: 2, err: fmt.Errorf("provisioning workers: %w (or run with --workers 0)", err)}
	}
	cfg.Provisioner = r
	return cfg, *w.attempts, nil
}

// envInt returns the integer value of key, or def when it is unset or not a number (the
// flag then reports a bad value given explicitly).
func envInt(e env, key string, def int) int {
	var n int
	if v := e.getenv(key); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &n); err == nil {
			return n
		}
	}
	return def
}
