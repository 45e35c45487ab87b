package postgres

import (
	"context"
	"errors"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/jackc/pgx/v5"
)

// RouteService implements controlplane.RouteService: the router's loader.
type RouteService struct{ db *DB }

var _ controlplane.RouteService = (*RouteService)(nil)

// NewRouteService returns the route service of db.
func NewRouteService(db *DB) *RouteService { return &RouteService{db: db} }

const routeQuery = `SELECT o.slug, o.cloud, o.region, c.api_url, c.livekit_url, o.status
	FROM orgs o JOIN clusters c ON c.id = o.cluster_id WHERE o.status = 'ready'`

func scanRoute(row pgx.Row) (controlplane.Route, error) {
	var r controlplane.Route
	err := row.Scan(&r.Slug, &r.Cloud, &r.Region, &r.APIURL, &r.LiveKitURL, &r.Status)
	return r, err
}

// Routes returns the route of every ready org: web clients are sent only to an org whose
// operations have built it (provisioning, failed and deleted orgs are not served).
func (s *RouteService) Routes(ctx context.Context) ([]controlplane.Route, error) {
	rows, err := s.db.Pool.Query(ctx, routeQuery)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (controlplane.Route, error) { return scanRoute(r) })
}

// RouteBySlug returns one ready org's route, or ENOTFOUND.
func (s *RouteService) RouteBySlug(ctx context.Context, slug string) (*controlplane.Route, error) {
	r, err := scanRoute(s.db.Pool.QueryRow(ctx, routeQuery+` AND o.slug = $1`, slug))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, orgNotFound(slug)
	} else if err != nil {
		return nil, err
	}
	return &r, nil
}
