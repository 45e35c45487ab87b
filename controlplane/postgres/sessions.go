package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SessionStore keeps sessions, their participants and the meter. It knows nothing of
// LiveKit: the session service (controlplane/livekit) calls it around its LiveKit calls.
type SessionStore struct{ db *DB }

// NewSessionStore returns the session store of db.
func NewSessionStore(db *DB) *SessionStore { return &SessionStore{db: db} }

// OrgCluster is where an org's sessions go: the org and the cluster it was placed on.
type OrgCluster struct {
	OrgID         string
	OrgSlug       string
	OrgStatus     string
	OrgCloud      string
	OrgRegion     string
	ClusterID     string
	ClusterName   string
	ClusterCloud  string
	ClusterRegion string
	ClusterStatus string
	LiveKitURL    string
}

// OrgCluster returns the org (within the caller's scope) and its cluster, or ENOTFOUND.
func (s *SessionStore) OrgCluster(ctx context.Context, slug string) (*OrgCluster, error) {
	var oc OrgCluster
	var orgID, clusterID uuid.UUID
	err := s.db.Pool.QueryRow(ctx, `SELECT o.id, o.slug, o.status, o.cloud, o.region, c.id, c.name, c.cloud, c.region, c.status, c.livekit_url
		FROM orgs o JOIN clusters c ON c.id = o.cluster_id
		WHERE o.slug = $1 AND o.status <> 'deleted' AND ($2::uuid IS NULL OR o.id = $2)`, slug, scope(ctx)).
		Scan(&orgID, &oc.OrgSlug, &oc.OrgStatus, &oc.OrgCloud, &oc.OrgRegion, &clusterID, &oc.ClusterName, &oc.ClusterCloud,
			&oc.ClusterRegion, &oc.ClusterStatus, &oc.LiveKitURL)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, orgNotFound(slug)
	} else if err != nil {
		return nil, err
	}
	oc.OrgID, oc.ClusterID = orgID.String(), clusterID.String()
	return &oc, nil
}

const sessionColumns = `s.id, o.slug, s.room, s.scenario, s.state, s.end_reason, s.livekit_url, c.region,
	s.max_duration, s.created_at, s.expires_at, s.ended_at, s.org_id, s.cluster_id`

const sessionFrom = ` FROM sessions s JOIN orgs o ON o.id = s.org_id JOIN clusters c ON c.id = s.cluster_id`

func scanSession(row pgx.Row) (*controlplane.Session, error) {
	var ss controlplane.Session
	var id, orgID, clusterID uuid.UUID
	err := row.Scan(&id, &ss.OrgSlug, &ss.Room, &ss.Scenario, &ss.State, &ss.EndReason, &ss.LiveKitURL, &ss.Region,
		&ss.MaxDuration, &ss.CreatedAt, &ss.ExpiresAt, &ss.EndedAt, &orgID, &clusterID)
	if err != nil {
		return nil, err
	}
	ss.ID, ss.OrgID, ss.ClusterID = id.String(), orgID.String(), clusterID.String()
	ss.Participants = []*controlplane.Participant{}
	return &ss, nil
}

