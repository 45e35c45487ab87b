package livekit

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/postgres"
	"github.com/google/uuid"
	lkproto "github.com/livekit/protocol/livekit"
)

var roomEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// RoomName returns a new room name for an org: its slug (so a room is recognisable in
// LiveKit's own logs and metrics) and 120 random bits (so it cannot be guessed).
func RoomName(slug string) string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	return slug + "-" + roomEncoding.EncodeToString(b)
}

// target is where an org's session goes, with the cluster's credentials open in memory.
type target struct {
	org    *postgres.OrgCluster
	url    string // the LiveKit URL clients connect to (from the route)
	creds  *controlplane.LiveKitCredentials
	client *clusterClients
}

// targetFor resolves the org (in the caller's scope) to its own cluster. The URL comes
// from the org's route, and must be the very cluster the org is placed on: a session never
// goes to another org's or another region's LiveKit.
func (s *Service) targetFor(ctx context.Context, slug string) (*target, error) {
	oc, err := s.cfg.Store.OrgCluster(ctx, slug)
	if err != nil {
		return nil, err
	}
	if oc.OrgStatus != controlplane.OrgReady {
		// Only a ready org has a route: its onboarding built what its sessions run on.
		return nil, controlplane.Errorf(controlplane.ECONFLICT, "org %q is %s, not ready: sessions start once its onboarding has finished", slug, oc.OrgStatus)
	}
	if oc.ClusterCloud != oc.OrgCloud || oc.ClusterRegion != oc.OrgRegion {
		return nil, controlplane.Errorf(controlplane.EINTERNAL, "org %s is placed on cluster %s in %s/%s, outside its own %s/%s",
			slug, oc.ClusterName, oc.ClusterCloud, oc.ClusterRegion, oc.OrgCloud, oc.OrgRegion)
	}
	if oc.ClusterStatus != controlplane.ClusterActive && oc.ClusterStatus != controlplane.ClusterDraining {
		return nil, controlplane.Errorf(controlplane.ECONFLICT, "the org's cluster is %s, not serving yet: sessions start once it is active", oc.ClusterStatus)
	}
	if oc.LiveKitURL == "" {
		return nil, controlplane.Errorf(controlplane.ECONFLICT, "the org's cluster has no LiveKit URL yet")
	}
	route, ok := s.route(slug)
	if !ok || route.LiveKitURL != oc.LiveKitURL || route.Region != oc.OrgRegion {
		// The table has not caught up with a change yet: ask the database it is fed from.
		if s.cfg.RouteService == nil {
			return nil, controlplane.Errorf(controlplane.EUNAVAILABLE, "the org router has no route for %q yet: retry in a moment", slug)
		}
		r, err := s.cfg.RouteService.RouteBySlug(context.WithoutCancel(ctx), slug)
		if err != nil {
			return nil, err
		}
		route = *r
	}
	if route.LiveKitURL != oc.LiveKitURL || route.Region != oc.OrgRegion {
		return nil, controlplane.Errorf(controlplane.EUNAVAILABLE, "the org's route is being updated: retry in a moment")
	}
	creds, err := s.cfg.Clusters.LiveKitCredentials(ctx, oc.ClusterID)
	if err != nil {
		return nil, err
	}
	if creds.URL != oc.LiveKitURL {
		return nil, controlplane.Errorf(controlplane.EUNAVAILABLE, "the org's cluster changed during the request: retry")
	}
	return &target{org: oc, url: ClientURL(route.LiveKitURL), creds: creds, client: s.clientsFor(oc.ClusterID, creds)}, nil
}

func (s *Service) route(slug string) (controlplane.Route, bool) {
	if s.cfg.Routes == nil {
		return controlplane.Route{}, false
	}
	e, ok := s.cfg.Routes.Lookup(slug)
	if !ok {
		return controlplane.Route{}, false
	}
	return e.Route, true
}

// dispatchMetadata tells a dispatched agent which session and identity it serves.
func dispatchMetadata(ss *controlplane.Session, identity string) string {
	b, _ := json.Marshal(map[string]string{"session_id": ss.ID, "org": ss.OrgSlug, "scenario": ss.Scenario, "identity": identity})
	return string(b)
}

