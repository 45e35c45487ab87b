package livekit

import (
	"context"
	"fmt"
	"io"
	"sync"

	lksdk "github.com/livekit/server-sdk-go/v2"
)

// Join connects to the room a session token names, as the token's identity, without
// media (what `cellplane join` does to try a session from a shell). It reports to out who
// is in the room as participants come and go, and leaves when ctx ends or the room closes.
func Join(ctx context.Context, url, token string, out io.Writer) error {
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}
	closed := make(chan struct{})
	var once sync.Once
	cb := &lksdk.RoomCallback{
		OnParticipantConnected: func(p *lksdk.RemoteParticipant) {
			say("+ %s joined (%s)", p.Identity(), roleOf(p.Attributes()))
		},
		OnParticipantDisconnected: func(p *lksdk.RemoteParticipant) { say("- %s left", p.Identity()) },
		OnDisconnectedWithReason: func(reason lksdk.DisconnectionReason) {
			say("disconnected: %s", reason)
			once.Do(func() { close(closed) })
		},
	}
	room, err := lksdk.ConnectToRoomWithToken(ClientURL(url), token, cb, lksdk.WithAutoSubscribe(false))
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	lp := room.LocalParticipant
	say("joined room %s as %s (%s)", room.Name(), lp.Identity(), roleOf(lp.Attributes()))
	for _, p := range room.GetRemoteParticipants() {
		say("  %s is here (%s)", p.Identity(), roleOf(p.Attributes()))
	}
	select {
	case <-ctx.Done():
		room.Disconnect()
		say("left room %s", room.Name())
	case <-closed:
	}
	return nil
}

func roleOf(attrs map[string]string) string {
	if r := attrs[AttrRole]; r != "" {
		return r
	}
	return "no role"
}
