package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/secrets"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// KeyService implements controlplane.KeyService.
type KeyService struct{ db *DB }

var _ controlplane.KeyService = (*KeyService)(nil)

// NewKeyService returns the key service of db.
func NewKeyService(db *DB) *KeyService { return &KeyService{db: db} }

// orgID resolves a slug to an org id within the caller's scope.
func (s *KeyService) orgID(ctx context.Context, slug string) (uuid.UUID, error) {
	var id uuid.UUID
	err := s.db.Pool.QueryRow(ctx, `SELECT id FROM orgs WHERE slug = $1 AND ($2::uuid IS NULL OR id = $2)`, slug, scope(ctx)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return id, orgNotFound(slug)
	}
	return id, err
}

// CreateKey makes a key for the org. The token is in the result only.
func (s *KeyService) CreateKey(ctx context.Context, orgSlug string, kc controlplane.APIKeyCreate) (*controlplane.APIKey, error) {
	orgID, err := s.orgID(ctx, orgSlug)
	if err != nil {
		return nil, err
	}
	if err := kc.Validate(); err != nil {
		return nil, err
	}
	id, token := secrets.NewAPIKey()
	k := &controlplane.APIKey{ID: id, OrgSlug: orgSlug, Name: kc.Name, Token: token}
	err = s.db.Pool.QueryRow(ctx, `INSERT INTO api_keys (id, org_id, name, hash) VALUES ($1, $2, $3, $4) RETURNING created_at`,
		id, orgID, kc.Name, secrets.HashAPIKey(token)).Scan(&k.CreatedAt)
	if err != nil {
		return nil, mapError(err)
	}
	return k, nil
}

// FindKeys lists the org's keys (never their hashes), oldest first.
func (s *KeyService) FindKeys(ctx context.Context, orgSlug string) ([]*controlplane.APIKey, error) {
	orgID, err := s.orgID(ctx, orgSlug)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT id, name, created_at, last_used_at FROM api_keys WHERE org_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*controlplane.APIKey, error) {
		k := &controlplane.APIKey{OrgSlug: orgSlug}
		return k, r.Scan(&k.ID, &k.Name, &k.CreatedAt, &k.LastUsedAt)
	})
}

// DeleteKey revokes a key of the org.
func (s *KeyService) DeleteKey(ctx context.Context, orgSlug, keyID string) error {
	orgID, err := s.orgID(ctx, orgSlug)
	if err != nil {
		return err
	}
	notFound := controlplane.Errorf(controlplane.ENOTFOUND, "API key %q not found", keyID)
	if !controlplane.ValidAPIKeyID(keyID) {
		return notFound
	}
	tag, err := s.db.Pool.Exec(ctx, `DELETE FROM api_keys WHERE id = $1 AND org_id = $2`, keyID, orgID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound
	}
	return nil
}

// lastUsedResolution bounds the writes Authenticate makes: last_used_at is refreshed at
// most once a minute per key.
const lastUsedResolution = time.Minute

// Authenticate checks an org API key and returns its principal.
func (s *KeyService) Authenticate(ctx context.Context, token string) (*controlplane.Principal, error) {
	unauthorized := controlplane.Errorf(controlplane.EUNAUTHORIZED, "the API key is not valid")
	id, ok := secrets.ParseAPIKey(token)
	if !ok {
		return nil, unauthorized
	}
	var hash []byte
	var orgID uuid.UUID
	p := &controlplane.Principal{KeyID: id}
	var lastUsed *time.Time
	err := s.db.Pool.QueryRow(ctx, `SELECT k.hash, k.last_used_at, o.id, o.slug FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE k.id = $1`, id).
		Scan(&hash, &lastUsed, &orgID, &p.OrgSlug)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, unauthorized
	} else if err != nil {
		return nil, err
	}
	if !secrets.EqualHashes(hash, secrets.HashAPIKey(token)) {
		return nil, unauthorized
	}
	p.OrgID = orgID.String()
	if lastUsed == nil || time.Since(*lastUsed) > lastUsedResolution {
		_, _ = s.db.Pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1`, id)
	}
	return p, nil
}