// CreateSession creates the room on the org's own LiveKit and stores the session, both or
// neither: the row is written in a transaction that commits only once LiveKit has created
// the room (with its agent dispatches), and a room whose row then fails to commit is
// deleted again.
func (s *Service) CreateSession(ctx context.Context, slug string, sc controlplane.SessionCreate) (*controlplane.Session, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	t, err := s.targetFor(ctx, slug)
	if err != nil {
		return nil, err
	}
	ss := &controlplane.Session{
		ID:          uuid.NewString(),
		OrgSlug:     slug,
		Room:        RoomName(slug),
		Scenario:    sc.Scenario,
		LiveKitURL:  t.url,
		Region:      t.org.OrgRegion,
		MaxDuration: int(sc.Duration() / time.Second),
		OrgID:       t.org.OrgID,
		ClusterID:   t.org.ClusterID,
	}
	for _, p := range sc.Participants {
		ss.Participants = append(ss.Participants, &controlplane.Participant{Identity: p.Identity, Name: p.Name, Role: controlplane.Role(p.Role)})
	}
	roomCreated := false
	err = s.cfg.Store.CreateSession(ctx, ss, func(ctx context.Context) error {
		// Tokens first: nothing can fail after the room exists but the commit.
		for _, p := range ss.Participants {
			if err := s.mint(t, ss, p); err != nil {
				return err
			}
		}
		req := &lkproto.CreateRoomRequest{
			Name:             ss.Room,
			EmptyTimeout:     uint32(s.cfg.EmptyTimeout / time.Second),
			DepartureTimeout: uint32(s.cfg.DepartureTimeout / time.Second),
			MaxParticipants:  controlplane.MaxSessionParticipants,
			Metadata:         roomMetadata(ss),
		}
		for _, p := range ss.Participants {
			if p.Role == controlplane.RoleAgent {
				req.Agents = append(req.Agents, &lkproto.RoomAgentDispatch{AgentName: s.cfg.AgentName, Metadata: dispatchMetadata(ss, p.Identity)})
			}
		}
		cctx, cancel := s.callCtx(ctx)
		defer cancel()
		if _, err := t.client.rooms.CreateRoom(cctx, req); err != nil {
			return unavailable("creating the session's room", err)
		}
		roomCreated = true
		return nil
	})
	if err != nil {
		if roomCreated {
			s.deleteRoom(context.WithoutCancel(ctx), t.client, ss.Room)
		}
		return nil, err
	}
	s.cfg.Log.InfoContext(ctx, "session created", "org", slug, "session", ss.ID, "room", ss.Room, "cluster", t.org.ClusterName, "participants", len(ss.Participants))
	return ss, nil
}

func roomMetadata(ss *controlplane.Session) string {
	b, _ := json.Marshal(map[string]string{"session_id": ss.ID, "org": ss.OrgSlug, "scenario": ss.Scenario})
	return string(b)
}

// mint sets p's token, valid until the session's max duration is reached.
func (s *Service) mint(t *target, ss *controlplane.Session, p *controlplane.Participant) error {
	ttl := ss.ExpiresAt.Sub(s.now())
	if ttl < time.Second {
		return controlplane.Errorf(controlplane.ECONFLICT, "session %s has reached its max_duration", ss.ID)
	}
	tok, err := MintToken(TokenRequest{APIKey: t.creds.APIKey, APISecret: t.creds.APISecret, Room: ss.Room, SessionID: ss.ID,
		Identity: p.Identity, Name: p.Name, Role: p.Role, TTL: ttl})
	if err != nil {
		return err
	}
	exp := s.now().Add(ttl).Truncate(time.Second)
	p.Token, p.TokenExpiresAt = tok, &exp
	return nil
}

func (s *Service) deleteRoom(ctx context.Context, c *clusterClients, room string) {
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	if _, err := c.rooms.DeleteRoom(cctx, &lkproto.DeleteRoomRequest{Room: room}); err != nil && !isNotFound(err) {
		s.cfg.Log.WarnContext(ctx, "could not delete a room left by a failed session create", "room", room, "err", err)
	}
}

// FindSession returns one of the org's sessions.
func (s *Service) FindSession(ctx context.Context, slug, id string) (*controlplane.Session, error) {
	return s.cfg.Store.FindSession(ctx, slug, id)
}

// FindSessions returns a page of the org's sessions.
func (s *Service) FindSessions(ctx context.Context, slug string, f controlplane.SessionFilter) ([]*controlplane.Session, bool, error) {
	switch f.State {
	case "", controlplane.SessionActive, controlplane.SessionEnded:
	default:
		var v controlplane.Validation
		v.Add("state", "unknown state %q; allowed: active, ended", f.State)
		return nil, false, v.Err()
	}
	return s.cfg.Store.FindSessions(ctx, slug, f)
}

