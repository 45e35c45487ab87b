package livekit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/livekit"
	"github.com/cellplane/cellplane/controlplane/localcell"
	"github.com/google/uuid"
	"github.com/livekit/protocol/auth"
	lkproto "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/twitchtv/twirp"
)

func wsURL(u string) string { return strings.Replace(u, "http://", "ws://", 1) }

// verify checks a token returned by the API with the cell's secret and returns its claims.
func verify(t *testing.T, e *env, token string) (*auth.ClaimGrants, time.Time) {
	t.Helper()
	v, err := auth.ParseAPIToken(token)
	if err != nil {
		t.Fatal(err)
	}
	reg, claims, err := v.Verify(e.Cell.APISecret)
	if err != nil {
		t.Fatalf("token does not verify with the cluster's secret: %v", err)
	}
	return claims, reg.ExpiresAt.Time
}

func TestSessionJoinMeterAndEnd(t *testing.T) {
	requireNonLoopbackInterface(t)
	e := newEnv(t)
	key := e.org("st-marys")
	s := e.createSession("st-marys", key, part{"dr-ines", "instructor"}, part{"student-17", "trainee"},
		part{"examiner", "observer"}, part{"engine", "sim-engine"}, part{"patient", "agent"})

	if s.State != "active" || !strings.HasPrefix(s.Room, "st-marys-") || s.LiveKitURL != wsURL(e.Cell.LiveKitURL()) ||
		s.Region != "local" || s.MaxDuration != 1800 || len(s.Participants) != 5 {
		t.Fatalf("created session = %+v", s)
	}
	if d := s.ExpiresAt.Sub(s.CreatedAt); d != 30*time.Minute {
		t.Errorf("expires %s after creation, want max_duration 30m", d)
	}
	for _, p := range s.Participants {
		claims, exp := verify(t, e, p.Token)
		if claims.Video.Room != s.Room || claims.Identity != p.Identity || claims.Name != "Name of "+p.Identity {
			t.Errorf("%s: token claims %+v", p.Identity, claims)
		}
		// The token lives no longer than the session may.
		if exp.After(s.ExpiresAt.Add(time.Second)) || exp.Before(s.ExpiresAt.Add(-time.Minute)) || p.TokenExpiresAt == nil {
			t.Errorf("%s: token expires %s, session at %s", p.Identity, exp, s.ExpiresAt)
		}
	}

	// The room exists on the org's LiveKit, with its limits and the agent dispatched.
	rooms, err := e.roomService().ListRooms(context.Background(), &lkproto.ListRoomsRequest{Names: []string{s.Room}})
	if err != nil || len(rooms.Rooms) != 1 {
		t.Fatalf("room %s on LiveKit: %v %v", s.Room, rooms, err)
	}
	if r := rooms.Rooms[0]; r.MaxParticipants != 100 || r.EmptyTimeout != 600 || !strings.Contains(r.Metadata, s.ID) {
		t.Errorf("room = max %d, empty timeout %d, metadata %q", r.MaxParticipants, r.EmptyTimeout, r.Metadata)
	}
	dispatches, err := lksdk.NewAgentDispatchServiceClient(e.Cell.LiveKitURL(), e.Cell.APIKey, e.Cell.APISecret).
		ListDispatch(context.Background(), &lkproto.ListAgentDispatchRequest{Room: s.Room})
	if err != nil {
		t.Fatal(err)
	}
	if d := dispatches.AgentDispatches; len(d) != 1 || d[0].AgentName != "cellplane-agent" || !strings.Contains(d[0].Metadata, `"identity":"patient"`) {
		t.Errorf("agent dispatches = %v", d)
	}

	// A trainee joins with the returned token and URL.
	disconnected := make(chan struct{})
	join(t, s.LiveKitURL, s.token(t, "student-17"), &lksdk.RoomCallback{OnDisconnected: func() { close(disconnected) }})
	waitUntil(t, 15*time.Second, "student-17 listed in the room", func() bool {
		return slices.Equal(identities(e.participants(s.Room)), []string{"student-17"})
	})
	// The webhook-driven meter sees them: an open presence, counted until now.
	waitUntil(t, 15*time.Second, "participant_joined applied", func() bool {
		return e.dbInt(`SELECT count(*) FROM participant_presence WHERE identity = 'student-17' AND left_at IS NULL`) == 1
	})
	waitUntil(t, 10*time.Second, "usage grows while the trainee is in the room", func() bool {
		u := e.usage("st-marys", key)
		return u.Sessions == 1 && u.PeakConcurrent == 1 && u.ParticipantSeconds >= 2
	})
	labels := `cluster="cell-local-local-1",org="st-marys",region="local"`
	if n, p := e.metric("cellplane_sessions_live", labels), e.metric("cellplane_session_participants_live", labels); n != 1 || p != 1 {
		t.Errorf("metrics: %v live sessions, %v participants; want 1 and 1", n, p)
	}

	// Reading back: participants without tokens; listing by state.
	var got session
	must(t, e.do("GET", "/v1/orgs/st-marys/sessions/"+s.ID, key, nil), 200).JSON(t, &got)
	if len(got.Participants) != 5 || got.Participants[0].Token != "" || got.Room != s.Room {
		t.Errorf("GET session = %+v", got)
	}
	var page struct{ Sessions []session }
	must(t, e.do("GET", "/v1/orgs/st-marys/sessions?state=active", key, nil), 200).JSON(t, &page)
	if len(page.Sessions) != 1 || page.Sessions[0].ID != s.ID {
		t.Errorf("active sessions = %+v", page.Sessions)
	}
	must(t, e.do("GET", "/v1/orgs/st-marys/sessions?state=ended", key, nil), 200).JSON(t, &page)
	if len(page.Sessions) != 0 {
		t.Errorf("ended sessions = %+v", page.Sessions)
	}

	// Ending closes the room (the trainee is disconnected) and stops the meter.
	var ended session
	must(t, e.do("POST", "/v1/orgs/st-marys/sessions/"+s.ID+"/end", key, nil), 200).JSON(t, &ended)
	if ended.State != "ended" || ended.EndedAt == nil || ended.EndReason != "ended through the API" {
		t.Fatalf("ended = %+v", ended)
	}
	if e.roomExists(s.Room) {
		t.Error("the room still exists after the session ended")
	}
	select {
	case <-disconnected:
	case <-time.After(15 * time.Second):
		t.Error("the trainee was not disconnected when the session ended")
	}
	if n := e.dbInt(`SELECT count(*) FROM participant_presence WHERE left_at IS NULL OR left_at > $1`, *ended.EndedAt); n != 0 {
		t.Errorf("%d presences still open or past the end", n)
	}
	before := e.usage("st-marys", key)
	// LiveKit's own room_finished (and the trainee's leave) arrive after the end: they
	// must not move the meter.
	waitUntil(t, 20*time.Second, "room_finished from LiveKit", func() bool {
		return e.dbInt(`SELECT count(*) FROM livekit_webhook_events WHERE event = 'room_finished' AND room = $1`, s.Room) == 1
	})
	time.Sleep(2 * time.Second)
	after := e.usage("st-marys", key)
	if after.ParticipantSeconds != before.ParticipantSeconds || before.ParticipantSeconds < 2 {
		t.Errorf("participant seconds moved after the end: %d -> %d", before.ParticipantSeconds, after.ParticipantSeconds)
	}
	if n := e.metric("cellplane_sessions_live", labels); n > 0 {
		t.Errorf("metrics: %v live sessions after the end", n)
	}
	// Ended is final: ending again changes nothing, and no more tokens.
	var again session
	must(t, e.do("POST", "/v1/orgs/st-marys/sessions/"+s.ID+"/end", key, nil), 200).JSON(t, &again)
	if !again.EndedAt.Equal(*ended.EndedAt) {
		t.Errorf("ending twice moved ended_at: %v -> %v", ended.EndedAt, again.EndedAt)
	}
	p := e.do("POST", "/v1/orgs/st-marys/sessions/"+s.ID+"/tokens", key, map[string]any{"identity": "late", "role": "trainee"}).Problem(t)
	if p.Status != 409 {
		t.Errorf("token for an ended session: %+v", p)
	}
}

