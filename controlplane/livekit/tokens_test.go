package livekit_test

import (
	"slices"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/livekit"
	"github.com/livekit/protocol/auth"
	lkproto "github.com/livekit/protocol/livekit"
)

const (
	unitKey    = "APIunit"
	unitSecret = "unit-secret-0123456789abcdef0123456789abcdef"
)

// decode verifies a minted token with the secret and returns its claims.
func decode(t *testing.T, token string) *auth.ClaimGrants {
	t.Helper()
	v, err := auth.ParseAPIToken(token)
	if err != nil {
		t.Fatal(err)
	}
	if v.APIKey() != unitKey {
		t.Fatalf("issuer %q", v.APIKey())
	}
	reg, claims, err := v.Verify(unitSecret)
	if err != nil {
		t.Fatal(err)
	}
	if ttl := time.Until(reg.ExpiresAt.Time); ttl > 20*time.Minute || ttl < 19*time.Minute {
		t.Errorf("token lifetime %s, want the 20m asked for", ttl)
	}
	return claims
}

func TestGrantsAreLeastPrivilegePerRole(t *testing.T) {
	room := "st-marys-abcdefghijklmnopqrstuvwx"
	type want struct {
		publish, subscribe, data, admin, hidden bool
		sources                                 []lkproto.TrackSource
		kind                                    lkproto.ParticipantInfo_Kind
	}
	media := []lkproto.TrackSource{lkproto.TrackSource_CAMERA, lkproto.TrackSource_MICROPHONE}
	cases := map[controlplane.Role]want{
		controlplane.RoleTrainee:    {publish: true, subscribe: true, sources: media},
		controlplane.RoleInstructor: {publish: true, subscribe: true, data: true, admin: true, sources: media},
		controlplane.RoleObserver:   {subscribe: true, hidden: true},
		controlplane.RoleSimEngine:  {subscribe: true, data: true},
		controlplane.RoleAgent:      {subscribe: true, data: true, kind: lkproto.ParticipantInfo_AGENT},
	}
	for role, w := range cases {
		tok, err := livekit.MintToken(livekit.TokenRequest{APIKey: unitKey, APISecret: unitSecret, Room: room, SessionID: "s-1",
			Identity: "id-" + string(role), Name: "N", Role: role, TTL: 20 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		c := decode(t, tok)
		g := c.Video
		if c.Identity != "id-"+string(role) || c.Name != "N" || c.Attributes[livekit.AttrRole] != string(role) || c.Attributes[livekit.AttrSession] != "s-1" {
			t.Errorf("%s: identity/name/attributes = %q %q %v", role, c.Identity, c.Name, c.Attributes)
		}
		if !g.RoomJoin || g.Room != room {
			t.Errorf("%s: join=%v room=%q", role, g.RoomJoin, g.Room)
		}
		// Every permission must be explicit: LiveKit grants all of them when none is set.
		if g.CanPublish == nil || g.CanSubscribe == nil || g.CanPublishData == nil || g.CanUpdateOwnMetadata == nil {
			t.Errorf("%s: a permission is left implicit: %+v", role, g)
		}
		if g.GetCanPublish() != w.publish || g.GetCanSubscribe() != w.subscribe || g.GetCanPublishData() != w.data ||
			g.RoomAdmin != w.admin || g.Hidden != w.hidden || g.GetCanUpdateOwnMetadata() {
			t.Errorf("%s: grant %+v, want %+v", role, g, w)
		}
		if got := g.GetCanPublishSources(); !slices.Equal(got, w.sources) {
			t.Errorf("%s: publish sources %v, want %v", role, got, w.sources)
		}
		for _, src := range []lkproto.TrackSource{lkproto.TrackSource_SCREEN_SHARE, lkproto.TrackSource_SCREEN_SHARE_AUDIO} {
			if g.GetCanPublishSource(src) {
				t.Errorf("%s may publish %s", role, src)
			}
		}
		if g.RoomCreate || g.RoomList || g.RoomRecord || g.IngressAdmin || g.Agent || g.Recorder || g.DestinationRoom != "" {
			t.Errorf("%s: grant beyond its room: %+v", role, g)
		}
		if c.GetParticipantKind() != w.kind {
			t.Errorf("%s: kind %v, want %v", role, c.GetParticipantKind(), w.kind)
		}
	}
}

func TestMintTokenRefusesBadInput(t *testing.T) {
	base := livekit.TokenRequest{APIKey: unitKey, APISecret: unitSecret, Room: "r", Identity: "i", Role: controlplane.RoleTrainee, TTL: time.Minute}
	bad := base
	bad.TTL = 0
	if _, err := livekit.MintToken(bad); err == nil {
		t.Error("a token without a lifetime was minted")
	}
	bad = base
	bad.Role = "admin"
	if _, err := livekit.MintToken(bad); err == nil {
		t.Error("a token for an unknown role was minted")
	}
	if g := livekit.Grant("admin", "r"); g.RoomJoin || g.GetCanPublish() || g.GetCanSubscribe() || g.GetCanPublishData() {
		t.Errorf("unknown role grant %+v", g)
	}
}

func TestRoomNamesCarryTheOrgAndAreUnguessable(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n := livekit.RoomName("st-marys")
		if len(n) != len("st-marys-")+24 || n[:9] != "st-marys-" || seen[n] {
			t.Fatalf("room name %q (or a repeat)", n)
		}
		seen[n] = true
	}
}
