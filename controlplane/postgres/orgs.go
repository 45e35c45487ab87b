package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/infra/spec"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// OrgService implements controlplane.OrgService.
type OrgService struct{ db *DB }

var _ controlplane.OrgService = (*OrgService)(nil)

// NewOrgService returns the org service of db.
func NewOrgService(db *DB) *OrgService { return &OrgService{db: db} }

const orgColumns = `o.id, o.slug, o.name, o.tier, o.cloud, o.region, o.version, o.sizing, o.requirements,
	o.status, o.status_reason, o.cluster_id, o.created_at, o.updated_at`

func scanOrg(row pgx.Row) (*controlplane.Org, error) {
	var o controlplane.Org
	var id, clusterID uuid.UUID
	err := row.Scan(&id, &o.Slug, &o.Name, &o.Tier, &o.Cloud, &o.Region, &o.Version, &o.Sizing, &o.Requirements,
		&o.Status, &o.StatusReason, &clusterID, &o.CreatedAt, &o.UpdatedAt)
	if err != nil {
		return nil, err
	}
	o.ID, o.ClusterID = id.String(), clusterID.String()
	if o.Requirements == nil {
		o.Requirements = map[string]string{}
	}
	return &o, nil
}

func orgNotFound(slug string) error { return controlplane.OrgNotFound(slug) }

// CreateOrg places the org and stores it, all in one transaction. Concurrent creates of
// one slug are serialised by a transaction-scoped advisory lock on the slug, so exactly
// one wins and the others get a conflict (the unique index backs this up).
func (s *OrgService) CreateOrg(ctx context.Context, oc controlplane.OrgCreate) (*controlplane.Org, *controlplane.Placement, error) {
	if err := oc.Validate(); err != nil {
		return nil, nil, err
	}
	if controlplane.OrgScope(ctx) != "" {
		return nil, nil, controlplane.Errorf(controlplane.EFORBIDDEN, "creating orgs requires the admin key")
	}
	tx, err := s.db.begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer rollback(ctx, tx)

	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('cellplane.org:' || $1, 0))", oc.Slug); err != nil {
		return nil, nil, err
	}
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM orgs WHERE slug = $1 AND status <> 'deleted')", oc.Slug).Scan(&exists); err != nil {
		return nil, nil, err
	}
	if exists {
		return nil, nil, controlplane.Errorf(controlplane.ECONFLICT, "an org with slug %q already exists", oc.Slug)
	}

	var placement *controlplane.Placement
	if spec.Tier(oc.Tier) == spec.Dedicated {
		placement, err = placeDedicated(ctx, tx, oc)
	} else {
		placement, err = placeShared(ctx, tx, oc)
	}
	if err != nil {
		return nil, nil, err
	}
	req := oc.Requirements
	if req == nil {
		req = map[string]string{}
	}
	row := tx.QueryRow(ctx, `INSERT INTO orgs AS o (id, slug, name, tier, cloud, region, version, sizing, requirements, status, cluster_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		RETURNING `+orgColumns,
		uuid.New(), oc.Slug, oc.Name, oc.Tier, oc.Cloud, oc.Region, oc.Version, oc.Sizing, req,
		controlplane.OrgProvisioning, placement.Cluster.ID)
	org, err := scanOrg(row)
	if err != nil {
		return nil, nil, mapError(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, mapError(err)
	}
	placement.Cluster.Orgs++
	return org, placement, nil
}

// placeDedicated records the tier A org's own cluster; the provisioning jobs build it.
func placeDedicated(ctx context.Context, tx pgx.Tx, oc controlplane.OrgCreate) (*controlplane.Placement, error) {
	name := "org-" + oc.Slug
	row := tx.QueryRow(ctx, `INSERT INTO clusters AS c (id, name, cloud, region, kind, capacity, status, stack)
		VALUES ($1, $2, $3, $4, 'dedicated', 1, 'pending', $2)
		RETURNING `+clusterColumns+`, 0`,
		uuid.New(), name, oc.Cloud, oc.Region)
	c, err := scanCluster(row)
	if err != nil {
		err = mapError(err)
		if controlplane.ErrorCode(err) == controlplane.ECONFLICT {
			return nil, controlplane.Errorf(controlplane.ECONFLICT, "a cluster record %q already exists (left by an earlier org with this slug?)", name)
		}
		return nil, err
	}
	return &controlplane.Placement{Cluster: c, Reason: fmt.Sprintf("tier dedicated: a new cluster of its own in %s/%s", oc.Cloud, oc.Region)}, nil
}

