package controlplane

import "context"

type principalKey struct{}

// NewContextWithPrincipal returns ctx acting as p. The store filters every org-scoped
// query by the org of a non-admin principal, so a mistake in the HTTP layer still cannot
// reach another org's rows.
func NewContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the principal of ctx, or nil for the service itself
// (startup, jobs).
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// OrgScope returns the org id that ctx is confined to, or "" when it may see every org
// (the admin, or the service itself).
func OrgScope(ctx context.Context) string {
	if p := PrincipalFromContext(ctx); p != nil && !p.Admin {
		if p.OrgID == "" {
			// An org principal without an org must see nothing, never everything.
			return "00000000-0000-0000-0000-000000000000"
		}
		return p.OrgID
	}
	return ""
}
