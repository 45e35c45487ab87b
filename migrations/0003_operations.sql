-- Operations: every onboarding, upgrade, resize and teardown of an org (and the creation of
-- a shared cell) is one row here, run by a job of the queue (River, same database), with
-- its engine log kept line by line so that any instance can stream it.

-- A torn-down org is archived, not deleted: its sessions and metered usage stay for
-- billing. Its slug (and its dedicated cluster's name and stack) become free for reuse.
ALTER TABLE orgs DROP CONSTRAINT orgs_status_check;
ALTER TABLE orgs ADD CONSTRAINT orgs_status_check
    CHECK (status IN ('provisioning', 'ready', 'failed', 'deleting', 'deleted'));
ALTER TABLE orgs ADD COLUMN deleted_at timestamptz;
DROP INDEX orgs_slug_key;
CREATE UNIQUE INDEX orgs_slug_key ON orgs (slug) WHERE status <> 'deleted';

DROP INDEX clusters_name_key;
CREATE UNIQUE INDEX clusters_name_key ON clusters (name) WHERE status <> 'retired';
DROP INDEX clusters_stack_key;
CREATE UNIQUE INDEX clusters_stack_key ON clusters (stack) WHERE stack <> '' AND status <> 'retired';

CREATE TABLE operations (
    id                  uuid PRIMARY KEY,
    -- global order of creation: on one stack, operations run strictly in seq order
    seq                 bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    -- NULL for a shared cell's operation. Orgs are archived, not deleted (teardown); the
    -- cascade only serves a hard delete by hand.
    org_id              uuid REFERENCES orgs (id) ON DELETE CASCADE,
    cluster_id          uuid NOT NULL REFERENCES clusters (id),
    stack               text NOT NULL,
    -- stacks whose earlier operations must be settled first: its own, and a tenant's cell
    waits_for           text[] NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('onboard', 'upgrade', 'resize', 'teardown', 'cell')),
    state               text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    -- the stack config applied (cellplane:* keys, no secrets) and what was asked for
    config              jsonb NOT NULL,
    params              jsonb NOT NULL DEFAULT '{}',
    attempts            integer NOT NULL DEFAULT 0,
    max_attempts        integer NOT NULL CHECK (max_attempts >= 1),
    summary             jsonb NOT NULL DEFAULT '{}',
    outputs             jsonb NOT NULL DEFAULT '{}',
    error               text NOT NULL DEFAULT '',
    cancel_requested_at timestamptz,
    job_id              bigint,                      -- the queue's latest job for it
    log_lines           bigint NOT NULL DEFAULT 0,   -- numbers the lines of operation_logs
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);
CREATE INDEX operations_org_idx ON operations (org_id, seq DESC);
CREATE INDEX operations_open_idx ON operations (stack, seq) WHERE state IN ('queued', 'running');

CREATE TABLE operation_logs (
    operation_id uuid NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    seq          bigint NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    line         text NOT NULL,
    PRIMARY KEY (operation_id, seq)
);