// CreateSession stores ss and its participants and, inside the same transaction, calls
// create (which makes the room): the transaction commits only if create succeeds, so a
// failed room leaves no row, and a crash in between leaves none either. CreatedAt and
// ExpiresAt are set before create is called (and ss.ID, when it was empty).
func (s *SessionStore) CreateSession(ctx context.Context, ss *controlplane.Session, create func(ctx context.Context) error) error {
	tx, err := s.db.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer rollback(ctx, tx)
	id := uuid.New()
	if ss.ID != "" {
		if id, err = uuid.Parse(ss.ID); err != nil {
			return err
		}
	}
	err = tx.QueryRow(ctx, `INSERT INTO sessions (id, org_id, cluster_id, room, scenario, livekit_url, state, max_duration, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, now() + $7::integer * interval '1 second')
		RETURNING created_at, expires_at`,
		id, uuid.MustParse(ss.OrgID), uuid.MustParse(ss.ClusterID), ss.Room, ss.Scenario, ss.LiveKitURL, ss.MaxDuration).
		Scan(&ss.CreatedAt, &ss.ExpiresAt)
	if err != nil {
		return mapError(err)
	}
	ss.ID, ss.State = id.String(), controlplane.SessionActive
	for _, p := range ss.Participants {
		if err := tx.QueryRow(ctx, `INSERT INTO session_participants (session_id, identity, name, role) VALUES ($1, $2, $3, $4) RETURNING created_at`,
			id, p.Identity, p.Name, p.Role).Scan(&p.CreatedAt); err != nil {
			return mapError(err)
		}
	}
	if err := create(ctx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// FindSession returns the org's session with its participants, or ENOTFOUND (also for a
// session of another org, or outside the caller's scope).
func (s *SessionStore) FindSession(ctx context.Context, orgSlug, id string) (*controlplane.Session, error) {
	if !controlplane.ValidSessionID(id) {
		return nil, controlplane.SessionNotFound(id)
	}
	ss, err := scanSession(s.db.Pool.QueryRow(ctx, `SELECT `+sessionColumns+sessionFrom+`
		WHERE s.id = $1 AND o.slug = $2 AND o.status <> 'deleted' AND ($3::uuid IS NULL OR s.org_id = $3)`, uuid.MustParse(id), orgSlug, scope(ctx)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, controlplane.SessionNotFound(id)
	} else if err != nil {
		return nil, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT identity, name, role, created_at FROM session_participants
		WHERE session_id = $1 ORDER BY created_at, identity`, uuid.MustParse(ss.ID))
	if err != nil {
		return nil, err
	}
	ss.Participants, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*controlplane.Participant, error) {
		var p controlplane.Participant
		return &p, r.Scan(&p.Identity, &p.Name, &p.Role, &p.CreatedAt)
	})
	if ss.Participants == nil {
		ss.Participants = []*controlplane.Participant{}
	}
	return ss, err
}

// FindSessions returns a page of the org's sessions, newest first, and whether more
// follow. Listed sessions carry no participants.
func (s *SessionStore) FindSessions(ctx context.Context, orgSlug string, f controlplane.SessionFilter) ([]*controlplane.Session, bool, error) {
	oc, err := s.OrgCluster(ctx, orgSlug)
	if err != nil {
		return nil, false, err
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var afterID *uuid.UUID
	if f.AfterID != "" {
		u, err := uuid.Parse(f.AfterID)
		if err != nil {
			return nil, false, controlplane.Errorf(controlplane.EINVALID, "bad cursor")
		}
		afterID = &u
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+sessionColumns+sessionFrom+`
		WHERE s.org_id = $1
		  AND ($2 = '' OR s.state = $2)
		  AND ($3::timestamptz IS NULL OR s.created_at >= $3)
		  AND ($4::timestamptz IS NULL OR s.created_at < $4)
		  AND ($5::timestamptz IS NULL OR (s.created_at, s.id) < ($5, $6::uuid))
		ORDER BY s.created_at DESC, s.id DESC LIMIT $7`,
		uuid.MustParse(oc.OrgID), f.State, f.From, f.To, f.AfterTime, afterID, f.Limit+1)
	if err != nil {
		return nil, false, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*controlplane.Session, error) { return scanSession(r) })
	if err != nil {
		return nil, false, err
	}
	more := len(list) > f.Limit
	if more {
		list = list[:f.Limit]
	}
	return list, more, nil
}

// AddParticipant records a participant of a live session and, inside the same
// transaction, calls issue (which may dispatch an agent): the row stays only if issue
// succeeds. The session row is locked, so the participant limit holds under concurrency.
// An identity already in the session may be issued again in the same role only.
func (s *SessionStore) AddParticipant(ctx context.Context, ss *controlplane.Session, p *controlplane.Participant, issue func(ctx context.Context, existing bool) error) error {
	tx, err := s.db.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer rollback(ctx, tx)
	sid := uuid.MustParse(ss.ID)
	var state string
	var expires time.Time
	if err := tx.QueryRow(ctx, `SELECT state, expires_at FROM sessions WHERE id = $1 FOR UPDATE`, sid).Scan(&state, &expires); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return controlplane.SessionNotFound(ss.ID)
		}
		return err
	}
	if state != controlplane.SessionActive {
		return controlplane.Errorf(controlplane.ECONFLICT, "session %s has ended: tokens are minted only for live sessions", ss.ID)
	}
	if !expires.After(time.Now()) {
		return controlplane.Errorf(controlplane.ECONFLICT, "session %s has reached its max_duration", ss.ID)
	}
	var role string
	err = tx.QueryRow(ctx, `SELECT role, created_at FROM session_participants WHERE session_id = $1 AND identity = $2`, sid, p.Identity).Scan(&role, &p.CreatedAt)
	existing := err == nil
	switch {
	case existing && role != string(p.Role):
		return &controlplane.Error{Code: controlplane.ECONFLICT, Message: "the identity is already in the session with another role",
			Fields: []controlplane.FieldError{{Field: "identity", Message: fmt.Sprintf("%q is already a %s of this session", p.Identity, role)}}}
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return err
	case !existing:
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM session_participants WHERE session_id = $1`, sid).Scan(&n); err != nil {
			return err
		}
		if n >= controlplane.MaxSessionParticipants {
			return controlplane.Errorf(controlplane.ECONFLICT, "session %s already has the most participants (%d)", ss.ID, controlplane.MaxSessionParticipants)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO session_participants (session_id, identity, name, role) VALUES ($1, $2, $3, $4) RETURNING created_at`,
			sid, p.Identity, p.Name, p.Role).Scan(&p.CreatedAt); err != nil {
			return mapError(err)
		}
	}
	if err := issue(ctx, existing); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// EndSession marks a live session ended at `at` (never before it started) and closes its
// open presences there: the meter stops. It reports whether this call ended it.
func (s *SessionStore) EndSession(ctx context.Context, sessionID string, at time.Time, reason string) (bool, error) {
	tx, err := s.db.Pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer rollback(ctx, tx)
	ended, err := endSession(ctx, tx, uuid.MustParse(sessionID), at, reason)
	if err != nil {
		return false, err
	}
	return ended, tx.Commit(ctx)
}

// SetEndReason records why a live session is being ended, before its room is closed:
// LiveKit's room_finished webhook may then end it first, and the reason stays ours. An
// empty reason clears it again (the room could not be closed).
func (s *SessionStore) SetEndReason(ctx context.Context, sessionID, reason string) error {
	_, err := s.db.Pool.Exec(ctx, `UPDATE sessions SET end_reason = $2 WHERE id = $1 AND state = 'active'`, uuid.MustParse(sessionID), reason)
	return err
}

func endSession(ctx context.Context, tx pgx.Tx, id uuid.UUID, at time.Time, reason string) (bool, error) {
	var endedAt time.Time
	err := tx.QueryRow(ctx, `UPDATE sessions SET state = 'ended', end_reason = COALESCE(NULLIF(end_reason, ''), $3),
		ended_at = GREATEST(created_at, $2::timestamptz)
		WHERE id = $1 AND state = 'active' RETURNING ended_at`, id, at, reason).Scan(&endedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	_, err = tx.Exec(ctx, `UPDATE participant_presence SET left_at = GREATEST(joined_at, $2::timestamptz)
		WHERE session_id = $1 AND left_at IS NULL`, id, endedAt)
	return true, err
}

// ExpiredSession is a live session past its max duration.
type ExpiredSession struct {
	ID        string
	OrgSlug   string
	ClusterID string
	Room      string
}

// ExpiredSessions returns live sessions whose max duration has passed (any org: the
// service's own sweeper calls it).
func (s *SessionStore) ExpiredSessions(ctx context.Context, now time.Time, limit int) ([]ExpiredSession, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT s.id, o.slug, s.cluster_id, s.room FROM sessions s JOIN orgs o ON o.id = s.org_id
		WHERE s.state = 'active' AND s.expires_at <= $1 ORDER BY s.expires_at LIMIT $2`, now, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExpiredSession, error) {
		var e ExpiredSession
		var id, cid uuid.UUID
		err := r.Scan(&id, &e.OrgSlug, &cid, &e.Room)
		e.ID, e.ClusterID = id.String(), cid.String()
		return e, err
	})
}

// ClustersByLiveKitKey returns the ids of the clusters whose LiveKit API key is key: the
// candidates whose secret may have signed a webhook.
func (s *SessionStore) ClustersByLiveKitKey(ctx context.Context, key string) ([]string, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id FROM clusters WHERE livekit_api_key = $1 AND livekit_api_key <> '' ORDER BY id`, key)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out, err
}
