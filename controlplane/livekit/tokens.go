package livekit

import (
	"fmt"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/livekit/protocol/auth"
	lkproto "github.com/livekit/protocol/livekit"
)

// Participant attributes set in every token, so clients and the sim-engine can tell roles
// apart without a lookup. The token forbids changing them (canUpdateOwnMetadata false).
const (
	AttrRole    = "cellplane.role"
	AttrSession = "cellplane.session"
)

var mediaSources = []lkproto.TrackSource{lkproto.TrackSource_CAMERA, lkproto.TrackSource_MICROPHONE}

// Grant returns the least-privilege grant of role in room: the room is named, so even the
// instructor's room admin right covers that one room only, and every permission is set
// explicitly (LiveKit grants everything when none is).
func Grant(role controlplane.Role, room string) *auth.VideoGrant {
	g := &auth.VideoGrant{RoomJoin: true, Room: room}
	g.SetCanUpdateOwnMetadata(false)
	g.SetCanSubscribeMetrics(false)
	switch role {
	case controlplane.RoleTrainee:
		g.SetCanPublish(true)
		g.SetCanPublishSources(mediaSources)
		g.SetCanSubscribe(true)
		g.SetCanPublishData(false)
	case controlplane.RoleInstructor:
		g.SetCanPublish(true)
		g.SetCanPublishSources(mediaSources)
		g.SetCanSubscribe(true)
		g.SetCanPublishData(true)
		g.RoomAdmin = true
	case controlplane.RoleObserver:
		g.SetCanPublish(false)
		g.SetCanSubscribe(true)
		g.SetCanPublishData(false)
		g.Hidden = true
	case controlplane.RoleSimEngine, controlplane.RoleAgent:
		g.SetCanPublish(false)
		g.SetCanSubscribe(true)
		g.SetCanPublishData(true)
	default:
		// An unknown role gets a grant that can do nothing but fail to join.
		g.RoomJoin = false
		g.SetCanPublish(false)
		g.SetCanSubscribe(false)
		g.SetCanPublishData(false)
	}
	return g
}

// TokenRequest is what one access token is minted from.
type TokenRequest struct {
	APIKey    string
	APISecret string
	Room      string
	SessionID string
	Identity  string
	Name      string
	Role      controlplane.Role
	TTL       time.Duration
}

// AccessToken returns the LiveKit access token builder for r (the claims MintToken signs).
func AccessToken(r TokenRequest) *auth.AccessToken {
	at := auth.NewAccessToken(r.APIKey, r.APISecret).
		SetIdentity(r.Identity).
		SetVideoGrant(Grant(r.Role, r.Room)).
		SetAttributes(map[string]string{AttrRole: string(r.Role), AttrSession: r.SessionID}).
		SetValidFor(r.TTL)
	if r.Name != "" {
		at.SetName(r.Name)
	}
	if r.Role == controlplane.RoleAgent {
		at.SetKind(lkproto.ParticipantInfo_AGENT)
	}
	return at
}

// MintToken signs an access token for r. Its lifetime is r.TTL, which callers bound by the
// time the session has left.
func MintToken(r TokenRequest) (string, error) {
	if r.TTL <= 0 {
		return "", fmt.Errorf("token lifetime must be positive, got %s", r.TTL)
	}
	if _, err := controlplane.ParseRole(string(r.Role)); err != nil {
		return "", err
	}
	return AccessToken(r).ToJWT()
}
