package web

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/infra/spec"
)

// maxFleetOrgs bounds what one page load reads; past it the page says it is cut short
// and the filters narrow it down.
const maxFleetOrgs = 5000

type fleetFilter struct {
	Q, Tier, Cloud, Status string
}

// Active says whether any filter is set.
func (f fleetFilter) Active() bool {
	return f.Q != "" || f.Tier != "" || f.Cloud != "" || f.Status != ""
}

type orgRow struct {
	*controlplane.Org
	Cluster string
	Live    *Live // nil when no session service is configured
}

type clusterRow struct {
	*controlplane.Cluster
	Tenants []string
}

type fleetView struct {
	Title, Nav string
	CSRF       string
	Filter     fleetFilter
	Orgs       []orgRow
	OrgsTotal  int
	Truncated  bool
	Clusters   []clusterRow
	// ClustersTotal counts every cluster, before the filter.
	ClustersTotal   int
	Operations      []Operation
	OperationsKnown bool
	LiveKnown       bool
	Warnings        []string
	Tiers           []option
	Clouds          []option
	Statuses        []option
}

// FleetPage serves GET /fleet: the login form without a session, the fleet with one.
func (p *Pages) FleetPage(w http.ResponseWriter, r *http.Request) {
	id, ok := p.adminSession(r)
	if !ok {
		p.showLogin(w, r, http.StatusUnauthorized, "")
		return
	}
	ctx := controlplane.NewContextWithPrincipal(r.Context(), &controlplane.Principal{Admin: true})
	q := r.URL.Query()
	f := fleetFilter{Q: strings.TrimSpace(q.Get("q")), Tier: q.Get("tier"), Cloud: q.Get("cloud"), Status: q.Get("status")}
	v, err := p.fleet(ctx, f)
	if err != nil {
		p.d.Log.ErrorContext(r.Context(), "fleet page", "err", err)
		securityHeaders(w)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "the fleet cannot be read right now: "+controlplane.ErrorMessage(err), http.StatusServiceUnavailable)
		return
	}
	v.CSRF = p.sessions.csrf("logout", id)
	w.Header().Set("Cache-Control", "no-store")
	p.render(w, r, p.fleetTmpl, http.StatusOK, v)
}

func (p *Pages) fleet(ctx context.Context, f fleetFilter) (*fleetView, error) {
	v := &fleetView{Title: "Fleet", Nav: "fleet", Filter: f}
	if p.d.Orgs == nil || p.d.Clusters == nil {
		return nil, controlplane.Errorf(controlplane.EUNAVAILABLE, "no org or cluster service is configured")
	}
	var orgs []*controlplane.Org
	after := ""
	for {
		page, more, err := p.d.Orgs.FindOrgs(ctx, controlplane.OrgFilter{After: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		orgs = append(orgs, page...)
		if !more || len(page) == 0 {
			break
		}
		if len(orgs) >= maxFleetOrgs {
			v.Truncated = true
			break
		}
		after = page[len(page)-1].Slug
	}
	clusters, err := p.d.Clusters.FindClusters(ctx, controlplane.ClusterFilter{})
	if err != nil {
		return nil, err
	}
	var live map[string]Live
	if p.d.LiveSessions != nil {
		if live, err = p.d.LiveSessions.LiveSessions(ctx); err != nil {
			v.Warnings = append(v.Warnings, "Live sessions are unavailable: "+controlplane.ErrorMessage(err))
		} else {
			v.LiveKnown = true
		}
	}
	if p.d.Operations != nil {
		if ops, err := p.d.Operations.OperationsInFlight(ctx); err != nil {
			v.Warnings = append(v.Warnings, "Operations are unavailable: "+controlplane.ErrorMessage(err))
		} else {
			v.OperationsKnown = true
			v.Operations = filterOps(ops, f)
		}
	}

	names := map[string]string{}
	tenants := map[string][]string{}
	for _, c := range clusters {
		names[c.ID] = c.Name
	}
	for _, o := range orgs {
		tenants[o.ClusterID] = append(tenants[o.ClusterID], o.Slug)
	}
	v.OrgsTotal, v.ClustersTotal = len(orgs), len(clusters)
	for _, o := range orgs {
		row := orgRow{Org: o, Cluster: names[o.ClusterID]}
		if v.LiveKnown {
			l := live[o.Slug]
			row.Live = &l
		}
		if f.matchOrg(row) {
			v.Orgs = append(v.Orgs, row)
		}
	}
	for _, c := range clusters {
		row := clusterRow{Cluster: c, Tenants: tenants[c.ID]}
		sort.Strings(row.Tenants)
		if f.matchCluster(row) {
			v.Clusters = append(v.Clusters, row)
		}
	}
	v.Tiers = options(f.Tier, string(spec.Dedicated), string(spec.Shared))
	var clouds []string
	for _, c := range spec.Clouds {
		clouds = append(clouds, string(c))
	}
	v.Clouds = options(f.Cloud, clouds...)
	v.Statuses = options(f.Status, controlplane.OrgProvisioning, controlplane.OrgReady, controlplane.OrgFailed, controlplane.OrgDeleting)
	return v, nil
}

func options(selected string, values ...string) []option {
	out := []option{{Value: "", Label: "any", Selected: selected == ""}}
	for _, v := range values {
		out = append(out, option{Value: v, Label: v, Selected: v == selected})
	}
	return out
}

func contains(hay, needle string) bool {
	return strings.Contains(strings.ToLower(hay), strings.ToLower(needle))
}

func (f fleetFilter) matchOrg(o orgRow) bool {
	if f.Tier != "" && string(o.Tier) != f.Tier || f.Cloud != "" && string(o.Cloud) != f.Cloud || f.Status != "" && o.Status != f.Status {
		return false
	}
	if f.Q == "" {
		return true
	}
	return slices.ContainsFunc([]string{o.Slug, o.Name, o.Region, o.Version, o.Cluster}, func(s string) bool { return contains(s, f.Q) })
}

// matchCluster keeps a cluster that fits the cloud filter and whose name or region, or
// one of whose tenants, matches the search.
func (f fleetFilter) matchCluster(c clusterRow) bool {
	if f.Cloud != "" && string(c.Cloud) != f.Cloud {
		return false
	}
	if f.Tier != "" && c.Kind != f.Tier {
		return false
	}
	if f.Q == "" {
		return true
	}
	return contains(c.Name, f.Q) || contains(c.Region, f.Q) || slices.ContainsFunc(c.Tenants, func(s string) bool { return contains(s, f.Q) })
}

func filterOps(ops []Operation, f fleetFilter) []Operation {
	if f.Q == "" {
		return ops
	}
	var out []Operation
	for _, o := range ops {
		if contains(o.Org, f.Q) || contains(o.Stack, f.Q) || contains(o.Kind, f.Q) {
			out = append(out, o)
		}
	}
	return out
}
