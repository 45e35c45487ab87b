-- Sessions: LiveKit rooms on an org's own cluster, the identities tokens were issued for,
-- and the metered presence of participants (from LiveKit webhooks, each applied once).

CREATE TABLE sessions (
    id            uuid PRIMARY KEY,
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    cluster_id    uuid NOT NULL REFERENCES clusters (id),
    room          text NOT NULL,
    room_sid      text NOT NULL DEFAULT '',
    scenario      text NOT NULL,
    livekit_url   text NOT NULL,
    state         text NOT NULL CHECK (state IN ('active', 'ended')),
    end_reason    text NOT NULL DEFAULT '',
    max_duration  integer NOT NULL CHECK (max_duration > 0), -- seconds
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    ended_at      timestamptz,
    CHECK ((state = 'ended') = (ended_at IS NOT NULL))
);
CREATE UNIQUE INDEX sessions_room_key ON sessions (cluster_id, room);
CREATE INDEX sessions_org_created_idx ON sessions (org_id, created_at DESC, id DESC);
CREATE INDEX sessions_live_idx ON sessions (expires_at) WHERE state = 'active';

CREATE TABLE session_participants (
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    identity   text NOT NULL,
    name       text NOT NULL DEFAULT '',
    role       text NOT NULL CHECK (role IN ('trainee', 'instructor', 'observer', 'sim-engine', 'agent')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, identity)
);

-- One row per participant connection (LiveKit participant sid): the meter. left_at is
-- NULL while the participant is in the room; ending the session closes every open row.
CREATE TABLE participant_presence (
    session_id      uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    org_id          uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    participant_sid text NOT NULL,
    identity        text NOT NULL,
    joined_at       timestamptz NOT NULL,
    left_at         timestamptz,
    PRIMARY KEY (session_id, participant_sid),
    CHECK (left_at IS NULL OR left_at >= joined_at)
);
CREATE INDEX participant_presence_org_idx ON participant_presence (org_id, joined_at);
CREATE INDEX participant_presence_open_idx ON participant_presence (session_id) WHERE left_at IS NULL;

-- Every webhook event applied, by LiveKit's event id: the unique key makes a redelivered
-- or replayed event a no-op.
CREATE TABLE livekit_webhook_events (
    id          text PRIMARY KEY,
    cluster_id  uuid NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    event       text NOT NULL,
    room        text NOT NULL DEFAULT '',
    session_id  uuid REFERENCES sessions (id) ON DELETE SET NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
