package livekit_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/apitest"
	"github.com/cellplane/cellplane/controlplane/app"
	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/controlplane/localcell"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	lkproto "github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"google.golang.org/protobuf/encoding/protojson"
)

// The cell's LiveKit nodes are started once per test binary with a fixed webhook URL: a
// loopback proxy started here, before the cell, that forwards to whichever control plane
// the running test started.
var hookTarget atomic.Pointer[url.URL]

func TestMain(m *testing.M) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook proxy:", err)
		os.Exit(1)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			if t := hookTarget.Load(); t != nil {
				r.SetURL(t)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusBadGateway) },
	}
	go func() {
		_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hookTarget.Load() == nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			proxy.ServeHTTP(w, r)
		}))
	}()
	lksdk.SetLogger(protologger.GetDiscardLogger())
	os.Setenv("CELLPLANE_TEST_WEBHOOK_URL", "http://"+l.Addr().String()+"/v1/livekit/webhook")
	harness.Main(m)
}

const adminKey = apitest.AdminKey

// env is one control plane on a fresh database, with the cell registered as the shared
// cluster of cloud local, region local, receiving the cell's webhooks.
type env struct {
	t      testing.TB
	URL    string
	App    *app.App
	Cell   *localcell.Running
	client *apitest.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	cell := harness.Cell(t)
	return startEnv(t, cell)
}

// startEnv starts a control plane; with a nil cell, nothing is registered.
func startEnv(t testing.TB, cell *localcell.Running) *env {
	t.Helper()
	srv := apitest.Start(t, app.Config{})
	e := &env{t: t, URL: srv.URL, App: srv.App, Cell: cell, client: srv.Client}
	u, _ := url.Parse(e.URL)
	hookTarget.Store(u)
	t.Cleanup(func() { hookTarget.CompareAndSwap(u, nil) }) // runs before the server stops
	if cell != nil {
		must(t, e.do("POST", "/v1/clusters", adminKey, map[string]any{
			"name": "cell-local-local-1", "cloud": "local", "region": "local", "kind": "shared",
			"livekit_url": cell.LiveKitURL(), "livekit_api_key": cell.APIKey, "livekit_api_secret": cell.APISecret,
			"capacity": 100, "stack": "cell-local-local-1",
		}), 201)
	}
	return e
}

// org creates a shared org on the local cell and returns an API key of it.
func (e *env) org(slug string) string {
	e.t.Helper()
	return e.orgIn(slug, "local", "local")
}

