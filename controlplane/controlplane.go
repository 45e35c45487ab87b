// Package controlplane holds the domain of the control plane: orgs, clusters, API keys and
// routes, the services that manage them, and the errors they return. It depends on nothing
// but the shared vocabulary (infra/spec); storage, HTTP and the router live in subpackages,
// one per dependency.
package controlplane

import (
	"context"
	"time"

	"github.com/cellplane/cellplane/infra/spec"
)

// Org statuses. An org is created `provisioning`; the provisioning jobs move it to `ready`
// or `failed`; DELETE marks it `deleting` until teardown has removed it.
const (
	OrgProvisioning = "provisioning"
	OrgReady        = "ready"
	OrgFailed       = "failed"
	OrgDeleting     = "deleting"
)

// Org is a customer: one cell of its own (tier A) or a namespace in a shared cell (tier B).
type Org struct {
	ID           string            `json:"id"`
	Slug         string            `json:"slug"`
	Name         string            `json:"name"`
	Tier         spec.Tier         `json:"tier"`
	Cloud        spec.Cloud        `json:"cloud"`
	Region       string            `json:"region"`
	Version      string            `json:"version"`
	Sizing       spec.Sizing       `json:"sizing"`
	Requirements map[string]string `json:"requirements"`
	Status       string            `json:"status"`
	StatusReason string            `json:"status_reason,omitempty"`
	ClusterID    string            `json:"cluster_id"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

// OrgCreate is what the signup flow sends to create an org.
type OrgCreate struct {
	Slug         string            `json:"slug"`
	Name         string            `json:"name"`
	Tier         string            `json:"tier"`
	Cloud        string            `json:"cloud"`
	Region       string            `json:"region"`
	Version      string            `json:"version"`
	Sizing       string            `json:"sizing"`
	Requirements map[string]string `json:"requirements"`
}

// OrgUpdate changes an org; nil fields are left alone. Cloud and Region are accepted only
// to be refused when they differ: an org never moves (data residency).
type OrgUpdate struct {
	Name    *string `json:"name"`
	Version *string `json:"version"`
	Sizing  *string `json:"sizing"`
	Cloud   *string `json:"cloud"`
	Region  *string `json:"region"`
	Tier    *string `json:"tier"`
	Slug    *string `json:"slug"`
}

// Placement is where an org was put: the cluster record it lives on.
type Placement struct {
	Cluster *Cluster `json:"cluster"`
	// Reason says why this cluster was chosen, for the operator reading the response.
	Reason string `json:"reason"`
}

// OrgFilter selects a page of orgs, ordered by slug.
type OrgFilter struct {
	After string // the last slug of the previous page ("" for the first page)
	Limit int
}

// OrgService manages orgs and their placement.
type OrgService interface {
	// CreateOrg validates oc, places the org and stores both in one transaction.
	CreateOrg(ctx context.Context, oc OrgCreate) (*Org, *Placement, error)
	FindOrgBySlug(ctx context.Context, slug string) (*Org, error)
	// FindOrgs returns a page of orgs and whether more follow.
	FindOrgs(ctx context.Context, f OrgFilter) ([]*Org, bool, error)
	UpdateOrg(ctx context.Context, slug string, upd OrgUpdate) (*Org, error)
	// DeleteOrg marks the org for teardown (status deleting); the org row stays until the
	// teardown operation has removed what was built for it.
	DeleteOrg(ctx context.Context, slug string) (*Org, error)
}

// Cluster kinds and statuses.
const (
	ClusterDedicated = "dedicated"
	ClusterShared    = "shared"

	ClusterPending  = "pending"  // recorded, not built yet
	ClusterActive   = "active"   // serving; shared clusters take new tenants only when active
	ClusterDraining = "draining" // serving, takes no new tenants
	ClusterRetired  = "retired"
)

// ClusterStatuses lists every cluster status.
var ClusterStatuses = []string{ClusterPending, ClusterActive, ClusterDraining, ClusterRetired}

// Cluster is one Kubernetes cluster: a tier A org's own, or a shared regional cell.
type Cluster struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Cloud          spec.Cloud `json:"cloud"`
	Region         string     `json:"region"`
	Kind           string     `json:"kind"`
	APIURL         string     `json:"api_url"`
	LiveKitURL     string     `json:"livekit_url"`
	LiveKitVersion string     `json:"livekit_version"`
	LiveKitAPIKey  string     `json:"livekit_api_key"`
	Capacity       int        `json:"capacity"` // the most orgs it takes
	Orgs           int        `json:"orgs"`     // how many orgs it holds
	Status         string     `json:"status"`
	Stack          string     `json:"stack"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// ClusterCreate registers a cluster. The LiveKit API secret is stored sealed and is never
// returned.
type ClusterCreate struct {
	Name             string `json:"name"`
	Cloud            string `json:"cloud"`
	Region           string `json:"region"`
	Kind             string `json:"kind"`
	APIURL           string `json:"api_url"`
	LiveKitURL       string `json:"livekit_url"`
	LiveKitVersion   string `json:"livekit_version"`
	LiveKitAPIKey    string `json:"livekit_api_key"`
	LiveKitAPISecret string `json:"livekit_api_secret"`
	Capacity         *int   `json:"capacity"`
	Status           string `json:"status"`
	Stack            string `json:"stack"`
}

// ClusterFilter narrows a cluster listing; empty fields match everything.
type ClusterFilter struct {
	Cloud  string
	Region string
	Kind   string
}

// LiveKitCredentials are a cluster's LiveKit API key and secret, opened in memory for the
// one call that needs them. Never log or return them.
type LiveKitCredentials struct {
	URL       string
	APIKey    string
	APISecret string
}

// ClusterService manages cluster records.
type ClusterService interface {
	CreateCluster(ctx context.Context, cc ClusterCreate) (*Cluster, error)
	FindClusterByID(ctx context.Context, id string) (*Cluster, error)
	FindClusters(ctx context.Context, f ClusterFilter) ([]*Cluster, error)
	// LiveKitCredentials opens the cluster's sealed LiveKit secret.
	LiveKitCredentials(ctx context.Context, clusterID string) (*LiveKitCredentials, error)
}

// APIKey is an org-scoped API key. The secret is in Token only in the response that
// created it; the store keeps its SHA-256.
type APIKey struct {
	ID         string     `json:"id"`
	OrgSlug    string     `json:"org"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	Token      string     `json:"key,omitempty"`
}

// APIKeyCreate names a new key.
type APIKeyCreate struct {
	Name string `json:"name"`
}

// Principal is who a request acts as: the admin, or one org through one of its keys.
type Principal struct {
	Admin   bool
	OrgID   string
	OrgSlug string
	KeyID   string
}

// KeyService manages org API keys and authenticates them.
type KeyService interface {
	// CreateKey makes a key for the org; the returned key carries the token, shown once.
	CreateKey(ctx context.Context, orgSlug string, kc APIKeyCreate) (*APIKey, error)
	FindKeys(ctx context.Context, orgSlug string) ([]*APIKey, error)
	DeleteKey(ctx context.Context, orgSlug, keyID string) error
	// Authenticate returns the org principal of token, or EUNAUTHORIZED.
	Authenticate(ctx context.Context, token string) (*Principal, error)
}

// Route is what a web client needs to reach its org: served by the router from memory.
type Route struct {
	Slug       string     `json:"slug"`
	Cloud      spec.Cloud `json:"cloud"`
	Region     string     `json:"region"`
	APIURL     string     `json:"api_url"`
	LiveKitURL string     `json:"livekit_url"`
	Status     string     `json:"status"`
}

// RouteService reads routes from the store, for the router to load.
type RouteService interface {
	// Routes returns the route of every org.
	Routes(ctx context.Context) ([]Route, error)
	// RouteBySlug returns one org's route, or ENOTFOUND.
	RouteBySlug(ctx context.Context, slug string) (*Route, error)
}
