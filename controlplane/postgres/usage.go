package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// UsageService implements controlplane.UsageService from the meter's rows.
type UsageService struct {
	db  *DB
	now func() time.Time
}

var _ controlplane.UsageService = (*UsageService)(nil)

// NewUsageService returns the usage service of db.
func NewUsageService(db *DB) *UsageService { return &UsageService{db: db, now: time.Now} }

// OrgUsage returns the usage of one org in the caller's scope.
func (s *UsageService) OrgUsage(ctx context.Context, orgSlug string, p controlplane.UsagePeriod) (*controlplane.Usage, error) {
	var orgID uuid.UUID
	err := s.db.Pool.QueryRow(ctx, `SELECT id FROM orgs WHERE slug = $1 AND ($2::uuid IS NULL OR id = $2)`, orgSlug, scope(ctx)).Scan(&orgID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, orgNotFound(orgSlug)
	} else if err != nil {
		return nil, err
	}
	all, err := s.usage(ctx, &orgID, p)
	if err != nil {
		return nil, err
	}
	return all[orgSlug], nil
}

// AllUsage returns the usage of every org, by slug (admin only).
func (s *UsageService) AllUsage(ctx context.Context, p controlplane.UsagePeriod) ([]*controlplane.Usage, error) {
	if controlplane.OrgScope(ctx) != "" {
		return nil, controlplane.Errorf(controlplane.EFORBIDDEN, "usage of all orgs requires the admin key")
	}
	all, err := s.usage(ctx, nil, p)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT slug FROM orgs ORDER BY slug`)
	if err != nil {
		return nil, err
	}
	slugs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make([]*controlplane.Usage, 0, len(slugs))
	for _, slug := range slugs {
		if u := all[slug]; u != nil {
			out = append(out, u)
		}
	}
	return out, nil
}

// usage reads the sessions created and the presences overlapping p, of one org or all,
// in one snapshot, and summarises them per org.
func (s *UsageService) usage(ctx context.Context, orgID *uuid.UUID, p controlplane.UsagePeriod) (map[string]*controlplane.Usage, error) {
	now := s.now()
	created := map[string][]time.Time{}
	presences := map[string][]controlplane.Presence{}
	slugs := map[string]bool{}
	err := pgx.BeginTxFunc(ctx, s.db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT slug FROM orgs WHERE $1::uuid IS NULL OR id = $1`, orgID)
		if err != nil {
			return err
		}
		list, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, slug := range list {
			slugs[slug] = true
		}
		rows, err = tx.Query(ctx, `SELECT o.slug, s.created_at FROM sessions s JOIN orgs o ON o.id = s.org_id
			WHERE ($1::uuid IS NULL OR s.org_id = $1) AND s.created_at >= $2 AND s.created_at < $3`, orgID, p.From, p.To)
		if err != nil {
			return err
		}
		var slug string
		var at time.Time
		if _, err := pgx.ForEachRow(rows, []any{&slug, &at}, func() error {
			created[slug] = append(created[slug], at)
			return nil
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT o.slug, pp.joined_at, pp.left_at FROM participant_presence pp JOIN orgs o ON o.id = pp.org_id
			WHERE ($1::uuid IS NULL OR pp.org_id = $1) AND pp.joined_at < $3 AND (pp.left_at IS NULL OR pp.left_at > $2)`, orgID, p.From, p.To)
		if err != nil {
			return err
		}
		var pr controlplane.Presence
		_, err = pgx.ForEachRow(rows, []any{&slug, &pr.Joined, &pr.Left}, func() error {
			cp := controlplane.Presence{Joined: pr.Joined}
			if pr.Left != nil {
				left := *pr.Left
				cp.Left = &left
			}
			presences[slug] = append(presences[slug], cp)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*controlplane.Usage, len(slugs))
	for slug := range slugs {
		out[slug] = controlplane.SummarizeUsage(slug, p, now, created[slug], presences[slug])
	}
	return out, nil
}

// LiveCounts returns the live sessions and the participants in them, per org and cluster.
func (s *UsageService) LiveCounts(ctx context.Context) ([]controlplane.LiveCount, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT o.slug, c.region, c.name, count(*),
			COALESCE(sum((SELECT count(*) FROM participant_presence pp WHERE pp.session_id = s.id AND pp.left_at IS NULL)), 0)
		FROM sessions s JOIN orgs o ON o.id = s.org_id JOIN clusters c ON c.id = s.cluster_id
		WHERE s.state = 'active'
		GROUP BY o.slug, c.region, c.name ORDER BY o.slug, c.name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (controlplane.LiveCount, error) {
		var lc controlplane.LiveCount
		return lc, r.Scan(&lc.Org, &lc.Region, &lc.Cluster, &lc.Sessions, &lc.Participants)
	})
}