func (e *env) orgIn(slug, cloud, region string) string {
	e.t.Helper()
	key := e.provisioningOrg(slug, cloud, region)
	// These tests run no provisioning workers: mark the org ready, as its onboard
	// operation would (only ready orgs are routed, and sessions follow the route).
	if _, err := e.App.Pool.Exec(context.Background(), `UPDATE orgs SET status = 'ready' WHERE slug = $1 AND status = 'provisioning'`, slug); err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r, ok := e.App.Table.Lookup(slug); ok && r.Route.Status == "ready" {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the route of %s did not reach the router table", slug)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return key
}

// provisioningOrg creates an org (its onboarding still to run) and returns a key of it.
func (e *env) provisioningOrg(slug, cloud, region string) string {
	e.t.Helper()
	r := e.do("POST", "/v1/orgs", adminKey, map[string]any{"slug": slug, "name": "Org " + slug, "tier": "shared",
		"cloud": cloud, "region": region, "version": "1.4.5", "sizing": "small"})
	if r.Status != http.StatusCreated && r.Status != http.StatusAccepted {
		e.t.Fatalf("create org %s: %d %s", slug, r.Status, r.Body)
	}
	var k struct {
		Key string `json:"key"`
	}
	must(e.t, e.do("POST", "/v1/orgs/"+slug+"/keys", adminKey, map[string]any{"name": "backend"}), 201).JSON(e.t, &k)
	return k.Key
}

type session struct {
	ID           string     `json:"id"`
	Org          string     `json:"org"`
	Room         string     `json:"room"`
	Scenario     string     `json:"scenario"`
	State        string     `json:"state"`
	EndReason    string     `json:"end_reason"`
	LiveKitURL   string     `json:"livekit_url"`
	Region       string     `json:"region"`
	MaxDuration  int        `json:"max_duration"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    time.Time  `json:"expires_at"`
	EndedAt      *time.Time `json:"ended_at"`
	Participants []struct {
		Identity       string     `json:"identity"`
		Name           string     `json:"name"`
		Role           string     `json:"role"`
		Token          string     `json:"token"`
		TokenExpiresAt *time.Time `json:"token_expires_at"`
	} `json:"participants"`
}

// token returns the token of identity in a create response.
func (s session) token(t *testing.T, identity string) string {
	t.Helper()
	for _, p := range s.Participants {
		if p.Identity == identity {
			if p.Token == "" {
				t.Fatalf("no token for %s", identity)
			}
			return p.Token
		}
	}
	t.Fatalf("no participant %s in %+v", identity, s.Participants)
	return ""
}

type part struct{ identity, role string }

// createSession starts a session for the org and returns it.
func (e *env) createSession(slug, key string, parts ...part) session {
	e.t.Helper()
	var ps []map[string]any
	for _, p := range parts {
		ps = append(ps, map[string]any{"identity": p.identity, "name": "Name of " + p.identity, "role": p.role})
	}
	var s session
	must(e.t, e.do("POST", "/v1/orgs/"+slug+"/sessions", key, map[string]any{"scenario": "sepsis-ward-3", "participants": ps, "max_duration": 1800}), 201).JSON(e.t, &s)
	return s
}

type usage struct {
	Org                string  `json:"org"`
	Sessions           int     `json:"sessions"`
	ParticipantSeconds int64   `json:"participant_seconds"`
	ParticipantMinutes float64 `json:"participant_minutes"`
	PeakConcurrent     int     `json:"peak_concurrent_participants"`
	Days               []struct {
		Date               string `json:"date"`
		ParticipantSeconds int64  `json:"participant_seconds"`
		PeakConcurrent     int    `json:"peak_concurrent_participants"`
	} `json:"days"`
}

// usage reads the org's usage from yesterday to the day after tomorrow (UTC).
func (e *env) usage(slug, key string) usage {
	e.t.Helper()
	now := time.Now().UTC()
	var u usage
	must(e.t, e.do("GET", "/v1/orgs/"+slug+"/usage?from="+now.AddDate(0, 0, -1).Format("2006-01-02")+"&to="+now.AddDate(0, 0, 2).Format("2006-01-02"), key, nil), 200).JSON(e.t, &u)
	return u
}

type (
	response = apitest.Response
	problem  = apitest.Problem
)

// do sends body (a string as is, anything else as JSON) with key as bearer.
func (e *env) do(method, path, key string, body any, header ...string) response {
	e.t.Helper()
	return e.client.Do(method, path, key, body, header...)
}

func must(t testing.TB, r response, want int) response {
	t.Helper()
	return apitest.Must(t, r, want)
}

// webhook posts a LiveKit webhook event signed with key and secret, as LiveKit does.
func (e *env) webhook(key, secret string, ev *lkproto.WebhookEvent) response {
	e.t.Helper()
	body, authz := signWebhook(e.t, key, secret, ev)
	return e.do("POST", "/v1/livekit/webhook", "", body, "Content-Type", "application/webhook+json", "Authorization", authz)
}

func signWebhook(t testing.TB, key, secret string, ev *lkproto.WebhookEvent) ([]byte, string) {
	t.Helper()
	return signWebhookFor(t, key, secret, ev, 5*time.Minute)
}

// signWebhookFor signs ev as LiveKit does, with a token valid for validFor.
func signWebhookFor(t testing.TB, key, secret string, ev *lkproto.WebhookEvent, validFor time.Duration) ([]byte, string) {
	t.Helper()
	body, err := protojson.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	// Signed directly (LiveKit's builder refuses lifetimes in the past).
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(secret)}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: key, NotBefore: jwt.NewNumericDate(now.Add(-time.Hour)),
		Expiry: jwt.NewNumericDate(now.Add(validFor))}).Claims(map[string]any{"sha256": base64.StdEncoding.EncodeToString(sum[:])}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return body, tok
}

// roomService is a RoomService client of the cell with its own keys (what an operator
// sees, independent of the control plane).
func (e *env) roomService() *lksdk.RoomServiceClient {
	return lksdk.NewRoomServiceClient(e.Cell.LiveKitURL(), e.Cell.APIKey, e.Cell.APISecret)
}

func (e *env) participants(room string) []*lkproto.ParticipantInfo {
	e.t.Helper()
	res, err := e.roomService().ListParticipants(context.Background(), &lkproto.ListParticipantsRequest{Room: room})
	if err != nil {
		e.t.Fatalf("ListParticipants(%s): %v", room, err)
	}
	return res.Participants
}

func identities(ps []*lkproto.ParticipantInfo) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.Identity)
	}
	return ids
}

func (e *env) roomExists(room string) bool {
	e.t.Helper()
	res, err := e.roomService().ListRooms(context.Background(), &lkproto.ListRoomsRequest{Names: []string{room}})
	if err != nil {
		e.t.Fatalf("ListRooms: %v", err)
	}
	return len(res.Rooms) > 0
}

// join connects identity's token to LiveKit as a client does, through url.
func join(t *testing.T, url, token string, cb *lksdk.RoomCallback) *lksdk.Room {
	t.Helper()
	if cb == nil {
		cb = &lksdk.RoomCallback{}
	}
	room, err := lksdk.ConnectToRoomWithToken(url, token, cb, lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	t.Cleanup(room.Disconnect)
	return room
}

// requireNonLoopbackInterface explains the one machine setup a WebRTC join depends on.
func requireNonLoopbackInterface(t *testing.T) {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return
		}
	}
	t.Fatal("the WebRTC client offers only non-loopback host candidates and this machine has no non-loopback IPv4 interface; add one (e.g. ip link add cp0 type dummy && ip addr add 192.0.2.10/32 dev cp0 && ip link set cp0 up)")
}

func waitUntil(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dbInt runs a query returning one number on the control plane's database.
func (e *env) dbInt(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.App.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// metric returns the value of the sample of name with exactly labels on /metrics (-1
// when absent).
func (e *env) metric(name string, labels string) float64 {
	e.t.Helper()
	r := must(e.t, e.do("GET", "/metrics", "", nil), 200)
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	prefix := name + "{" + labels + "} "
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// roomsHosted reads livekit_room_total from a node's Prometheus endpoint.
func roomsHosted(t *testing.T, n localcell.LiveKitNode) int {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(n.PrometheusPort) + "/metrics")
	if err != nil {
		t.Fatalf("%s metrics: %v", n.Name, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "livekit_room_total{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return int(v)
		}
	}
	t.Fatalf("%s: no livekit_room_total metric", n.Name)
	return 0
}