// placeShared puts a tier B org on the least loaded active shared cluster of its cloud and
// region that has room. The candidates are locked (in id order, so concurrent placements
// cannot deadlock) before they are counted, so two placements never both take the last
// slot of a cluster.
func placeShared(ctx context.Context, tx pgx.Tx, oc controlplane.OrgCreate) (*controlplane.Placement, error) {
	rows, err := tx.Query(ctx, `SELECT `+clusterColumns+`, 0 FROM clusters c
		WHERE c.kind = 'shared' AND c.status = 'active' AND c.cloud = $1 AND c.region = $2
		ORDER BY c.id FOR UPDATE`, oc.Cloud, oc.Region)
	if err != nil {
		return nil, err
	}
	candidates, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*controlplane.Cluster, error) { return scanCluster(r) })
	if err != nil {
		return nil, err
	}
	if len(candidates) == 0 {
		return nil, controlplane.Errorf(controlplane.ECONFLICT,
			"no active shared cluster is registered in %s/%s: register one (POST /v1/clusters with kind shared) or create the org with tier dedicated",
			oc.Cloud, oc.Region)
	}
	ids := make([]uuid.UUID, len(candidates))
	for i, c := range candidates {
		ids[i] = uuid.MustParse(c.ID)
	}
	// Counted after the locks were taken: this statement sees every committed placement.
	rows, err = tx.Query(ctx, "SELECT cluster_id, count(*) FROM orgs WHERE cluster_id = ANY($1) AND status <> 'deleted' GROUP BY cluster_id", ids)
	if err != nil {
		return nil, err
	}
	load := map[string]int{}
	for rows.Next() {
		var id uuid.UUID
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		load[id.String()] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var free []*controlplane.Cluster
	var full []string
	for _, c := range candidates {
		c.Orgs = load[c.ID]
		if c.Orgs < c.Capacity {
			free = append(free, c)
		} else {
			full = append(full, fmt.Sprintf("%s %d/%d", c.Name, c.Orgs, c.Capacity))
		}
	}
	if len(free) == 0 {
		return nil, controlplane.Errorf(controlplane.ECONFLICT,
			"every shared cluster in %s/%s is full (%s): register another shared cluster or raise a capacity",
			oc.Cloud, oc.Region, strings.Join(full, ", "))
	}
	sort.SliceStable(free, func(i, j int) bool {
		a, b := free[i], free[j]
		// Least loaded by share of capacity used; compare a.Orgs/a.Capacity < b.Orgs/b.Capacity without floats.
		if l, r := a.Orgs*b.Capacity, b.Orgs*a.Capacity; l != r {
			return l < r
		}
		if a.Orgs != b.Orgs {
			return a.Orgs < b.Orgs
		}
		return a.Name < b.Name
	})
	c := free[0]
	return &controlplane.Placement{Cluster: c, Reason: fmt.Sprintf(
		"tier shared: the least loaded shared cluster with room in %s/%s (%d of %d taken before this org, %d candidates)",
		oc.Cloud, oc.Region, c.Orgs, c.Capacity, len(candidates))}, nil
}

