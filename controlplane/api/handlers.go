package api

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/router"
	"github.com/go-chi/chi/v5"
)

func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
					writeError(w, r, log, controlplane.Errorf(controlplane.EINTERNAL, "internal error"))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

func handleHealthz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

type checkResult struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

type readiness struct {
	Status  string                 `json:"status"`
	Failing []string               `json:"failing,omitempty"`
	Checks  map[string]checkResult `json:"checks"`
}

// handleReadyz runs every check at once, each bounded in time, and answers 503 naming the
// failing ones.
func handleReadyz(checks []Check) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		res := readiness{Status: "ready", Checks: map[string]checkResult{}}
		errs := make([]error, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = c.Check(ctx) }()
		}
		wg.Wait()
		for i, c := range checks {
			if errs[i] != nil {
				res.Status = "degraded"
				res.Failing = append(res.Failing, c.Name)
				res.Checks[c.Name] = checkResult{Status: "fail", Error: errs[i].Error()}
			} else {
				res.Checks[c.Name] = checkResult{Status: "ok"}
			}
		}
		status := http.StatusOK
		if res.Status != "ready" {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, res)
	}
}

// handleRoute answers from the in-memory table only.
func handleRoute(table *router.Table, maxAge time.Duration) http.HandlerFunc {
	cacheControl := "public, max-age=" + strconv.Itoa(int(maxAge.Seconds()))
	return func(w http.ResponseWriter, r *http.Request) {
		slug := chi.URLParam(r, "slug")
		e, ok := table.Lookup(slug)
		if !ok {
			writeProblem(w, Problem{Type: ProblemType(controlplane.ENOTFOUND), Title: "Not Found", Status: http.StatusNotFound,
				Detail: controlplane.ErrorMessage(controlplane.OrgNotFound(slug)), Instance: r.URL.Path})
			return
		}
		h := w.Header()
		h["Etag"] = []string{e.ETag}
		h["Cache-Control"] = []string{cacheControl}
		if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, e.ETag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(e.Body))}
		_, _ = w.Write(e.Body)
	}
}

// etagMatches implements If-None-Match's weak comparison over a list of tags.
func etagMatches(header, etag string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.Trim(tag, " \t")
		if tag == "*" || tag == etag || tag == "W/"+etag {
			return true
		}
	}
	return false
}

const (
	defaultPageSize = 50
	maxPageSize     = 500
	badCursor       = "cursor is not one this API returned: pass next_cursor from the previous page unchanged"
)

// pageLimit reads the limit query parameter of a list (defaultPageSize when absent),
// noting a bad one in v.
func pageLimit(q url.Values, v *controlplane.Validation) int {
	s := q.Get("limit")
	if s == "" {
		return defaultPageSize
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPageSize {
		v.Add("limit", "limit must be a whole number from 1 to %d", maxPageSize)
	}
	return n
}

type orgPage struct {
	Orgs       []*controlplane.Org `json:"orgs"`
	NextCursor string              `json:"next_cursor,omitempty"`
}

func handleOrgList(orgs controlplane.OrgService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var v controlplane.Validation
		f := controlplane.OrgFilter{Limit: pageLimit(q, &v)}
		if c := q.Get("cursor"); c != "" {
			after, ok := decodeCursor(c)
			if !ok {
				v.Add("cursor", badCursor)
			}
			f.After = after
		}
		if err := v.Err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		page, more, err := orgs.FindOrgs(r.Context(), f)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		res := orgPage{Orgs: page}
		if res.Orgs == nil {
			res.Orgs = []*controlplane.Org{}
		}
		if more {
			res.NextCursor = encodeCursor(page[len(page)-1].Slug)
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// Cursors are opaque to clients; inside, the last slug of the page.
func encodeCursor(slug string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("org:" + slug))
}

func decodeCursor(c string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 5 || string(b[:4]) != "org:" {
		return "", false
	}
	return string(b[4:]), true
}

func handleOrgGet(orgs controlplane.OrgService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		org, err := orgs.FindOrgBySlug(r.Context(), chi.URLParam(r, "slug"))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, org)
	}
}

func handleKeyCreate(keys controlplane.KeyService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var kc controlplane.APIKeyCreate
		if err := decode(w, r, &kc); err != nil {
			writeError(w, r, log, err)
			return
		}
		key, err := keys.CreateKey(r.Context(), chi.URLParam(r, "slug"), kc)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Location", "/v1/orgs/"+key.OrgSlug+"/keys/"+key.ID)
		writeJSON(w, http.StatusCreated, key)
	}
}

type keyList struct {
	Keys []*controlplane.APIKey `json:"keys"`
}

func handleKeyList(keys controlplane.KeyService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		list, err := keys.FindKeys(r.Context(), chi.URLParam(r, "slug"))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if list == nil {
			list = []*controlplane.APIKey{}
		}
		writeJSON(w, http.StatusOK, keyList{Keys: list})
	}
}

func handleKeyDelete(keys controlplane.KeyService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := keys.DeleteKey(r.Context(), chi.URLParam(r, "slug"), chi.URLParam(r, "id")); err != nil {
			writeError(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

type clusterList struct {
	Clusters []*controlplane.Cluster `json:"clusters"`
}

func handleClusterList(clusters controlplane.ClusterService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		list, err := clusters.FindClusters(r.Context(), controlplane.ClusterFilter{Cloud: q.Get("cloud"), Region: q.Get("region"), Kind: q.Get("kind")})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if list == nil {
			list = []*controlplane.Cluster{}
		}
		writeJSON(w, http.StatusOK, clusterList{Clusters: list})
	}
}

func handleClusterGet(clusters controlplane.ClusterService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := clusters.FindClusterByID(r.Context(), chi.URLParam(r, "id"))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	}
}
