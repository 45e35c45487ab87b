package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ClusterService implements controlplane.ClusterService.
type ClusterService struct{ db *DB }

var _ controlplane.ClusterService = (*ClusterService)(nil)

// NewClusterService returns the cluster service of db.
func NewClusterService(db *DB) *ClusterService { return &ClusterService{db: db} }

// clusterColumns never include the sealed secret: it is read only by LiveKitCredentials.
// Queries append the org count as the last column.
const clusterColumns = `c.id, c.name, c.cloud, c.region, c.kind, c.api_url, c.livekit_url, c.livekit_version,
	c.livekit_api_key, c.capacity, c.status, c.stack, c.created_at, c.updated_at`

const orgCount = `(SELECT count(*) FROM orgs WHERE orgs.cluster_id = c.id AND orgs.status <> 'deleted')`

func scanCluster(row pgx.Row) (*controlplane.Cluster, error) {
	var c controlplane.Cluster
	var id uuid.UUID
	err := row.Scan(&id, &c.Name, &c.Cloud, &c.Region, &c.Kind, &c.APIURL, &c.LiveKitURL, &c.LiveKitVersion,
		&c.LiveKitAPIKey, &c.Capacity, &c.Status, &c.Stack, &c.CreatedAt, &c.UpdatedAt, &c.Orgs)
	if err != nil {
		return nil, err
	}
	c.ID = id.String()
	return &c, nil
}

// secretAAD binds a sealed secret to its row and column.
func secretAAD(clusterID string) []byte {
	return []byte("cellplane.clusters:" + clusterID + ":livekit_api_secret")
}

// CreateCluster registers a cluster, sealing its LiveKit API secret.
func (s *ClusterService) CreateCluster(ctx context.Context, cc controlplane.ClusterCreate) (*controlplane.Cluster, error) {
	if controlplane.OrgScope(ctx) != "" {
		return nil, controlplane.Errorf(controlplane.EFORBIDDEN, "registering clusters requires the admin key")
	}
	if err := cc.Validate(); err != nil {
		return nil, err
	}
	if s.db.Keyring == nil {
		return nil, errors.New("clusters: no master key configured to seal secrets")
	}
	id := uuid.New()
	sealed, err := s.db.Keyring.Seal([]byte(cc.LiveKitAPISecret), secretAAD(id.String()))
	if err != nil {
		return nil, err
	}
	capacity := 1
	if cc.Capacity != nil {
		capacity = *cc.Capacity
	}
	status := cc.Status
	if status == "" {
		status = controlplane.ClusterActive
	}
	c, err := scanCluster(s.db.q(ctx).QueryRow(ctx, `INSERT INTO clusters AS c (id, name, cloud, region, kind, api_url, livekit_url,
			livekit_version, livekit_api_key, livekit_api_secret_sealed, capacity, status, stack)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		RETURNING `+clusterColumns+`, 0`,
		id, cc.Name, cc.Cloud, cc.Region, cc.Kind, cc.APIURL, cc.LiveKitURL, cc.LiveKitVersion, cc.LiveKitAPIKey,
		sealed, capacity, status, cc.Stack))
	return c, mapError(err)
}

func clusterNotFound(id string) error {
	return controlplane.Errorf(controlplane.ENOTFOUND, "cluster %q not found", id)
}

// FindClusterByID returns the cluster, or ENOTFOUND (also for a malformed id).
func (s *ClusterService) FindClusterByID(ctx context.Context, id string) (*controlplane.Cluster, error) {
	if controlplane.OrgScope(ctx) != "" {
		return nil, controlplane.Errorf(controlplane.EFORBIDDEN, "reading clusters requires the admin key")
	}
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, clusterNotFound(id)
	}
	c, err := scanCluster(s.db.Pool.QueryRow(ctx, `SELECT `+clusterColumns+`, `+orgCount+` FROM clusters c WHERE c.id = $1`, uid))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, clusterNotFound(id)
	}
	return c, err
}

// FindClusters lists clusters by name, filtered by cloud, region and kind when given.
func (s *ClusterService) FindClusters(ctx context.Context, f controlplane.ClusterFilter) ([]*controlplane.Cluster, error) {
	if controlplane.OrgScope(ctx) != "" {
		return nil, controlplane.Errorf(controlplane.EFORBIDDEN, "reading clusters requires the admin key")
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+clusterColumns+`, `+orgCount+` FROM clusters c
		WHERE ($1 = '' OR c.cloud = $1) AND ($2 = '' OR c.region = $2) AND ($3 = '' OR c.kind = $3)
		ORDER BY c.name`, f.Cloud, f.Region, f.Kind)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*controlplane.Cluster, error) { return scanCluster(r) })
}

// LiveKitCredentials opens the cluster's LiveKit secret, in memory, for the caller's one
// use. Sessions use it to talk to the org's own LiveKit.
func (s *ClusterService) LiveKitCredentials(ctx context.Context, clusterID string) (*controlplane.LiveKitCredentials, error) {
	uid, err := uuid.Parse(clusterID)
	if err != nil {
		return nil, clusterNotFound(clusterID)
	}
	var creds controlplane.LiveKitCredentials
	var sealed []byte
	err = s.db.Pool.QueryRow(ctx, `SELECT livekit_url, livekit_api_key, livekit_api_secret_sealed FROM clusters WHERE id = $1`, uid).
		Scan(&creds.URL, &creds.APIKey, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, clusterNotFound(clusterID)
	} else if err != nil {
		return nil, err
	}
	if len(sealed) == 0 {
		return nil, controlplane.Errorf(controlplane.ECONFLICT, "cluster %q has no LiveKit credentials yet", clusterID)
	}
	if s.db.Keyring == nil {
		return nil, errors.New("clusters: no master key configured to open secrets")
	}
	plain, err := s.db.Keyring.Open(sealed, secretAAD(uid.String()))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: LiveKit secret: %w", clusterID, err)
	}
	creds.APISecret = string(plain)
	return &creds, nil
}