// CreateToken mints a token for a participant of a live session. A new agent participant
// is dispatched to the room; the participant is recorded only if that succeeds.
func (s *Service) CreateToken(ctx context.Context, slug, id string, pc controlplane.ParticipantCreate) (*controlplane.Participant, *controlplane.Session, error) {
	ss, err := s.cfg.Store.FindSession(ctx, slug, id)
	if err != nil {
		return nil, nil, err
	}
	if err := pc.Validate(); err != nil {
		return nil, nil, err
	}
	if ss.State != controlplane.SessionActive {
		return nil, nil, controlplane.Errorf(controlplane.ECONFLICT, "session %s has ended: tokens are minted only for live sessions", ss.ID)
	}
	t, err := s.targetFor(ctx, slug)
	if err != nil {
		return nil, nil, err
	}
	if t.org.ClusterID != ss.ClusterID {
		return nil, nil, controlplane.Errorf(controlplane.ECONFLICT, "session %s lives on a cluster the org has since left", ss.ID)
	}
	p := &controlplane.Participant{Identity: pc.Identity, Name: pc.Name, Role: controlplane.Role(pc.Role)}
	err = s.cfg.Store.AddParticipant(ctx, ss, p, func(ctx context.Context, existing bool) error {
		if err := s.mint(t, ss, p); err != nil {
			return err
		}
		if p.Role != controlplane.RoleAgent || existing {
			return nil
		}
		cctx, cancel := s.callCtx(ctx)
		defer cancel()
		_, err := t.client.dispatch.CreateDispatch(cctx, &lkproto.CreateAgentDispatchRequest{
			AgentName: s.cfg.AgentName, Room: ss.Room, Metadata: dispatchMetadata(ss, p.Identity)})
		if err != nil {
			return unavailable("dispatching the agent", err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return p, ss, nil
}

// EndSession deletes the room (every participant is disconnected) and then stops the
// meter. If LiveKit cannot be reached the session stays live: better to bill a room that
// still exists than to leave one running unbilled.
func (s *Service) EndSession(ctx context.Context, slug, id string) (*controlplane.Session, error) {
	ss, err := s.cfg.Store.FindSession(ctx, slug, id)
	if err != nil {
		return nil, err
	}
	if ss.State != controlplane.SessionActive {
		return ss, nil
	}
	if err := s.end(ctx, ss.ID, ss.ClusterID, ss.Room, "ended through the API"); err != nil {
		return nil, err
	}
	return s.cfg.Store.FindSession(ctx, slug, id)
}

func (s *Service) end(ctx context.Context, sessionID, clusterID, room, reason string) error {
	creds, err := s.cfg.Clusters.LiveKitCredentials(ctx, clusterID)
	if err != nil {
		return err
	}
	c := s.clientsFor(clusterID, creds)
	if err := s.cfg.Store.SetEndReason(ctx, sessionID, reason); err != nil {
		return err
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	if _, err := c.rooms.DeleteRoom(cctx, &lkproto.DeleteRoomRequest{Room: room}); err != nil && !isNotFound(err) {
		_ = s.cfg.Store.SetEndReason(context.WithoutCancel(ctx), sessionID, "")
		return unavailable("closing the session's room", err)
	}
	// Whole seconds, as LiveKit stamps joins and leaves: the meter's arithmetic stays exact.
	if _, err := s.cfg.Store.EndSession(context.WithoutCancel(ctx), sessionID, s.now().Truncate(time.Second), reason); err != nil {
		return err
	}
	s.cfg.Log.InfoContext(ctx, "session ended", "session", sessionID, "room", room, "reason", reason)
	return nil
}

// EndExpired ends live sessions past their max duration (their tokens have expired, but
// participants already in the room would otherwise stay). It returns how many it ended.
func (s *Service) EndExpired(ctx context.Context) (int, error) {
	expired, err := s.cfg.Store.ExpiredSessions(ctx, s.now(), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	var firstErr error
	for _, e := range expired {
		if err := s.end(ctx, e.ID, e.ClusterID, e.Room, "max_duration reached"); err != nil {
			s.cfg.Log.WarnContext(ctx, "could not end an expired session", "session", e.ID, "org", e.OrgSlug, "err", err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		n++
	}
	return n, firstErr
}

// RunExpiry calls EndExpired every interval until ctx ends.
func (s *Service) RunExpiry(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = s.EndExpired(ctx)
		}
	}
}
