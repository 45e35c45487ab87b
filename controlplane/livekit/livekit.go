// Package livekit runs sessions on LiveKit: each session is a room on the org's own
// cluster, created through that cluster's RoomService with its own keys (opened in memory
// for the call), with least-privilege access tokens per role, agents dispatched through
// LiveKit's agent dispatch, and the cluster's signed webhooks feeding the meter.
package livekit

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/postgres"
	"github.com/cellplane/cellplane/controlplane/router"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"
)

// RouteTable is the in-memory org router (router.Table).
type RouteTable interface {
	Lookup(slug string) (*router.Entry, bool)
}

// Config is what the session service needs.
type Config struct {
	Store    *postgres.SessionStore
	Clusters controlplane.ClusterService // opens each cluster's LiveKit secret
	Routes   RouteTable                  // where an org's LiveKit is
	// RouteService answers when the table has not heard of an org yet (it was created a
	// moment ago on another instance).
	RouteService controlplane.RouteService
	// AgentName is the name the org's agent workers register with LiveKit under; each
	// agent participant of a session is dispatched to it (default "cellplane-agent").
	AgentName string
	// EmptyTimeout closes a room nobody joined (default 10 minutes); DepartureTimeout
	// closes it that long after the last participant left (default 60 seconds).
	EmptyTimeout     time.Duration
	DepartureTimeout time.Duration
	// CallTimeout bounds each call to LiveKit (default 10 seconds).
	CallTimeout time.Duration
	Log         *slog.Logger
}

// Service implements controlplane.SessionService and controlplane.WebhookService.
type Service struct {
	cfg Config
	now func() time.Time

	mu      sync.Mutex
	clients map[string]*clusterClients // by cluster id
}

var (
	_ controlplane.SessionService = (*Service)(nil)
	_ controlplane.WebhookService = (*Service)(nil)
)

// New returns the session service.
func New(cfg Config) *Service {
	if cfg.AgentName == "" {
		cfg.AgentName = "cellplane-agent"
	}
	if cfg.EmptyTimeout == 0 {
		cfg.EmptyTimeout = 10 * time.Minute
	}
	if cfg.DepartureTimeout == 0 {
		cfg.DepartureTimeout = time.Minute
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, now: time.Now, clients: map[string]*clusterClients{}}
}

// clusterClients are the API clients of one cluster's LiveKit, kept while its URL and keys
// stay the same.
type clusterClients struct {
	fingerprint [32]byte
	rooms       *lksdk.RoomServiceClient
	dispatch    *lksdk.AgentDispatchClient
}

func (s *Service) clientsFor(clusterID string, creds *controlplane.LiveKitCredentials) *clusterClients {
	fp := sha256.Sum256([]byte(creds.URL + "\x00" + creds.APIKey + "\x00" + creds.APISecret))
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[clusterID]; ok && c.fingerprint == fp {
		return c
	}
	url := apiURL(creds.URL)
	c := &clusterClients{
		fingerprint: fp,
		rooms:       lksdk.NewRoomServiceClient(url, creds.APIKey, creds.APISecret),
		dispatch:    lksdk.NewAgentDispatchServiceClient(url, creds.APIKey, creds.APISecret),
	}
	s.clients[clusterID] = c
	return c
}

// apiURL is the HTTP form of a LiveKit URL (the server API), ClientURL the WebSocket form
// (what client SDKs connect to).
func apiURL(u string) string {
	switch {
	case strings.HasPrefix(u, "ws://"):
		return "http://" + strings.TrimPrefix(u, "ws://")
	case strings.HasPrefix(u, "wss://"):
		return "https://" + strings.TrimPrefix(u, "wss://")
	}
	return u
}

// ClientURL is the WebSocket URL client SDKs connect to for a cluster's LiveKit URL.
func ClientURL(u string) string {
	switch {
	case strings.HasPrefix(u, "http://"):
		return "ws://" + strings.TrimPrefix(u, "http://")
	case strings.HasPrefix(u, "https://"):
		return "wss://" + strings.TrimPrefix(u, "https://")
	}
	return u
}

// unavailable turns a failed LiveKit call into a 503 that says what failed, without the
// details of the call (which name hosts and keys).
func unavailable(what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	msg := "the org's LiveKit did not answer"
	var te twirp.Error
	if errors.As(err, &te) {
		msg = "the org's LiveKit refused: " + te.Msg()
	}
	return &controlplane.Error{Code: controlplane.EUNAVAILABLE, Message: what + ": " + msg}
}

func isNotFound(err error) bool {
	var te twirp.Error
	return errors.As(err, &te) && te.Code() == twirp.NotFound
}

func (s *Service) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.CallTimeout)
}
