package api

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/secrets"
	"github.com/go-chi/chi/v5"
)

// authenticate resolves `Authorization: Bearer <key>` to a principal: the admin key (from
// configuration, compared in constant time) or an org key. Without valid credentials the
// request is answered 401.
func authenticate(keys controlplane.KeyService, adminKey string, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := bearer(r)
			if !ok {
				writeError(w, r, log, controlplane.Errorf(controlplane.EUNAUTHORIZED, "this route needs an API key: send Authorization: Bearer <key>"))
				return
			}
			var p *controlplane.Principal
			if adminKey != "" && secrets.EqualTokens(token, adminKey) {
				p = &controlplane.Principal{Admin: true}
			} else {
				var err error
				if p, err = keys.Authenticate(r.Context(), token); err != nil {
					writeError(w, r, log, err)
					return
				}
			}
			next.ServeHTTP(w, r.WithContext(controlplane.NewContextWithPrincipal(r.Context(), p)))
		})
	}
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// requireAdmin lets only the admin key through.
func requireAdmin(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p := controlplane.PrincipalFromContext(r.Context()); p == nil || !p.Admin {
				writeError(w, r, log, controlplane.Errorf(controlplane.EFORBIDDEN, "this route requires the admin key"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// requireOrg lets through the admin and the keys of the org named by {slug}. A key of
// another org gets exactly the answer a missing org gets: it learns nothing, not even
// that the org exists. With adminOnly, the org's own keys are refused with 403 (they know
// their org exists).
func requireOrg(log *slog.Logger, adminOnly bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := controlplane.PrincipalFromContext(r.Context())
			slug := chi.URLParam(r, "slug")
			switch {
			case p == nil:
				writeError(w, r, log, controlplane.Errorf(controlplane.EUNAUTHORIZED, "this route needs an API key"))
			case p.Admin:
				next.ServeHTTP(w, r)
			case p.OrgSlug != slug:
				writeError(w, r, log, controlplane.OrgNotFound(slug))
			case adminOnly:
				writeError(w, r, log, controlplane.Errorf(controlplane.EFORBIDDEN, "this route requires the admin key"))
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}
