package localcell_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/controlplane/localcell"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func wsURL(n localcell.LiveKitNode) string { return strings.Replace(n.URL, "http://", "ws://", 1) }

func joinToken(t *testing.T, key, secret, room, identity string) string {
	t.Helper()
	tok, err := auth.NewAccessToken(key, secret).SetIdentity(identity).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).SetValidFor(5 * time.Minute).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// requireNonLoopbackInterface explains the one machine setup the WebRTC join depends on.
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

func participants(t *testing.T, rs *lksdk.RoomServiceClient, room string) []string {
	t.Helper()
	res, err := rs.ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: room})
	if err != nil {
		t.Fatalf("ListParticipants(%s): %v", room, err)
	}
	var ids []string
	for _, p := range res.Participants {
		ids = append(ids, p.Identity)
	}
	return ids
}

func TestParticipantJoinsARoomAcrossNodes(t *testing.T) {
	requireNonLoopbackInterface(t)
	cell := harness.Cell(t)
	a, b := cell.LiveKit[0], cell.LiveKit[1]
	rsA := lksdk.NewRoomServiceClient(a.URL, cell.APIKey, cell.APISecret)
	if _, err := rsA.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "join-test", EmptyTimeout: 60}); err != nil {
		t.Fatalf("CreateRoom through %s: %v", a.Name, err)
	}
	// Join through the other node: both share Redis, so either routes to the room.
	room, err := lksdk.ConnectToRoomWithToken(wsURL(b), joinToken(t, cell.APIKey, cell.APISecret, "join-test", "trainee-1"), &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatalf("join through %s: %v", b.Name, err)
	}
	defer room.Disconnect()
	waitUntil(t, 15*time.Second, "trainee-1 listed in join-test", func() bool {
		ids := participants(t, rsA, "join-test")
		return len(ids) == 1 && ids[0] == "trainee-1"
	})

	// A token signed with another secret is refused, on either node.
	bad := joinToken(t, cell.APIKey, strings.Repeat("x", 48), "join-test", "intruder")
	for _, n := range cell.LiveKit {
		if r, err := lksdk.ConnectToRoomWithToken(wsURL(n), bad, &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false)); err == nil {
			r.Disconnect()
			t.Errorf("%s accepted a token signed with the wrong secret", n.Name)
		}
	}
	// And the API refuses the wrong secret too.
	if _, err := lksdk.NewRoomServiceClient(a.URL, cell.APIKey, strings.Repeat("y", 48)).ListRooms(context.Background(), &livekit.ListRoomsRequest{}); err == nil {
		t.Error("RoomService accepted a request signed with the wrong secret")
	}
	for _, id := range participants(t, rsA, "join-test") {
		if id == "intruder" {
			t.Error("the intruder is in the room")
		}
	}
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

func TestDrainingNodeKeepsItsRoomAndTakesNoNewOnes(t *testing.T) {
	requireNonLoopbackInterface(t)
	cell := harness.Cell(t)
	rs := lksdk.NewRoomServiceClient(cell.LiveKit[0].URL, cell.APIKey, cell.APISecret)
	before := map[string]int{}
	for _, n := range cell.LiveKit {
		before[n.Name] = roomsHosted(t, n)
	}
	if _, err := rs.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "drain-1", EmptyTimeout: 60, DepartureTimeout: 1}); err != nil {
		t.Fatal(err)
	}
	var host, other localcell.LiveKitNode
	waitUntil(t, 10*time.Second, "drain-1 hosted on a node", func() bool {
		for i, n := range cell.LiveKit {
			if roomsHosted(t, n) > before[n.Name] {
				host, other = n, cell.LiveKit[1-i]
				return true
			}
		}
		return false
	})
	room, err := lksdk.ConnectToRoomWithToken(wsURL(host), joinToken(t, cell.APIKey, cell.APISecret, "drain-1", "trainee-1"), &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatalf("join drain-1: %v", err)
	}
	defer room.Disconnect()
	proc := cell.Process(host.Name)
	t.Cleanup(func() {
		if !proc.Running() {
			if err := cell.RestartLiveKit(context.Background(), host.Name); err != nil {
				t.Errorf("restart %s: %v", host.Name, err)
			}
		}
	})

	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if !proc.Running() {
		t.Fatalf("%s exited while its room still had a participant", host.Name)
	}
	otherRS := lksdk.NewRoomServiceClient(other.URL, cell.APIKey, cell.APISecret)
	if ids := participants(t, otherRS, "drain-1"); len(ids) != 1 || ids[0] != "trainee-1" {
		t.Fatalf("drain-1 participants after SIGTERM: %v, want [trainee-1]", ids)
	}

	otherBefore := roomsHosted(t, other)
	if _, err := otherRS.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "drain-2", EmptyTimeout: 30}); err != nil {
		t.Fatalf("create a room while %s drains: %v", host.Name, err)
	}
	waitUntil(t, 10*time.Second, "drain-2 hosted on "+other.Name, func() bool { return roomsHosted(t, other) == otherBefore+1 })

	room.Disconnect()
	select {
	case <-proc.Exited():
	case <-time.After(45 * time.Second):
		t.Fatalf("%s still running 45s after its last room emptied", host.Name)
	}
}
