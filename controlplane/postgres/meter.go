package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ApplyEvent applies a verified webhook event from one of clusterIDs (the clusters whose
// key signed it) to the session of its room on those clusters, at most once: the event id
// is recorded in the same transaction, under a unique key. Events for rooms that are no
// session of ours, and kinds the meter does not use, are ignored.
func (s *SessionStore) ApplyEvent(ctx context.Context, clusterIDs []string, ev controlplane.MeterEvent) (*controlplane.WebhookResult, error) {
	res := &controlplane.WebhookResult{Event: ev.Event, ID: ev.ID}
	ignore := func(reason string) (*controlplane.WebhookResult, error) {
		res.Outcome, res.Reason = controlplane.WebhookIgnored, reason
		return res, nil
	}
	switch ev.Event {
	case controlplane.EventRoomStarted, controlplane.EventRoomFinished, controlplane.EventParticipantJoined,
		controlplane.EventParticipantLeft, controlplane.EventParticipantConnectionAborted:
	default:
		return ignore("the meter does not use this event")
	}
	if ev.Room == "" {
		return ignore("the event names no room")
	}
	ids := make([]uuid.UUID, 0, len(clusterIDs))
	for _, c := range clusterIDs {
		if u, err := uuid.Parse(c); err == nil {
			ids = append(ids, u)
		}
	}

	tx, err := s.db.Pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer rollback(ctx, tx)
	// The session row is locked: events of one session apply one at a time, so a leave
	// and the session's end cannot interleave.
	var sid, orgID, clusterID uuid.UUID
	var state string
	var endedAt *time.Time
	err = tx.QueryRow(ctx, `SELECT id, org_id, cluster_id, state, ended_at FROM sessions
		WHERE cluster_id = ANY($1) AND room = $2 ORDER BY created_at DESC LIMIT 1 FOR UPDATE`, ids, ev.Room).
		Scan(&sid, &orgID, &clusterID, &state, &endedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return ignore("no session of this cluster has this room")
	} else if err != nil {
		return nil, err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO livekit_webhook_events (id, cluster_id, event, room, session_id, occurred_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`, ev.ID, clusterID, ev.Event, ev.Room, sid, ev.At)
	if err != nil {
		return nil, err
	}
	if tag.RowsAffected() == 0 {
		res.Outcome = controlplane.WebhookDuplicate
		return res, nil
	}

	// A presence never extends past the session's end: once the session has ended, the
	// meter is stopped and late events are cut there.
	cut := func(t time.Time) time.Time {
		if endedAt != nil && t.After(*endedAt) {
			return *endedAt
		}
		return t
	}
	switch ev.Event {
	case controlplane.EventRoomStarted:
		_, err = tx.Exec(ctx, `UPDATE sessions SET room_sid = $2 WHERE id = $1 AND room_sid = ''`, sid, ev.RoomSID)
	case controlplane.EventRoomFinished:
		_, err = endSession(ctx, tx, sid, ev.At, "the room was closed by LiveKit")
	case controlplane.EventParticipantJoined:
		if ev.ParticipantSID == "" {
			return ignore("the event names no participant")
		}
		if endedAt != nil && !ev.JoinedAt.Before(*endedAt) {
			res.Reason = "joined after the session ended: not metered"
			break
		}
		var left *time.Time
		if endedAt != nil {
			left = endedAt
		}
		_, err = tx.Exec(ctx, `INSERT INTO participant_presence (session_id, org_id, participant_sid, identity, joined_at, left_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id, participant_sid) DO NOTHING`,
			sid, orgID, ev.ParticipantSID, ev.Identity, ev.JoinedAt, left)
	case controlplane.EventParticipantLeft, controlplane.EventParticipantConnectionAborted:
		if ev.ParticipantSID == "" {
			return ignore("the event names no participant")
		}
		left := cut(ev.At)
		if ev.Event == controlplane.EventParticipantConnectionAborted || ev.JoinedAt.IsZero() || (endedAt != nil && !ev.JoinedAt.Before(*endedAt)) {
			// Close a presence we know of; never open one from here.
			_, err = tx.Exec(ctx, `UPDATE participant_presence SET left_at = GREATEST(joined_at, LEAST(COALESCE(left_at, $3::timestamptz), $3::timestamptz))
				WHERE session_id = $1 AND participant_sid = $2`, sid, ev.ParticipantSID, left)
			break
		}
		// The leave may arrive before the join (they can come from different nodes): it
		// carries the join time, so it records the whole stay, and the join is then a no-op.
		_, err = tx.Exec(ctx, `INSERT INTO participant_presence AS p (session_id, org_id, participant_sid, identity, joined_at, left_at)
			VALUES ($1, $2, $3, $4, $5, GREATEST($5::timestamptz, $6::timestamptz))
			ON CONFLICT (session_id, participant_sid) DO UPDATE
			SET left_at = GREATEST(p.joined_at, LEAST(COALESCE(p.left_at, EXCLUDED.left_at), EXCLUDED.left_at))`,
			sid, orgID, ev.ParticipantSID, ev.Identity, ev.JoinedAt, left)
	}
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	res.Outcome = controlplane.WebhookApplied
	return res, nil
}
