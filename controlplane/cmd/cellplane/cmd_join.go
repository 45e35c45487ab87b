package main

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/cellplane/cellplane/controlplane/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func init() {
	commands["join"] = command{summary: "join a session's room with a participant token (no media)", run: runJoin}
}

const joinUsage = `join [--for DURATION] <livekit-url> <token>

Joins the LiveKit room a session token names, as the token's identity, from this machine
(WebRTC, no media), prints who is in the room as participants come and go, and leaves
after --for or on Ctrl-C. The URL and token are the livekit_url and one participant's
token from POST /v1/orgs/{slug}/sessions. The token may come from CELLPLANE_LIVEKIT_TOKEN
instead of the command line (which other users of the machine can see).`

func runJoin(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "join", joinUsage)
	stay := fs.Duration("for", 0, "leave after this long (0: stay until interrupted)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	url, token := fs.Arg(0), fs.Arg(1)
	if token == "" {
		token = e.getenv("CELLPLANE_LIVEKIT_TOKEN")
	}
	switch {
	case fs.NArg() > 2:
		return usageError("join takes a LiveKit URL and a token, got %d arguments", fs.NArg())
	case url == "":
		return usageError("join needs the session's livekit_url (ws://, wss://, http:// or https://)")
	case token == "":
		return usageError("join needs a participant token: as the second argument or in CELLPLANE_LIVEKIT_TOKEN")
	case *stay < 0:
		return usageError("--for must not be negative")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *stay > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *stay)
		defer cancel()
	}
	lksdk.SetLogger(protologger.GetDiscardLogger()) // the WebRTC stack's chatter is not for this terminal
	return livekit.Join(ctx, url, token, e.stdout)
}