// FindOrgBySlug returns the org, or ENOTFOUND (also for an org outside the caller's scope).
func (s *OrgService) FindOrgBySlug(ctx context.Context, slug string) (*controlplane.Org, error) {
	org, err := scanOrg(s.db.q(ctx).QueryRow(ctx, `SELECT `+orgColumns+` FROM orgs o
		WHERE o.slug = $1 AND o.status <> 'deleted' AND ($2::uuid IS NULL OR o.id = $2)`, slug, scope(ctx)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, orgNotFound(slug)
	}
	return org, err
}

// FindOrgs returns a page of orgs in slug order (only the caller's own for an org key).
func (s *OrgService) FindOrgs(ctx context.Context, f controlplane.OrgFilter) ([]*controlplane.Org, bool, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+orgColumns+` FROM orgs o
		WHERE o.slug > $1 AND o.status <> 'deleted' AND ($2::uuid IS NULL OR o.id = $2)
		ORDER BY o.slug LIMIT $3`, f.After, scope(ctx), f.Limit+1)
	if err != nil {
		return nil, false, err
	}
	orgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*controlplane.Org, error) { return scanOrg(r) })
	if err != nil {
		return nil, false, err
	}
	more := len(orgs) > f.Limit
	if more {
		orgs = orgs[:f.Limit]
	}
	return orgs, more, nil
}

// UpdateOrg changes name, version and sizing. Cloud, region, tier and slug never change:
// an attempt is refused naming the field (an equal value is not a change).
func (s *OrgService) UpdateOrg(ctx context.Context, slug string, upd controlplane.OrgUpdate) (*controlplane.Org, error) {
	tx, err := s.db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer rollback(ctx, tx)
	org, err := scanOrg(tx.QueryRow(ctx, `SELECT `+orgColumns+` FROM orgs o
		WHERE o.slug = $1 AND o.status <> 'deleted' AND ($2::uuid IS NULL OR o.id = $2) FOR UPDATE`, slug, scope(ctx)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, orgNotFound(slug)
	} else if err != nil {
		return nil, err
	}
	var v controlplane.Validation
	immutable := func(field string, got *string, have, why string) {
		if got != nil && *got != have {
			v.Add(field, "%s cannot be changed (%s): it is %q", field, why, have)
		}
	}
	immutable("slug", upd.Slug, org.Slug, "it names the org's stacks, namespace and hostnames")
	immutable("tier", upd.Tier, string(org.Tier), "moving between dedicated and shared is a migration, not an update")
	immutable("cloud", upd.Cloud, string(org.Cloud), "data residency: an org stays where it was created")
	immutable("region", upd.Region, org.Region, "data residency: an org stays where it was created")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	if org.Status == controlplane.OrgDeleting {
		return nil, controlplane.Errorf(controlplane.ECONFLICT, "org %q is being deleted and can no longer be changed", slug)
	}
	name, version, sizing := org.Name, org.Version, string(org.Sizing)
	if upd.Name != nil {
		name = *upd.Name
	}
	if upd.Version != nil {
		version = *upd.Version
	}
	if upd.Sizing != nil {
		sizing = *upd.Sizing
	}
	if name == org.Name && version == org.Version && sizing == string(org.Sizing) {
		return org, tx.Commit(ctx)
	}
	org, err = scanOrg(tx.QueryRow(ctx, `UPDATE orgs o SET name = $2, version = $3, sizing = $4, updated_at = now()
		WHERE o.id = $1 RETURNING `+orgColumns, uuid.MustParse(org.ID), name, version, sizing))
	if err != nil {
		return nil, err
	}
	return org, tx.Commit(ctx)
}

// DeleteOrg marks the org for teardown. Marking an org that is already being deleted is
// not an error (DELETE is idempotent).
func (s *OrgService) DeleteOrg(ctx context.Context, slug string) (*controlplane.Org, error) {
	org, err := scanOrg(s.db.q(ctx).QueryRow(ctx, `UPDATE orgs o
		SET status = 'deleting', status_reason = 'marked for teardown',
		    updated_at = CASE WHEN o.status = 'deleting' THEN o.updated_at ELSE now() END
		WHERE o.slug = $1 AND o.status <> 'deleted' AND ($2::uuid IS NULL OR o.id = $2)
		RETURNING `+orgColumns, slug, scope(ctx)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, orgNotFound(slug)
	}
	return org, err
}
