-- The control plane's registry: clusters, orgs placed on them, and org API keys.

CREATE TABLE clusters (
    id                        uuid PRIMARY KEY,
    name                      text NOT NULL,
    cloud                     text NOT NULL,
    region                    text NOT NULL,
    kind                      text NOT NULL CHECK (kind IN ('dedicated', 'shared')),
    api_url                   text NOT NULL DEFAULT '',
    livekit_url               text NOT NULL DEFAULT '',
    livekit_version           text NOT NULL DEFAULT '',
    livekit_api_key           text NOT NULL DEFAULT '',
    -- envelope-encrypted (see controlplane/secrets); never selected by listing queries
    livekit_api_secret_sealed bytea,
    capacity                  integer NOT NULL CHECK (capacity >= 1),
    status                    text NOT NULL CHECK (status IN ('pending', 'active', 'draining', 'retired')),
    stack                     text NOT NULL DEFAULT '',
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX clusters_name_key ON clusters (name);
CREATE UNIQUE INDEX clusters_stack_key ON clusters (stack) WHERE stack <> '';
CREATE INDEX clusters_placement_idx ON clusters (cloud, region, kind, status);

CREATE TABLE orgs (
    id            uuid PRIMARY KEY,
    slug          text NOT NULL,
    name          text NOT NULL,
    tier          text NOT NULL CHECK (tier IN ('dedicated', 'shared')),
    cloud         text NOT NULL,
    region        text NOT NULL,
    version       text NOT NULL,
    sizing        text NOT NULL CHECK (sizing IN ('small', 'medium', 'large')),
    requirements  jsonb NOT NULL DEFAULT '{}',
    status        text NOT NULL CHECK (status IN ('provisioning', 'ready', 'failed', 'deleting')),
    status_reason text NOT NULL DEFAULT '',
    cluster_id    uuid NOT NULL REFERENCES clusters (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX orgs_slug_key ON orgs (slug);
CREATE INDEX orgs_cluster_idx ON orgs (cluster_id);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name         text NOT NULL,
    hash         bytea NOT NULL, -- SHA-256 of the whole token
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
CREATE INDEX api_keys_org_idx ON api_keys (org_id);

-- Routers on every instance LISTEN on cellplane_routes. The payload is the slug of the org
-- whose route changed, or '*' when a cluster changed (its orgs' routes are reloaded).
-- pg_notify is transactional: listeners hear of a change only once it is committed.
CREATE FUNCTION cellplane_notify_org_route() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('cellplane_routes', OLD.slug);
        RETURN OLD;
    END IF;
    PERFORM pg_notify('cellplane_routes', NEW.slug);
    RETURN NEW;
END
$$;

CREATE TRIGGER orgs_notify_route
    AFTER INSERT OR UPDATE OR DELETE ON orgs
    FOR EACH ROW EXECUTE FUNCTION cellplane_notify_org_route();

CREATE FUNCTION cellplane_notify_cluster_routes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
        OR OLD.api_url IS DISTINCT FROM NEW.api_url
        OR OLD.livekit_url IS DISTINCT FROM NEW.livekit_url
        OR OLD.region IS DISTINCT FROM NEW.region THEN
        PERFORM pg_notify('cellplane_routes', '*');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER clusters_notify_routes
    AFTER UPDATE OR DELETE ON clusters
    FOR EACH ROW EXECUTE FUNCTION cellplane_notify_cluster_routes();
