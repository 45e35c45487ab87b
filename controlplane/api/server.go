// Package api is the control plane's HTTP API: NewServer builds the handler from its
// dependencies, routes.go lists every route, errors are RFC 9457 problem+json.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/costmodel"
	"github.com/cellplane/cellplane/controlplane/router"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// Check is one readiness check: /readyz fails, naming it, when Check returns an error.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Deps are what the server needs. Orgs, Clusters, Keys and Routes are required.
type Deps struct {
	Orgs     controlplane.OrgService
	Clusters controlplane.ClusterService
	Keys     controlplane.KeyService
	Routes   *router.Table
	Checks   []Check
	// AdminKey authorises the admin routes; empty disables them.
	AdminKey string
	Log      *slog.Logger
	// Registry receives the HTTP and router metrics and is served at /metrics (a new
	// one when nil).
	Registry *prometheus.Registry
	// Tracing wraps the handler in OpenTelemetry spans (through the global provider).
	Tracing bool
	// RouteMaxAge is how long clients may cache a route (default 5s).
	RouteMaxAge time.Duration
	// Prices is the cost model's price table for /v1/cost-model and /cost (the built-in
	// one when nil).
	Prices *costmodel.Table
	// Sessions, Usage and Webhooks serve sessions on LiveKit, the metered usage and
	// LiveKit's webhooks (controlplane/livekit, controlplane/postgres).
	Sessions controlplane.SessionService
	Usage    controlplane.UsageService
	Webhooks controlplane.WebhookService
	// Operations carries out org and cell changes (POST/PATCH/DELETE of orgs answer 202
	// with the operation) and serves operations and their logs.
	Operations controlplane.OperationService
	// Stop is closed when the server shuts down: streaming answers (operation logs) end.
	Stop <-chan struct{}
}

// NewServer returns the control plane's HTTP handler.
func NewServer(d Deps) http.Handler {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.RouteMaxAge == 0 {
		d.RouteMaxAge = 5 * time.Second
	}
	m := newMetrics(d.Registry, d.Routes)
	if d.Usage != nil {
		d.Registry.MustRegister(newSessionCollector(d.Usage, d.Log))
	}
	r := newRouter(d, m)
	var h http.Handler = r
	if d.Tracing {
		h = otelhttp.NewHandler(h, "cellplane",
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	}
	return h
}
