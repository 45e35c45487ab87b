// Package web serves the control plane's pages: /cost (the cost model, with a chart that
// follows its inputs) and /fleet (the admin console of orgs, clusters and operations),
// plus the JSON the cost page reads, GET /v1/cost-model. Pages are server-rendered with
// html/template and work without JavaScript; one small static script per page makes them
// live. Every response carries a strict Content-Security-Policy: no inline script, no
// inline style, nothing from elsewhere.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/costmodel"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Operation is a provisioning job as the fleet page shows it.
type Operation struct {
	ID        string
	Kind      string // onboard, upgrade, resize, teardown
	Stack     string
	Org       string
	State     string
	Attempt   int
	StartedAt time.Time
	Log       string // the tail of its log
}

// OperationSource lists the operations in flight. The fleet page shows them when one is
// configured.
type OperationSource interface {
	OperationsInFlight(ctx context.Context) ([]Operation, error)
}

// Live is what an org has live right now.
type Live struct {
	Sessions     int
	Participants int
}

// LiveSessionSource counts the live sessions of every org, by slug. The fleet page shows
// them when one is configured (Deps.Usage gives one).
type LiveSessionSource interface {
	LiveSessions(ctx context.Context) (map[string]Live, error)
}

// usageLive counts live sessions through the usage service.
type usageLive struct{ usage controlplane.UsageService }

func (u usageLive) LiveSessions(ctx context.Context) (map[string]Live, error) {
	counts, err := u.usage.LiveCounts(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]Live{}
	for _, c := range counts {
		l := out[c.Org]
		l.Sessions += c.Sessions
		l.Participants += c.Participants
		out[c.Org] = l
	}
	return out, nil
}

// Deps are what the pages read. Prices defaults to the built-in table; the fleet page
// needs Orgs, Clusters and AdminKey (without an admin key it is disabled).
type Deps struct {
	Prices       *costmodel.Table
	Orgs         controlplane.OrgService
	Clusters     controlplane.ClusterService
	Operations   OperationSource   // optional
	LiveSessions LiveSessionSource // optional; from Usage when nil
	Usage        controlplane.UsageService
	AdminKey     string
	// SessionTTL is how long a fleet login lasts (default 8h).
	SessionTTL time.Duration
	Log        *slog.Logger
	// Now is the clock (tests move it).
	Now func() time.Time
}

// Pages holds the handlers; routes.go of the API mounts each one.
type Pages struct {
	d         Deps
	costTmpl  *template.Template
	fleetTmpl *template.Template
	loginTmpl *template.Template
	static    map[string]staticFile
	sessions  *sessionKeys
}

type staticFile struct {
	body        []byte
	contentType string
	version     string // content hash, appended to links so they can be cached forever
}

// New builds the pages from their dependencies.
func New(d Deps) *Pages {
	if d.Prices == nil {
		d.Prices = costmodel.Default()
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.SessionTTL == 0 {
		d.SessionTTL = 8 * time.Hour
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.LiveSessions == nil && d.Usage != nil {
		d.LiveSessions = usageLive{d.Usage}
	}
	p := &Pages{d: d, static: map[string]staticFile{}}
	_ = fs.WalkDir(staticFS, "static", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, _ := staticFS.ReadFile(name)
		sum := sha256.Sum256(b)
		ct := "application/octet-stream"
		switch path.Ext(name) {
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		p.static["/"+name] = staticFile{body: b, contentType: ct, version: hex.EncodeToString(sum[:6])}
		return nil
	})
	funcs := template.FuncMap{
		"static": func(name string) string {
			f := "/static/" + name
			return f + "?v=" + p.static[f].version
		},
		"money":      costmodel.Money,
		"num":        num,
		"pct":        func(v float64) string { return num(v*100) + "%" },
		"isURL":      func(s string) bool { return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") },
		"ago":        func(t time.Time) string { return ago(d.Now(), t) },
		"isodate":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"itemsTable": itemsTable,
		"sourceOf":   sourceOf,
	}
	parse := func(page string) *template.Template {
		return template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page))
	}
	p.costTmpl = parse("cost.html")
	p.fleetTmpl = parse("fleet.html")
	p.loginTmpl = parse("login.html")
	if d.AdminKey != "" {
		p.sessions = newSessionKeys(d.AdminKey)
	}
	return p
}

// Routes returns a handler serving every page on its own, for tests and for tools that
// serve the pages without the API. The API mounts the same handlers in its routes.go.
func (p *Pages) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/cost-model", p.CostModel)
	mux.HandleFunc("GET /cost", p.CostPage)
	mux.HandleFunc("GET /fleet", p.FleetPage)
	mux.HandleFunc("POST /fleet/login", p.Login)
	mux.HandleFunc("POST /fleet/logout", p.Logout)
	mux.HandleFunc("GET /static/{file}", p.Static)
	return mux
}

// contentSecurityPolicy allows scripts, styles, fetches and forms from this origin only,
// and no framing. Inline SVG needs nothing more: it is markup, not script.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// Static serves the pages' scripts and styles. A link carries the file's content hash,
// so the file may be cached for a year; an unversioned request revalidates.
func (p *Pages) Static(w http.ResponseWriter, r *http.Request) {
	f, ok := p.static[r.URL.Path]
	if !ok {
		securityHeaders(w)
		http.NotFound(w, r)
		return
	}
	securityHeaders(w)
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", `"`+f.version+`"`)
	if r.URL.Query().Get("v") == f.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == `"`+f.version+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(f.body)
}

// render writes a page. Templates render into memory first so a template failure is a
// clean 500, never half a page.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, t *template.Template, status int, data any) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		p.d.Log.ErrorContext(r.Context(), "render page", "path", r.URL.Path, "err", err)
		securityHeaders(w)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func num(v float64) string {
	s := strings.TrimRight(strings.TrimRight(formatFloat(v, 2), "0"), ".")
	if s == "" || s == "-0" {
		return "0"
	}
	return s
}

func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d >= time.Minute {
		d = d.Round(time.Minute)
	}
	return d.Round(time.Second).String() + " ago"
}
