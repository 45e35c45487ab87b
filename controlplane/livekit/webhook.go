package livekit

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/livekit/protocol/auth"
	lkproto "github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
)

// clusterKey is an auth.KeyProvider holding one cluster's key and secret: LiveKit's
// webhook verifier asks it for the secret of the key named in the webhook's token.
type clusterKey struct{ key, secret string }

func (k clusterKey) GetSecret(key string) string {
	if key == k.key {
		return k.secret
	}
	return ""
}

func (k clusterKey) NumKeys() int { return 1 }

var _ auth.KeyProvider = clusterKey{}

func unauthorized(msg string) error {
	return controlplane.Errorf(controlplane.EUNAUTHORIZED, "webhook rejected: %s", msg)
}

// ReceiveWebhook verifies a LiveKit webhook against the clusters registered with the API
// key its token names (signature, expiry, and the body's SHA-256 in the token) and hands
// the event to the meter, which applies it once per event id. The event is applied only to
// sessions on the clusters whose secret verified it: a cluster's key can never move
// another cluster's meter.
func (s *Service) ReceiveWebhook(ctx context.Context, authorization string, body []byte) (*controlplane.WebhookResult, error) {
	if authorization == "" {
		return nil, unauthorized("no Authorization header")
	}
	tok, err := auth.ParseAPIToken(authorization)
	if err != nil {
		return nil, unauthorized("the Authorization header is not a LiveKit token")
	}
	candidates, err := s.cfg.Store.ClustersByLiveKitKey(ctx, tok.APIKey())
	if err != nil {
		return nil, err
	}
	if len(candidates) == 0 {
		return nil, unauthorized("no cluster has this API key")
	}
	var verified []string
	var event *lkproto.WebhookEvent
	for _, id := range candidates {
		creds, err := s.cfg.Clusters.LiveKitCredentials(ctx, id)
		if err != nil {
			if controlplane.ErrorCode(err) == controlplane.ECONFLICT || controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
				continue // a cluster without a secret (yet) verifies nothing
			}
			return nil, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Authorization", authorization)
		ev, err := webhook.ReceiveWebhookEvent(req, clusterKey{key: creds.APIKey, secret: creds.APISecret})
		if err != nil {
			continue
		}
		verified = append(verified, id)
		event = ev
	}
	if len(verified) == 0 {
		return nil, unauthorized("the signature or the body checksum does not verify with the cluster's key")
	}
	me := MeterEvent(event, s.now())
	if me.ID == "" {
		return nil, controlplane.Errorf(controlplane.EMALFORMED, "the webhook event has no id")
	}
	res, err := s.cfg.Store.ApplyEvent(ctx, verified, me)
	if err != nil {
		return nil, err
	}
	s.cfg.Log.DebugContext(ctx, "webhook", "event", res.Event, "id", res.ID, "room", me.Room, "outcome", res.Outcome)
	return res, nil
}

// MeterEvent reduces a webhook event to what the meter needs. LiveKit stamps events and
// joins in whole seconds; an event without a time is taken as happening now.
func MeterEvent(ev *lkproto.WebhookEvent, now time.Time) controlplane.MeterEvent {
	me := controlplane.MeterEvent{ID: ev.GetId(), Event: ev.GetEvent(), At: now.UTC().Truncate(time.Second)}
	if ev.GetCreatedAt() > 0 {
		me.At = time.Unix(ev.GetCreatedAt(), 0).UTC()
	}
	if r := ev.GetRoom(); r != nil {
		me.Room, me.RoomSID = r.GetName(), r.GetSid()
	}
	if p := ev.GetParticipant(); p != nil {
		me.ParticipantSID, me.Identity = p.GetSid(), p.GetIdentity()
		if p.GetJoinedAt() > 0 {
			me.JoinedAt = time.Unix(p.GetJoinedAt(), 0).UTC()
		}
		if me.JoinedAt.IsZero() && me.Event == controlplane.EventParticipantJoined {
			me.JoinedAt = me.At
		}
	}
	return me
}