func TestTokensForALiveSessionAndExpiry(t *testing.T) {
	e := newEnv(t)
	key := e.org("acme")
	s := e.createSession("acme", key, part{"t1", "trainee"})
	path := "/v1/orgs/acme/sessions/" + s.ID + "/tokens"

	var tok struct {
		Identity   string `json:"identity"`
		Role       string `json:"role"`
		Token      string `json:"token"`
		Room       string `json:"room"`
		LiveKitURL string `json:"livekit_url"`
		SessionID  string `json:"session_id"`
	}
	must(t, e.do("POST", path, key, map[string]any{"identity": "examiner", "name": "External examiner", "role": "observer"}), 201).JSON(t, &tok)
	claims, exp := verify(t, e, tok.Token)
	if tok.Room != s.Room || tok.SessionID != s.ID || tok.LiveKitURL != s.LiveKitURL || claims.Video.Room != s.Room ||
		!claims.Video.Hidden || claims.Video.GetCanPublish() || exp.After(s.ExpiresAt.Add(time.Second)) {
		t.Errorf("observer token = %+v, claims %+v, expires %s", tok, claims.Video, exp)
	}
	// The same identity again in the same role: a fresh token. In another role: refused.
	must(t, e.do("POST", path, key, map[string]any{"identity": "examiner", "role": "observer"}), 201)
	p := e.do("POST", path, key, map[string]any{"identity": "examiner", "role": "instructor"}).Problem(t)
	if p.Status != 409 || len(p.Errors) != 1 || p.Errors[0].Field != "identity" {
		t.Errorf("role change: %+v", p)
	}
	// Bad fields are named.
	p = e.do("POST", path, key, map[string]any{"identity": "x y", "role": "admin"}).Problem(t)
	if p.Status != 422 || len(p.Errors) != 2 || p.Errors[0].Field != "identity" || p.Errors[1].Field != "role" {
		t.Errorf("bad token request: %+v", p)
	}
	// A new agent is dispatched to the room.
	must(t, e.do("POST", path, key, map[string]any{"identity": "tutor-bot", "role": "agent"}), 201)
	d, err := lksdk.NewAgentDispatchServiceClient(e.Cell.LiveKitURL(), e.Cell.APIKey, e.Cell.APISecret).
		ListDispatch(context.Background(), &lkproto.ListAgentDispatchRequest{Room: s.Room})
	if err != nil {
		t.Fatal(err)
	}
	var ours []*lkproto.AgentDispatch
	for _, ad := range d.AgentDispatches {
		if ad.AgentName == "cellplane-agent" { // LiveKit adds its own unnamed default dispatch
			ours = append(ours, ad)
		}
	}
	if len(ours) != 1 || !strings.Contains(ours[0].Metadata, `"identity":"tutor-bot"`) {
		t.Errorf("dispatches after minting an agent: %v", d.AgentDispatches)
	}
	var got session
	must(t, e.do("GET", "/v1/orgs/acme/sessions/"+s.ID, key, nil), 200).JSON(t, &got)
	if len(got.Participants) != 3 {
		t.Errorf("participants = %+v", got.Participants)
	}

	// Past its max duration, the sweeper ends the session and closes its room.
	if _, err := e.App.Pool.Exec(context.Background(), `UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, s.ID); err != nil {
		t.Fatal(err)
	}
	p = e.do("POST", path, key, map[string]any{"identity": "late", "role": "trainee"}).Problem(t)
	if p.Status != 409 || !strings.Contains(p.Detail, "max_duration") {
		t.Errorf("token past max_duration: %+v", p)
	}
	n, err := e.App.Sessions.EndExpired(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("EndExpired = %d, %v", n, err)
	}
	must(t, e.do("GET", "/v1/orgs/acme/sessions/"+s.ID, key, nil), 200).JSON(t, &got)
	if got.State != "ended" || got.EndReason != "max_duration reached" || e.roomExists(s.Room) {
		t.Errorf("after expiry: %s %q, room exists %v", got.State, got.EndReason, e.roomExists(s.Room))
	}
}

// roomServiceWithToken is LiveKit's RoomService called with a participant's own token,
// as a client holding only that token would.
func removeWithToken(t *testing.T, e *env, token, room, identity string) error {
	t.Helper()
	ctx, err := twirp.WithHTTPRequestHeaders(context.Background(), http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = lkproto.NewRoomServiceProtobufClient(e.Cell.LiveKitURL(), http.DefaultClient).
		RemoveParticipant(ctx, &lkproto.RoomParticipantIdentity{Room: room, Identity: identity})
	return err
}

func TestRolesOnRealLiveKit(t *testing.T) {
	requireNonLoopbackInterface(t)
	e := newEnv(t)
	key := e.org("st-marys")
	s := e.createSession("st-marys", key, part{"i1", "instructor"}, part{"t1", "trainee"}, part{"t2", "trainee"},
		part{"o1", "observer"}, part{"e1", "sim-engine"})
	other := e.createSession("st-marys", key, part{"x1", "trainee"})

	received := map[string]chan string{"t1": make(chan string, 16), "i1": make(chan string, 16)}
	onData := func(who string) *lksdk.RoomCallback {
		return &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{OnDataPacket: func(d lksdk.DataPacket, _ lksdk.DataReceiveParams) {
			if u, ok := d.(*lksdk.UserDataPacket); ok {
				received[who] <- string(u.Payload)
			}
		}}}
	}
	t1 := join(t, s.LiveKitURL, s.token(t, "t1"), onData("t1"))
	i1 := join(t, s.LiveKitURL, s.token(t, "i1"), onData("i1"))
	join(t, s.LiveKitURL, s.token(t, "t2"), nil)
	o1 := join(t, s.LiveKitURL, s.token(t, "o1"), nil)
	e1 := join(t, s.LiveKitURL, s.token(t, "e1"), nil)
	join(t, other.LiveKitURL, other.token(t, "x1"), nil)
	waitUntil(t, 20*time.Second, "five participants in the room", func() bool { return len(e.participants(s.Room)) == 5 })
	waitUntil(t, 10*time.Second, "x1 in the other room", func() bool { return len(e.participants(other.Room)) == 1 })

	// The observer is hidden from the others.
	waitUntil(t, 10*time.Second, "t1 sees the instructor", func() bool { return t1.GetParticipantByIdentity("i1") != nil })
	if t1.GetParticipantByIdentity("o1") != nil {
		t.Error("the observer is visible to a trainee")
	}
	claims, _ := verify(t, e, s.token(t, "o1"))
	if claims.Video.GetCanPublish() || claims.Video.GetCanPublishData() || !claims.Video.Hidden || !claims.Video.GetCanSubscribe() {
		t.Errorf("observer grant %+v", claims.Video)
	}

	// Publishing: the trainee's microphone is accepted (the control); the observer's
	// microphone and the trainee's screen share are refused by the server.
	mic := func() *lksdk.LocalTrack {
		tr, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	if _, err := t1.LocalParticipant.PublishTrack(mic(), &lksdk.TrackPublicationOptions{Name: "mic", Source: lkproto.TrackSource_MICROPHONE}); err != nil {
		t.Fatalf("trainee microphone: %v", err)
	}
	errs := make(chan error, 2)
	go func() {
		_, err := o1.LocalParticipant.PublishTrack(mic(), &lksdk.TrackPublicationOptions{Name: "mic", Source: lkproto.TrackSource_MICROPHONE})
		errs <- err
	}()
	go func() {
		screen, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
		if err != nil {
			errs <- nil
			return
		}
		_, err = t1.LocalParticipant.PublishTrack(screen, &lksdk.TrackPublicationOptions{Name: "screen", Source: lkproto.TrackSource_SCREEN_SHARE, VideoWidth: 640, VideoHeight: 480})
		errs <- err
	}()
	for range 2 {
		if err := <-errs; err == nil {
			t.Error("a publish beyond the role's grant was accepted")
		}
	}
	tracks := map[string][]lkproto.TrackSource{}
	for _, p := range e.participants(s.Room) {
		for _, tr := range p.Tracks {
			tracks[p.Identity] = append(tracks[p.Identity], tr.Source)
		}
	}
	if !slices.Equal(tracks["t1"], []lkproto.TrackSource{lkproto.TrackSource_MICROPHONE}) || len(tracks["o1"]) != 0 {
		t.Errorf("published tracks = %v; want only t1's microphone", tracks)
	}

	// Data: the observer and the trainee may not send; the instructor and the sim-engine may.
	reliable := lksdk.WithDataPublishReliable(true)
	_ = o1.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("from-observer")), reliable)
	_ = t1.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("from-trainee")), reliable)
	if err := i1.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("from-instructor")), reliable); err != nil {
		t.Fatal(err)
	}
	if err := e1.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("from-engine")), reliable); err != nil {
		t.Fatal(err)
	}
	collect := func(who string, want ...string) []string {
		var got []string
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m := <-received[who]:
				got = append(got, m)
			case <-deadline:
				return got
			}
			if len(got) >= len(want) {
				// Give a refused message time to (wrongly) arrive after the allowed ones.
				time.Sleep(2 * time.Second)
				for len(received[who]) > 0 {
					got = append(got, <-received[who])
				}
				return got
			}
		}
	}
	gotT1 := collect("t1", "from-instructor", "from-engine")
	slices.Sort(gotT1)
	if !slices.Equal(gotT1, []string{"from-engine", "from-instructor"}) {
		t.Errorf("the trainee received %v; want the instructor's and the engine's messages only", gotT1)
	}
	gotI1 := collect("i1", "from-engine")
	if !slices.Equal(gotI1, []string{"from-engine"}) {
		t.Errorf("the instructor received %v; want the engine's message only", gotI1)
	}

	// Removing participants with their own tokens: a trainee or an observer cannot; the
	// instructor can, in this room only.
	if err := removeWithToken(t, e, s.token(t, "t1"), s.Room, "t2"); err == nil {
		t.Error("a trainee removed another participant")
	}
	if err := removeWithToken(t, e, s.token(t, "o1"), s.Room, "t2"); err == nil {
		t.Error("an observer removed another participant")
	}
	if err := removeWithToken(t, e, s.token(t, "i1"), other.Room, "x1"); err == nil {
		t.Error("the instructor of one room removed a participant of another")
	}
	if ids := identities(e.participants(other.Room)); !slices.Equal(ids, []string{"x1"}) {
		t.Errorf("other room = %v", ids)
	}
	if ids := identities(e.participants(s.Room)); !slices.Contains(ids, "t2") {
		t.Fatalf("t2 was removed by a refused call: %v", ids)
	}
	if err := removeWithToken(t, e, s.token(t, "i1"), s.Room, "t2"); err != nil {
		t.Errorf("the instructor could not remove a trainee of their own room: %v", err)
	}
	waitUntil(t, 10*time.Second, "t2 removed", func() bool { return !slices.Contains(identities(e.participants(s.Room)), "t2") })
}

// tamper returns token with its room claim replaced: the signature no longer matches.
func tamper(t *testing.T, token, from, to string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.ReplaceAll(payload, []byte(from), []byte(to))
	if bytes.Equal(changed, payload) {
		t.Fatal("nothing to tamper with")
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(changed)
	return strings.Join(parts, ".")
}

func TestTokenForOneRoomDoesNotJoinAnother(t *testing.T) {
	requireNonLoopbackInterface(t)
	e := newEnv(t)
	key := e.org("acme")
	x := e.createSession("acme", key, part{"t1", "trainee"})
	y := e.createSession("acme", key, part{"t1", "trainee"})

	// X's token lands in X, whatever the client wants.
	join(t, x.LiveKitURL, x.token(t, "t1"), nil)
	waitUntil(t, 15*time.Second, "t1 in room X", func() bool { return len(e.participants(x.Room)) == 1 })
	if ids := identities(e.participants(y.Room)); len(ids) != 0 {
		t.Errorf("room Y has %v", ids)
	}
	// X's token rewritten to name Y is refused by LiveKit (and by the verifier).
	forged := tamper(t, x.token(t, "t1"), x.Room, y.Room)
	if r, err := lksdk.ConnectToRoomWithToken(y.LiveKitURL, forged, &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false)); err == nil {
		r.Disconnect()
		t.Error("a token for room X rewritten to room Y joined")
	}
	if v, err := auth.ParseAPIToken(forged); err == nil {
		if _, _, err := v.Verify(e.Cell.APISecret); err == nil {
			t.Error("the rewritten token verifies")
		}
	}
	if ids := identities(e.participants(y.Room)); len(ids) != 0 {
		t.Errorf("room Y has %v after the forged join", ids)
	}
}

// notFoundAlike checks that an answer about another org's thing is byte for byte the
// answer about a missing one (after swapping the names).
func notFoundAlike(t *testing.T, what string, other, ghost response, swap ...string) {
	t.Helper()
	body := other.Body
	for i := 0; i+1 < len(swap); i += 2 {
		body = bytes.ReplaceAll(body, []byte(swap[i]), []byte(swap[i+1]))
	}
	if other.Status != 404 || ghost.Status != 404 || !bytes.Equal(body, ghost.Body) {
		t.Errorf("%s: %d %s\nvs missing: %d %s", what, other.Status, other.Body, ghost.Status, ghost.Body)
	}
	for _, h := range []string{"Content-Type", "Content-Length", "Cache-Control"} {
		if other.Header.Get(h) != ghost.Header.Get(h) {
			t.Errorf("%s: header %s differs: %q vs %q", what, h, other.Header.Get(h), ghost.Header.Get(h))
		}
	}
}

func TestOrgKeysCannotReachAnotherOrgsSessions(t *testing.T) {
	e := newEnv(t)
	alphaKey := e.org("alpha")
	betaKey := e.org("beta")
	sb := e.createSession("beta", betaKey, part{"b1", "trainee"})
	sa := e.createSession("alpha", alphaKey, part{"a1", "trainee"})

	create := map[string]any{"scenario": "s", "participants": []map[string]any{{"identity": "spy", "role": "observer"}}}
	mint := map[string]any{"identity": "spy", "role": "observer"}
	for _, rt := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/orgs/{slug}/sessions", create},
		{"GET", "/v1/orgs/{slug}/sessions", nil},
		{"GET", "/v1/orgs/{slug}/sessions/" + sb.ID, nil},
		{"POST", "/v1/orgs/{slug}/sessions/" + sb.ID + "/tokens", mint},
		{"POST", "/v1/orgs/{slug}/sessions/" + sb.ID + "/end", nil},
		{"GET", "/v1/orgs/{slug}/usage", nil},
	} {
		other := e.do(rt.method, strings.ReplaceAll(rt.path, "{slug}", "beta"), alphaKey, rt.body)
		ghost := e.do(rt.method, strings.ReplaceAll(rt.path, "{slug}", "zeta"), alphaKey, rt.body)
		notFoundAlike(t, rt.method+" "+rt.path+" with another org's key", other, ghost, "beta", "zeta")
	}
	// Beta's session id under alpha's own slug reads exactly as an id that does not exist.
	missing := uuid.NewString()
	for _, rt := range []struct {
		method, suffix string
		body           any
	}{{"GET", "", nil}, {"POST", "/tokens", mint}, {"POST", "/end", nil}} {
		other := e.do(rt.method, "/v1/orgs/alpha/sessions/"+sb.ID+rt.suffix, alphaKey, rt.body)
		ghost := e.do(rt.method, "/v1/orgs/alpha/sessions/"+missing+rt.suffix, alphaKey, rt.body)
		notFoundAlike(t, rt.method+" beta's session under alpha", other, ghost, sb.ID, missing)
		// Not even the admin reaches beta's session through alpha's path.
		admin := e.do(rt.method, "/v1/orgs/alpha/sessions/"+sb.ID+rt.suffix, adminKey, rt.body)
		if admin.Status != 404 {
			t.Errorf("admin, beta's session under alpha: %d", admin.Status)
		}
	}
	// Nothing changed for beta.
	var got session
	must(t, e.do("GET", "/v1/orgs/beta/sessions/"+sb.ID, betaKey, nil), 200).JSON(t, &got)
	if got.State != "active" || len(got.Participants) != 1 || !e.roomExists(sb.Room) {
		t.Errorf("beta's session after the attempts: %+v", got)
	}
	var page struct{ Sessions []session }
	must(t, e.do("GET", "/v1/orgs/alpha/sessions", alphaKey, nil), 200).JSON(t, &page)
	if len(page.Sessions) != 1 || page.Sessions[0].ID != sa.ID {
		t.Errorf("alpha lists %+v", page.Sessions)
	}
	if n := e.dbInt(`SELECT count(*) FROM sessions s JOIN orgs o ON o.id = s.org_id WHERE o.slug = 'beta'`); n != 1 {
		t.Errorf("beta has %d sessions", n)
	}
	// The all-orgs usage is the admin's only.
	if p := e.do("GET", "/v1/usage", alphaKey, nil).Problem(t); p.Status != 403 {
		t.Errorf("org key on /v1/usage: %+v", p)
	}
}

// deadURL is a LiveKit URL on a loopback port nobody listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestSessionGoesOnlyToTheOrgsOwnClusterAndNothingIsHalfWritten(t *testing.T) {
	e := newEnv(t)
	localKey := e.org("alpha")
	// Another region's cell whose LiveKit does not answer.
	dead := deadURL(t)
	must(t, e.do("POST", "/v1/clusters", adminKey, map[string]any{
		"name": "cell-aws-eu-central-1-1", "cloud": "aws", "region": "eu-central-1", "kind": "shared",
		"livekit_url": dead, "livekit_api_key": "APIfrankfurt", "livekit_api_secret": strings.Repeat("f", 40), "capacity": 10,
	}), 201)
	awsKey := e.orgIn("gamma", "aws", "eu-central-1")

	// The org in Frankfurt gets its own (down) LiveKit, never the local one: 503, and no
	// session, participant or room is left behind.
	p := e.do("POST", "/v1/orgs/gamma/sessions", awsKey, map[string]any{"scenario": "s",
		"participants": []map[string]any{{"identity": "t1", "role": "trainee"}, {"identity": "bot", "role": "agent"}}}).Problem(t)
	if p.Status != 503 || !strings.Contains(p.Detail, "room") {
		t.Errorf("session on a LiveKit that is down: %+v", p)
	}
	if n := e.dbInt(`SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM session_participants)`); n != 0 {
		t.Errorf("%d rows left by the failed create", n)
	}
	var page struct{ Sessions []session }
	must(t, e.do("GET", "/v1/orgs/gamma/sessions", awsKey, nil), 200).JSON(t, &page)
	if len(page.Sessions) != 0 {
		t.Errorf("gamma lists %+v", page.Sessions)
	}
	rooms, err := e.roomService().ListRooms(context.Background(), &lkproto.ListRoomsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms.Rooms {
		if strings.HasPrefix(r.Name, "gamma-") {
			t.Errorf("a room of the Frankfurt org was created on the local cell: %s", r.Name)
		}
	}
	// The local org's session goes to the local cell.
	s := e.createSession("alpha", localKey, part{"t1", "trainee"})
	if s.LiveKitURL != wsURL(e.Cell.LiveKitURL()) || !e.roomExists(s.Room) {
		t.Errorf("local session on %s", s.LiveKitURL)
	}
	// A session's route follows the router table: the org's route names the same URL.
	var route struct {
		LiveKitURL string `json:"livekit_url"`
	}
	must(t, e.do("GET", "/v1/route/alpha", "", nil), 200).JSON(t, &route)
	if wsURL(route.LiveKitURL) != s.LiveKitURL {
		t.Errorf("route %s, session %s", route.LiveKitURL, s.LiveKitURL)
	}
}

func TestSessionRequestValidation(t *testing.T) {
	e := newEnv(t)
	key := e.org("acme")
	path := "/v1/orgs/acme/sessions"
	ok := map[string]any{"identity": "t1", "role": "trainee"}
	for _, c := range []struct {
		name   string
		body   any
		status int
		fields []string
	}{
		{"everything missing", map[string]any{}, 422, []string{"scenario", "participants"}},
		{"bad scenario", map[string]any{"scenario": "a b", "participants": []any{ok}}, 422, []string{"scenario"}},
		{"bad identity and role", map[string]any{"scenario": "s", "participants": []any{ok, map[string]any{"identity": "-x", "role": "boss"}}}, 422,
			[]string{"participants[1].identity", "participants[1].role"}},
		{"duplicate identity", map[string]any{"scenario": "s", "participants": []any{ok, ok}}, 422, []string{"participants[1].identity"}},
		{"max_duration too long", map[string]any{"scenario": "s", "participants": []any{ok}, "max_duration": 50000}, 422, []string{"max_duration"}},
		{"max_duration too short", map[string]any{"scenario": "s", "participants": []any{ok}, "max_duration": 10}, 422, []string{"max_duration"}},
		{"max_duration as text", map[string]any{"scenario": "s", "participants": []any{ok}, "max_duration": "1h"}, 400, []string{"max_duration"}},
		{"participants not a list", map[string]any{"scenario": "s", "participants": "t1"}, 400, []string{"participants"}},
		{"unknown field", map[string]any{"scenario": "s", "participants": []any{ok}, "room": "mine"}, 400, []string{"room"}},
	} {
		p := e.do("POST", path, key, c.body).Problem(t)
		var fields []string
		for _, f := range p.Errors {
			fields = append(fields, f.Field)
		}
		if p.Status != c.status || !slices.Equal(fields, c.fields) {
			t.Errorf("%s: %d %v (%s), want %d %v", c.name, p.Status, fields, p.Detail, c.status, c.fields)
		}
	}
	many := make([]any, 101)
	for i := range many {
		many[i] = map[string]any{"identity": "p" + strconv.Itoa(i), "role": "trainee"}
	}
	if p := e.do("POST", path, key, map[string]any{"scenario": "s", "participants": many}).Problem(t); p.Status != 422 || p.Errors[0].Field != "participants" {
		t.Errorf("101 participants: %+v", p)
	}
	if p := e.do("POST", path, key, "scenario=s", "Content-Type", "text/plain").Problem(t); p.Status != 415 {
		t.Errorf("text body: %+v", p)
	}
	if p := e.do("GET", path+"?state=gone&limit=0&from=yesterday", key, nil).Problem(t); p.Status != 422 || len(p.Errors) != 2 {
		t.Errorf("bad list query: %+v", p)
	}
	if p := e.do("GET", "/v1/orgs/acme/usage?from=2026-11-10&to=2026-11-01", key, nil).Problem(t); p.Status != 422 || p.Errors[0].Field != "to" {
		t.Errorf("bad usage period: %+v", p)
	}
	if p := e.do("GET", "/v1/usage?format=xml", adminKey, nil).Problem(t); p.Status != 422 || p.Errors[0].Field != "format" {
		t.Errorf("bad usage format: %+v", p)
	}
	if p := e.do("GET", "/v1/orgs/acme/sessions/not-a-uuid", key, nil).Problem(t); p.Status != 404 {
		t.Errorf("malformed id: %+v", p)
	}
	if n := e.dbInt(`SELECT count(*) FROM sessions`); n != 0 {
		t.Errorf("%d sessions after refused requests", n)
	}
	// Only a ready org starts sessions: not one still being onboarded, nor one being torn down.
	provKey := e.provisioningOrg("fresh", "local", "local")
	if p := e.do("POST", "/v1/orgs/fresh/sessions", provKey, map[string]any{"scenario": "s", "participants": []any{ok}}).Problem(t); p.Status != 409 || !strings.Contains(p.Detail, "not ready") {
		t.Errorf("session of an org being onboarded: %+v", p)
	}
	if r := e.do("DELETE", "/v1/orgs/acme", adminKey, nil); r.Status != 202 && r.Status != 200 {
		t.Fatalf("delete org: %d %s", r.Status, r.Body)
	}
	if p := e.do("POST", path, key, map[string]any{"scenario": "s", "participants": []any{ok}}).Problem(t); p.Status != 409 {
		t.Errorf("session of a deleting org: %+v", p)
	}
}

func TestSessionListPagination(t *testing.T) {
	e := newEnv(t)
	key := e.org("acme")
	var ids []string
	for range 5 {
		ids = append(ids, e.createSession("acme", key, part{"t1", "trainee"}).ID)
	}
	slices.Reverse(ids) // newest first
	var seen []string
	cursor := ""
	for {
		var page struct {
			Sessions   []session `json:"sessions"`
			NextCursor string    `json:"next_cursor"`
		}
		must(t, e.do("GET", "/v1/orgs/acme/sessions?limit=2&cursor="+cursor, key, nil), 200).JSON(t, &page)
		for _, s := range page.Sessions {
			seen = append(seen, s.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if !slices.Equal(seen, ids) {
		t.Errorf("pages = %v, want %v", seen, ids)
	}
	var page struct{ Sessions []session }
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	must(t, e.do("GET", "/v1/orgs/acme/sessions?from="+future, key, nil), 200).JSON(t, &page)
	if len(page.Sessions) != 0 {
		t.Errorf("sessions created in the future: %d", len(page.Sessions))
	}
	for _, id := range ids {
		must(t, e.do("POST", "/v1/orgs/acme/sessions/"+id+"/end", key, nil), 200)
	}
}

func joinedEvent(id, room, sid, identity string, joined, at int64) *lkproto.WebhookEvent {
	return &lkproto.WebhookEvent{Id: id, Event: "participant_joined", CreatedAt: at, Room: &lkproto.Room{Name: room},
		Participant: &lkproto.ParticipantInfo{Sid: sid, Identity: identity, JoinedAt: joined}}
}

func leftEvent(id, room, sid, identity string, joined, at int64) *lkproto.WebhookEvent {
	ev := joinedEvent(id, room, sid, identity, joined, at)
	ev.Event = "participant_left"
	return ev
}

func TestWebhooksAreVerifiedAndAppliedOnce(t *testing.T) {
	e := newEnv(t)
	key := e.org("acme")
	s := e.createSession("acme", key, part{"t1", "trainee"})
	k, secret := e.Cell.APIKey, e.Cell.APISecret
	now := time.Now().Unix()
	joined := joinedEvent("EV_test_join", s.Room, "PA_test1", "t1", now-60, now-60)

	rejected := func(what string, r response) {
		t.Helper()
		if p := r.Problem(t); p.Status != 401 {
			t.Errorf("%s: %d %s", what, r.Status, r.Body)
		}
	}
	rejected("signed with another secret", e.webhook(k, strings.Repeat("z", 48), joined))
	rejected("an unknown key", e.webhook("APInobody", secret, joined))
	body, authz := signWebhook(t, k, secret, joined)
	rejected("no signature", e.do("POST", "/v1/livekit/webhook", "", body))
	rejected("not a token", e.do("POST", "/v1/livekit/webhook", "", body, "Authorization", "Bearer "+key))
	tampered := bytes.Replace(body, []byte(`"t1"`), []byte(`"t9"`), 1)
	rejected("a tampered body", e.do("POST", "/v1/livekit/webhook", "", tampered, "Authorization", authz))
	old, expired := signWebhookFor(t, k, secret, joined, -10*time.Minute)
	rejected("an expired token", e.do("POST", "/v1/livekit/webhook", "", old, "Authorization", expired))
	if n := e.dbInt(`SELECT count(*) FROM participant_presence`) + e.dbInt(`SELECT count(*) FROM livekit_webhook_events WHERE id LIKE 'EV_test%'`); n != 0 {
		t.Fatalf("rejected webhooks left %d rows", n)
	}

	var res struct{ Outcome string }
	must(t, e.do("POST", "/v1/livekit/webhook", "", body, "Authorization", authz), 200).JSON(t, &res)
	if res.Outcome != "applied" {
		t.Errorf("first delivery: %s", res.Outcome)
	}
	// The very same request replayed is counted once.
	for range 3 {
		must(t, e.do("POST", "/v1/livekit/webhook", "", body, "Authorization", authz), 200).JSON(t, &res)
		if res.Outcome != "duplicate" {
			t.Errorf("replay: %s", res.Outcome)
		}
	}
	left := leftEvent("EV_test_left", s.Room, "PA_test1", "t1", now-60, now)
	for i, want := range []string{"applied", "duplicate"} {
		must(t, e.webhook(k, secret, left), 200).JSON(t, &res)
		if res.Outcome != want {
			t.Errorf("left delivery %d: %s", i, res.Outcome)
		}
	}
	if u := e.usage("acme", key); u.ParticipantSeconds != 60 || u.PeakConcurrent != 1 {
		t.Errorf("usage after a replayed join: %ds, peak %d; want 60s, peak 1", u.ParticipantSeconds, u.PeakConcurrent)
	}
	if n := e.dbInt(`SELECT count(*) FROM livekit_webhook_events WHERE id LIKE 'EV_test%'`); n != 2 {
		t.Errorf("%d events recorded, want 2", n)
	}

	// A room that is no session of this cluster: verified, ignored.
	must(t, e.webhook(k, secret, joinedEvent("EV_test_other", "acme-notaroom", "PA_x", "x", now, now)), 200).JSON(t, &res)
	if res.Outcome != "ignored" {
		t.Errorf("unknown room: %s", res.Outcome)
	}
	// Another cluster's key cannot move this cluster's meter, even naming its room.
	otherSecret := strings.Repeat("o", 40)
	must(t, e.do("POST", "/v1/clusters", adminKey, map[string]any{"name": "cell-aws-eu-west-1-1", "cloud": "aws", "region": "eu-west-1",
		"kind": "shared", "livekit_url": deadURL(t), "livekit_api_key": "APIother", "livekit_api_secret": otherSecret, "capacity": 5}), 201)
	must(t, e.webhook("APIother", otherSecret, joinedEvent("EV_test_cross", s.Room, "PA_cross", "intruder", now, now)), 200).JSON(t, &res)
	if res.Outcome != "ignored" || e.dbInt(`SELECT count(*) FROM participant_presence WHERE identity = 'intruder'`) != 0 {
		t.Errorf("another cluster's event for this room: %s", res.Outcome)
	}
	must(t, e.do("POST", "/v1/orgs/acme/sessions/"+s.ID+"/end", key, nil), 200)
}

// TestScriptedTimeline drives the webhook handler with signed events at chosen times, out
// of order and repeated, and checks participant-minutes and the peak against arithmetic.
func TestScriptedTimeline(t *testing.T) {
	e := newEnv(t)
	key := e.org("acme")
	e.org("quiet")
	s := e.createSession("acme", key, part{"p1", "trainee"}, part{"p2", "trainee"}, part{"p3", "instructor"})
	k, secret := e.Cell.APIKey, e.Cell.APISecret
	base := s.CreatedAt.Unix() + 5
	ev := 0
	send := func(w *lkproto.WebhookEvent, want string) {
		t.Helper()
		ev++
		var res struct{ Outcome string }
		must(t, e.webhook(k, secret, w), 200).JSON(t, &res)
		if res.Outcome != want {
			t.Errorf("event %d (%s %s): %s, want %s", ev, w.Event, w.Id, res.Outcome, want)
		}
	}
	room := s.Room
	// p1: 0-600; p2: 120-420 (its leave arrives first); p3: 300-900 (join delivered
	// twice); p1 again (new connection) from 1000 until the room is finished at 1500;
	// p2 joins at 1600, after the end: not metered.
	send(joinedEvent("E1", room, "PA_1", "p1", base, base), "applied")
	send(leftEvent("E3", room, "PA_2", "p2", base+120, base+420), "applied")
	send(joinedEvent("E2", room, "PA_2", "p2", base+120, base+120), "applied")
	send(joinedEvent("E4", room, "PA_3", "p3", base+300, base+300), "applied")
	send(joinedEvent("E4", room, "PA_3", "p3", base+300, base+300), "duplicate")
	send(leftEvent("E5", room, "PA_1", "p1", base, base+600), "applied")
	send(leftEvent("E6", room, "PA_3", "p3", base+300, base+900), "applied")
	send(joinedEvent("E7", room, "PA_4", "p1", base+1000, base+1000), "applied")
	send(&lkproto.WebhookEvent{Id: "E8", Event: "room_finished", CreatedAt: base + 1500, Room: &lkproto.Room{Name: room}}, "applied")
	send(joinedEvent("E9", room, "PA_5", "p2", base+1600, base+1600), "applied")
	send(leftEvent("E10", room, "PA_4", "p1", base+1000, base+1700), "applied")
	send(&lkproto.WebhookEvent{Id: "E8", Event: "room_finished", CreatedAt: base + 1500, Room: &lkproto.Room{Name: room}}, "duplicate")
	send(&lkproto.WebhookEvent{Id: "E11", Event: "track_published", CreatedAt: base + 50, Room: &lkproto.Room{Name: room}}, "ignored")

	const wantSeconds = 600 + 300 + 600 + 500
	u := e.usage("acme", key)
	if u.ParticipantSeconds != wantSeconds || u.ParticipantMinutes != 33.33 || u.PeakConcurrent != 3 || u.Sessions != 1 {
		t.Errorf("usage = %ds (%.2f min), peak %d, %d sessions; want %ds (33.33 min), peak 3, 1 session",
			u.ParticipantSeconds, u.ParticipantMinutes, u.PeakConcurrent, u.Sessions, wantSeconds)
	}
	var daySum int64
	for _, d := range u.Days {
		daySum += d.ParticipantSeconds
	}
	if daySum != wantSeconds || len(u.Days) != 3 {
		t.Errorf("days = %+v", u.Days)
	}
	var got session
	must(t, e.do("GET", "/v1/orgs/acme/sessions/"+s.ID, key, nil), 200).JSON(t, &got)
	if got.State != "ended" || got.EndedAt == nil || got.EndedAt.Unix() != base+1500 || got.EndReason != "the room was closed by LiveKit" {
		t.Errorf("session after room_finished: %s at %v (%q)", got.State, got.EndedAt, got.EndReason)
	}

	// The admin export: the same numbers, as JSON and as CSV.
	now := time.Now().UTC()
	period := "from=" + now.AddDate(0, 0, -1).Format("2006-01-02") + "&to=" + now.AddDate(0, 0, 2).Format("2006-01-02")
	var all struct {
		Orgs []usage `json:"orgs"`
	}
	must(t, e.do("GET", "/v1/usage?"+period, adminKey, nil), 200).JSON(t, &all)
	if len(all.Orgs) != 2 || all.Orgs[0].Org != "acme" || all.Orgs[0].ParticipantSeconds != wantSeconds || all.Orgs[1].Org != "quiet" || all.Orgs[1].ParticipantSeconds != 0 {
		t.Errorf("all usage = %+v", all.Orgs)
	}
	r := must(t, e.do("GET", "/v1/usage?"+period, adminKey, nil, "Accept", "text/csv"), 200)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("CSV content type %q", ct)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], []string{"org", "date", "sessions", "participant_seconds", "participant_minutes", "peak_concurrent_participants"}) {
		t.Errorf("CSV header %v", rows[0])
	}
	var totals [][]string
	for _, row := range rows[1:] {
		if row[1] == "total" {
			totals = append(totals, row)
		}
	}
	if len(totals) != 2 || !slices.Equal(totals[0], []string{"acme", "total", "1", "2000", "33.33", "3"}) ||
		!slices.Equal(totals[1], []string{"quiet", "total", "0", "0", "0.00", "0"}) {
		t.Errorf("CSV totals %v", totals)
	}
	_, _ = e.roomService().DeleteRoom(context.Background(), &lkproto.DeleteRoomRequest{Room: room})
}

// TestSIGTERMOnTheHostingNode drains the LiveKit node hosting a live session: the session
// goes on, the next session lands on the other node, and the meter stays exact.
func TestSIGTERMOnTheHostingNode(t *testing.T) {
	requireNonLoopbackInterface(t)
	e := newEnv(t)
	key := e.org("acme")
	before := map[string]int{}
	for _, n := range e.Cell.LiveKit {
		before[n.Name] = roomsHosted(t, n)
	}
	s1 := e.createSession("acme", key, part{"t1", "trainee"})
	var host, other localcell.LiveKitNode
	waitUntil(t, 10*time.Second, "the first session's room hosted on a node", func() bool {
		for i, n := range e.Cell.LiveKit {
			if roomsHosted(t, n) > before[n.Name] {
				host, other = n, e.Cell.LiveKit[1-i]
				return true
			}
		}
		return false
	})
	r1 := join(t, s1.LiveKitURL, s1.token(t, "t1"), nil)
	waitUntil(t, 15*time.Second, "t1 metered", func() bool {
		return e.dbInt(`SELECT count(*) FROM participant_presence WHERE identity = 't1' AND left_at IS NULL`) == 1
	})
	joinedAt := e.participants(s1.Room)[0].JoinedAt

	proc := e.Cell.Process(host.Name)
	t.Cleanup(func() {
		// Whatever happened, leave two nodes for the tests that follow.
		if p := e.Cell.Process(host.Name); !p.Running() {
			if err := e.Cell.RestartLiveKit(context.Background(), host.Name); err != nil {
				t.Errorf("restart %s: %v", host.Name, err)
			}
		}
	})
	t.Logf("session 1 is hosted on %s; sending it SIGTERM", host.Name)
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if !proc.Running() {
		t.Fatalf("%s exited while its session was live", host.Name)
	}
	// The session goes on.
	if ids := identities(e.participants(s1.Room)); !slices.Equal(ids, []string{"t1"}) {
		t.Fatalf("session 1 participants while %s drains: %v", host.Name, ids)
	}
	// The next session lands on the other node and is joined there.
	otherBefore := roomsHosted(t, other)
	s2 := e.createSession("acme", key, part{"t2", "trainee"})
	waitUntil(t, 10*time.Second, "session 2 hosted on "+other.Name, func() bool { return roomsHosted(t, other) == otherBefore+1 })
	join(t, s2.LiveKitURL, s2.token(t, "t2"), nil)
	waitUntil(t, 15*time.Second, "t2 metered", func() bool {
		return e.dbInt(`SELECT count(*) FROM participant_presence WHERE identity = 't2' AND left_at IS NULL`) == 1
	})
	if n := e.metric("cellplane_sessions_live", `cluster="cell-local-local-1",org="acme",region="local"`); n != 2 {
		t.Errorf("live sessions = %v, want 2", n)
	}

	// t1 leaves; its leave comes from the draining node and closes its stay.
	time.Sleep(1500 * time.Millisecond)
	r1.Disconnect()
	leftAt := time.Now().Unix()
	waitUntil(t, 20*time.Second, "t1's leave metered", func() bool {
		return e.dbInt(`SELECT count(*) FROM participant_presence WHERE identity = 't1' AND left_at IS NOT NULL`) == 1
	})
	must(t, e.do("POST", "/v1/orgs/acme/sessions/"+s1.ID+"/end", key, nil), 200)
	select {
	case <-proc.Exited():
	case <-time.After(60 * time.Second):
		t.Fatalf("%s still running 60s after its last room closed", host.Name)
	}
	t.Logf("%s drained and exited once session 1 ended; restarting it", host.Name)
	if err := e.Cell.RestartLiveKit(context.Background(), host.Name); err != nil {
		t.Fatalf("restart %s: %v", host.Name, err)
	}
	// Session 2 never noticed.
	if ids := identities(e.participants(s2.Room)); !slices.Equal(ids, []string{"t2"}) {
		t.Errorf("session 2 participants after the drain: %v", ids)
	}
	var ended session
	must(t, e.do("POST", "/v1/orgs/acme/sessions/"+s2.ID+"/end", key, nil), 200).JSON(t, &ended)

	// Exact: one stay per participant; t1's matches LiveKit's join time and the leave.
	if n := e.dbInt(`SELECT count(*) FROM participant_presence`); n != 2 {
		t.Errorf("%d presences, want 2", n)
	}
	var j1, l1 time.Time
	if err := e.App.Pool.QueryRow(context.Background(), `SELECT joined_at, left_at FROM participant_presence WHERE identity = 't1'`).Scan(&j1, &l1); err != nil {
		t.Fatal(err)
	}
	if j1.Unix() != joinedAt || l1.Unix() < leftAt-1 || l1.Unix() > leftAt+2 {
		t.Errorf("t1 metered %d-%d; LiveKit says joined %d, left about %d", j1.Unix(), l1.Unix(), joinedAt, leftAt)
	}
	var t2 int64
	if err := e.App.Pool.QueryRow(context.Background(), `SELECT floor(extract(epoch FROM left_at - joined_at))::bigint FROM participant_presence WHERE identity = 't2'`).Scan(&t2); err != nil {
		t.Fatal(err)
	}
	if u := e.usage("acme", key); u.ParticipantSeconds != int64(l1.Sub(j1)/time.Second)+t2 || u.Sessions != 2 {
		t.Errorf("usage %ds over %d sessions; the stays sum to %ds", u.ParticipantSeconds, u.Sessions, int64(l1.Sub(j1)/time.Second)+t2)
	}
}

// TestJoin is what `cellplane join` does with a session's URL and token.
func TestJoin(t *testing.T) {
	requireNonLoopbackInterface(t)
	e := newEnv(t)
	key := e.org("acme")
	s := e.createSession("acme", key, part{"t1", "trainee"}, part{"i1", "instructor"})
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- livekit.Join(ctx, s.LiveKitURL, s.token(t, "t1"), &out) }()
	waitUntil(t, 15*time.Second, "t1 joined through Join", func() bool { return slices.Equal(identities(e.participants(s.Room)), []string{"t1"}) })
	join(t, s.LiveKitURL, s.token(t, "i1"), nil)
	waitUntil(t, 15*time.Second, "Join reports the instructor", func() bool { return strings.Contains(out.String(), "+ i1 joined (instructor)") })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "joined room "+s.Room+" as t1 (trainee)\n") || !strings.Contains(got, "left room "+s.Room) {
		t.Errorf("Join printed:\n%s", got)
	}
	waitUntil(t, 15*time.Second, "t1 gone", func() bool { return !slices.Contains(identities(e.participants(s.Room)), "t1") })
	// A token that does not verify is refused.
	if err := livekit.Join(context.Background(), s.LiveKitURL, tamper(t, s.token(t, "t1"), "t1", "t7"), &out); err == nil {
		t.Error("Join with a tampered token succeeded")
	}
	must(t, e.do("POST", "/v1/orgs/acme/sessions/"+s.ID+"/end", key, nil), 200)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
