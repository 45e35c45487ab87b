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
	err := s.db.Pool.QueryRow(ctx, `SELECT id FROM orgs WHERE slug = $1 AND status <> 'deleted' AND ($2::uuid IS NULL OR id = $2)`,
		orgSlug, scope(ctx)).Scan(&orgID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, orgNotFound(orgSlug)
	} else if err != nil {
		return nil, err
	}
	list, err := s.usage(ctx, &orgID, p)
	if err != nil {
		return nil, err
	}
	return list[0], nil
}

// AllUsage returns the usage of every org, by slug (admin only). An org torn down keeps
// its usage: it is listed when it has any in the period.
func (s *UsageService) AllUsage(ctx context.Context, p controlplane.UsagePeriod) ([]*controlplane.Usage, error) {
	if controlplane.OrgScope(ctx) != "" {
		return nil, controlplane.Errorf(controlplane.EFORBIDDEN, "usage of all orgs requires the admin key")
	}
	return s.usage(ctx, nil, p)
}

// usage reads the sessions created and the presences overlapping p, of one org or all,
// in one snapshot, and summarises them per org (by id: a slug may have been reused).
func (s *UsageService) usage(ctx context.Context, orgID *uuid.UUID, p controlplane.UsagePeriod) ([]*controlplane.Usage, error) {
	now := s.now()
	type org struct {
		id      uuid.UUID
		slug    string
		deleted bool
	}
	var orgs []org
	created := map[uuid.UUID][]time.Time{}
	presences := map[uuid.UUID][]controlplane.Presence{}
	err := pgx.BeginTxFunc(ctx, s.db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, slug, status = 'deleted' FROM orgs WHERE $1::uuid IS NULL OR id = $1 ORDER BY slug, created_at`, orgID)
		if err != nil {
			return err
		}
		var o org
		if _, err := pgx.ForEachRow(rows, []any{&o.id, &o.slug, &o.deleted}, func() error {
			orgs = append(orgs, o)
			return nil
		}); err != nil {
			return err
		}
		var id uuid.UUID
		var at time.Time
		rows, err = tx.Query(ctx, `SELECT org_id, created_at FROM sessions
			WHERE ($1::uuid IS NULL OR org_id = $1) AND created_at >= $2 AND created_at < $3`, orgID, p.From, p.To)
		if err != nil {
			return err
		}
		if _, err := pgx.ForEachRow(rows, []any{&id, &at}, func() error {
			created[id] = append(created[id], at)
			return nil
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT org_id, joined_at, left_at FROM participant_presence
			WHERE ($1::uuid IS NULL OR org_id = $1) AND joined_at < $3 AND (left_at IS NULL OR left_at > $2)`, orgID, p.From, p.To)
		if err != nil {
			return err
		}
		var pr controlplane.Presence
		_, err = pgx.ForEachRow(rows, []any{&id, &pr.Joined, &pr.Left}, func() error {
			cp := controlplane.Presence{Joined: pr.Joined}
			if pr.Left != nil {
				left := *pr.Left
				cp.Left = &left
			}
			presences[id] = append(presences[id], cp)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*controlplane.Usage, 0, len(orgs))
	for _, o := range orgs {
		u := controlplane.SummarizeUsage(o.slug, p, now, created[o.id], presences[o.id])
		if o.deleted && orgID == nil && u.Sessions == 0 && u.ParticipantSeconds == 0 {
			continue
		}
		out = append(out, u)
	}
	if len(out) == 0 && orgID != nil {
		return nil, controlplane.Errorf(controlplane.ENOTFOUND, "org not found")
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
