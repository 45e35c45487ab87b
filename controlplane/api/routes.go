package api

import (
	"net/http"

	"github.com/cellplane/cellplane/controlplane/web"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newRouter lists every route of the API. openapi.yaml documents each one; a test keeps
// the two in step.
func newRouter(d Deps, m *metrics) chi.Router {
	log := d.Log
	r := chi.NewRouter()
	r.Use(m.observe(log), recoverer(log))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, Problem{Type: ProblemType("not_found"), Title: "Not Found", Status: http.StatusNotFound,
			Detail: "no such route: see /openapi.yaml", Instance: r.URL.Path})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, Problem{Type: ProblemType("method_not_allowed"), Title: "Method Not Allowed", Status: http.StatusMethodNotAllowed,
			Detail: r.Method + " is not allowed here: see /openapi.yaml", Instance: r.URL.Path})
	})

	// Public: probes, metrics, the API description and the org router (the hot path: no
	// authentication, no database).
	r.Get("/healthz", handleHealthz())
	r.Get("/readyz", handleReadyz(d.Checks))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{}))
	r.Get("/openapi.yaml", handleOpenAPI())
	r.Get("/v1/route/{slug}", handleRoute(d.Routes, d.RouteMaxAge))
	// LiveKit's webhooks authenticate by their signature, not by an API key.
	r.Post("/v1/livekit/webhook", handleWebhook(d.Webhooks, log))

	r.Group(func(r chi.Router) {
		r.Use(authenticate(d.Keys, d.AdminKey, log))

		r.With(requireAdmin(log)).Post("/v1/orgs", handleOrgCreateOp(d.Operations, log))
		r.With(requireAdmin(log)).Get("/v1/orgs", handleOrgList(d.Orgs, log))
		r.With(requireOrg(log, false)).Get("/v1/orgs/{slug}", handleOrgGet(d.Orgs, log))
		r.With(requireOrg(log, true)).Patch("/v1/orgs/{slug}", handleOrgUpdateOp(d.Operations, log))
		r.With(requireOrg(log, true)).Delete("/v1/orgs/{slug}", handleOrgDeleteOp(d.Operations, log))
		r.With(requireOrg(log, false)).Get("/v1/orgs/{slug}/operations", handleOrgOperations(d.Operations, log))

		// Operations: an org key sees its own org's only (another's is not found).
		r.Get("/v1/operations/{id}", handleOperationGet(d.Operations, log))
		r.Get("/v1/operations/{id}/log", handleOperationLog(d.Operations, d.Stop, log))
		r.With(requireAdmin(log)).Post("/v1/operations/{id}/cancel", handleOperationCancel(d.Operations, log))

		r.With(requireOrg(log, false)).Post("/v1/orgs/{slug}/keys", handleKeyCreate(d.Keys, log))
		r.With(requireOrg(log, false)).Get("/v1/orgs/{slug}/keys", handleKeyList(d.Keys, log))
		r.With(requireOrg(log, false)).Delete("/v1/orgs/{slug}/keys/{id}", handleKeyDelete(d.Keys, log))

		r.With(requireAdmin(log)).Post("/v1/clusters", handleClusterCreateOp(d.Operations, log))
		r.With(requireAdmin(log)).Get("/v1/clusters", handleClusterList(d.Clusters, log))
		r.With(requireAdmin(log)).Get("/v1/clusters/{id}", handleClusterGet(d.Clusters, log))

		r.With(requireOrg(log, false)).Post("/v1/orgs/{slug}/sessions", handleSessionCreate(d.Sessions, log))
		r.With(requireOrg(log, false)).Get("/v1/orgs/{slug}/sessions", handleSessionList(d.Sessions, log))
		r.With(requireOrg(log, false)).Get("/v1/orgs/{slug}/sessions/{id}", handleSessionGet(d.Sessions, log))
		r.With(requireOrg(log, false)).Post("/v1/orgs/{slug}/sessions/{id}/tokens", handleTokenCreate(d.Sessions, log))
		r.With(requireOrg(log, false)).Post("/v1/orgs/{slug}/sessions/{id}/end", handleSessionEnd(d.Sessions, log))
		r.With(requireOrg(log, false)).Get("/v1/orgs/{slug}/usage", handleOrgUsage(d.Usage, log))
		r.With(requireAdmin(log)).Get("/v1/usage", handleUsage(d.Usage, log))
	})

	// Pages (package web): the cost model and its JSON, the fleet console with its own
	// cookie login (the admin key typed into a form, never in a URL), and their assets.
	wd := web.Deps{Prices: d.Prices, Orgs: d.Orgs, Clusters: d.Clusters, Usage: d.Usage, AdminKey: d.AdminKey, Log: log}
	if d.Operations != nil {
		wd.Operations = inFlight{d.Operations}
	}
	ui := web.New(wd)
	r.Get("/v1/cost-model", ui.CostModel)
	r.Get("/cost", ui.CostPage)
	r.Get("/fleet", ui.FleetPage)
	r.Post("/fleet/login", ui.Login)
	r.Post("/fleet/logout", ui.Logout)
	r.Get("/static/{file}", ui.Static)
	return r
}
