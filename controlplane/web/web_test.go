package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/app"
	"github.com/cellplane/cellplane/controlplane/costmodel"
	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/controlplane/secrets"
	"github.com/cellplane/cellplane/controlplane/web"
)

func TestMain(m *testing.M) { harness.Main(m) }

const adminKey = "web-test-admin-key-0123456789abcdef"

// server is a whole control plane (the API with the pages mounted) on a fresh database.
type server struct {
	t   testing.TB
	URL string
	App *app.App
}

func startServer(t testing.TB) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{DatabaseURL: harness.Postgres(t), AdminKey: adminKey, MasterKey: secrets.GenerateMasterKey()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	return &server{t: t, URL: "http://" + l.Addr().String(), App: a}
}

// admin calls the API with the admin key and wants status want.
func (s *server) admin(method, path string, body any, want int) map[string]any {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, data)
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m
}

// seed registers a shared local cell and creates orgs through the API: two tier B orgs
// on the cell and one tier A org in AWS Frankfurt. It returns their slugs.
func (s *server) seed(prefix string) []string {
	s.t.Helper()
	s.admin("POST", "/v1/clusters", map[string]any{
		"name": prefix + "-cell", "cloud": "local", "region": "local", "kind": "shared",
		"livekit_url": "ws://127.0.0.1:7880", "livekit_version": "1.9.0", "livekit_api_key": "APIlocal",
		"livekit_api_secret": "livekit-secret-0123456789abcdefghijklmnop", "capacity": 8,
	}, http.StatusCreated)
	org := func(slug, tier, cloud, region, version string) string {
		s.admin("POST", "/v1/orgs", map[string]any{"slug": slug, "name": "Org " + slug, "tier": tier, "cloud": cloud,
			"region": region, "version": version, "sizing": "medium", "requirements": map[string]string{}}, http.StatusAccepted)
		return slug
	}
	return []string{
		org(prefix+"-st-marys", "shared", "local", "local", "1.4.5"),
		org(prefix+"-northside", "shared", "local", "local", "1.5.0"),
		org(prefix+"-charite", "dedicated", "aws", "eu-central-1", "1.4.5"),
	}
}

type answer struct {
	Status int
	Header http.Header
	Body   string
}

func get(t testing.TB, c *http.Client, u string, header ...string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, c, req)
}

func do(t testing.TB, c *http.Client, req *http.Request) answer {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

func ptr(v float64) *float64 { return &v }

func TestCostModelJSON(t *testing.T) {
	s := startServer(t)
	a := get(t, nil, s.URL+"/v1/cost-model?cloud=azure&region=westeurope&sizing=large&tenants=30&sessions=5000&session_hours=1.5&margin=0.3")
	if a.Status != 200 || a.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", a.Status, a.Header.Get("Content-Type"), a.Body)
	}
	var got costmodel.Estimate
	if err := json.Unmarshal([]byte(a.Body), &got); err != nil {
		t.Fatal(err)
	}
	want, err := costmodel.Default().Estimate(costmodel.Inputs{Cloud: "azure", Region: "westeurope", Sizing: "large", Tenants: 30,
		Sessions: ptr(5000), SessionHours: ptr(1.5), Margin: ptr(0.3)})
	if err != nil {
		t.Fatal(err)
	}
	if got.TierA.PerOrg != want.TierA.PerOrg || got.TierB.PerOrg != want.TierB.PerOrg || got.Inputs != want.Inputs ||
		len(got.Baseline.Items) != 7 || len(got.Variable.Items) != 4 || *got.BreakEven.Tenants != *want.BreakEven.Tenants {
		t.Errorf("the API's estimate differs from the model's:\n got %+v\nwant %+v", got.TierB, want.TierB)
	}
	for _, li := range got.Baseline.Items {
		if len(li.Figures) == 0 || li.Figures[0].Source == "" || li.Figures[0].Date == "" {
			t.Errorf("line %s has no sourced figure", li.Key)
		}
	}
}

func TestCostModelProblemsNameTheField(t *testing.T) {
	s := startServer(t)
	for _, tc := range []struct{ query, field, says string }{
		{"sizing=small", "cloud", "required"},
		{"cloud=aws", "sizing", "required"},
		{"cloud=ibm&sizing=small", "cloud", "unknown cloud"},
		{"cloud=aws&region=mars&sizing=small", "region", "not a aws region"},
		{"cloud=local&sizing=small", "cloud", "no prices for local"},
		{"cloud=aws&sizing=small&tenants=abc", "tenants", "whole number"},
		{"cloud=aws&sizing=small&tenants=0", "tenants", "between 1 and 10000"},
		{"cloud=aws&sizing=small&sessions=-3", "sessions", "between 0 and"},
		{"cloud=aws&sizing=small&margin=1.5", "margin", "fraction"},
		{"cloud=aws&sizing=small&tenant=5", "tenant", "unknown parameter"},
		{"cloud=aws&cloud=gcp&sizing=small", "cloud", "once"},
	} {
		a := get(t, nil, s.URL+"/v1/cost-model?"+tc.query)
		var p web.Problem
		_ = json.Unmarshal([]byte(a.Body), &p)
		ok := a.Status == 422 && a.Header.Get("Content-Type") == "application/problem+json" && p.Status == 422 &&
			p.Type == "urn:cellplane:problem:"+controlplane.EINVALID
		found := false
		for _, f := range p.Errors {
			found = found || f.Field == tc.field && strings.Contains(f.Message, tc.says)
		}
		if !ok || !found {
			t.Errorf("%s: %d %s %s; want 422 problem naming %s (%q)", tc.query, a.Status, a.Header.Get("Content-Type"), a.Body, tc.field, tc.says)
		}
	}
}

// Every page and asset: the security headers, under 200 KB, no inline script or style.
func TestPagesAreSmallAndLockedDown(t *testing.T) {
	s := startServer(t)
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	assets := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`)
	for _, page := range []string{"/cost", "/cost?cloud=gcp&sizing=large&tenants=200", "/fleet"} {
		a := get(t, nil, s.URL+page)
		if a.Status != 200 && a.Status != 401 {
			t.Fatalf("%s: %d", page, a.Status)
		}
		csp := a.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %s", page, csp, d)
			}
		}
		if a.Header.Get("X-Content-Type-Options") != "nosniff" || a.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s: headers %v", page, a.Header)
		}
		total := len(a.Body)
		for _, tag := range inlineScript.FindAllString(a.Body, -1) {
			if !strings.Contains(tag, ` src="/static/`) {
				t.Errorf("%s: inline script %s", page, tag)
			}
		}
		if strings.Contains(a.Body, " style=") || strings.Contains(a.Body, "<style") {
			t.Errorf("%s: inline style", page)
		}
		for _, m := range assets.FindAllStringSubmatch(a.Body, -1) {
			f := get(t, nil, s.URL+m[1])
			if f.Status != 200 || !strings.Contains(f.Header.Get("Cache-Control"), "immutable") || f.Header.Get("Content-Security-Policy") == "" {
				t.Errorf("%s: %d %v", m[1], f.Status, f.Header)
			}
			total += len(f.Body)
		}
		if total > 200<<10 {
			t.Errorf("%s weighs %d bytes with its assets, over 200 KB", page, total)
		}
		t.Logf("%s: %d bytes with its assets", page, total)
	}
	if a := get(t, nil, s.URL+"/static/nothing.js"); a.Status != 404 {
		t.Errorf("a missing asset: %d", a.Status)
	}
}

func TestCostPageWithoutScript(t *testing.T) {
	s := startServer(t)
	est, err := costmodel.Default().Estimate(costmodel.Inputs{Cloud: "gcp", Region: "europe-west3", Sizing: "medium", Tenants: 5, Sessions: ptr(2000), Margin: ptr(0.25)})
	if err != nil {
		t.Fatal(err)
	}
	a := get(t, nil, s.URL+"/cost?cloud=gcp&region=europe-west3&sizing=medium&sessions=2000&tenants=5&margin_pct=25")
	if a.Status != 200 {
		t.Fatalf("%d", a.Status)
	}
	for _, want := range []string{
		`id="tier-a-per-org" for="cloud region sizing sessions">` + costmodel.Money(est.TierA.PerOrg) + `<`,
		`id="tier-b-per-org" for="cloud region sizing sessions tenants">` + costmodel.Money(est.TierB.PerOrg) + `<`,
		fmt.Sprintf(`<span id="break-even">N = %d</span>`, *est.BreakEven.Tenants),
		`<option value="europe-west3" selected>`,
		`<a href="https://cloud.google.com/kubernetes-engine/pricing" rel="noopener noreferrer">cloud.google.com/kubernetes-engine/pricing</a>`,
		`id="line-a"`, `id="line-b"`, `id="marker-n"`, `role="img"`,
	} {
		if !strings.Contains(a.Body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// A region left from another cloud falls back to the new cloud's base region.
	a = get(t, nil, s.URL+"/cost?cloud=gcp&region=us-east-1&sizing=small")
	if a.Status != 200 || !strings.Contains(a.Body, `<option value="us-central1" selected>`) {
		t.Errorf("cloud switch without script: %d", a.Status)
	}
	// Bad inputs are marked on their fields.
	a = get(t, nil, s.URL+"/cost?cloud=aws&sizing=small&tenants=0&sessions=lots")
	if a.Status != 422 || !strings.Contains(a.Body, `id="tenants-error">tenants per shared cell must be between 1 and 10000`) ||
		!strings.Contains(a.Body, `id="sessions-error">sessions must be a number`) || !strings.Contains(a.Body, `aria-invalid="true"`) {
		t.Errorf("bad inputs: %d\n%s", a.Status, a.Body)
	}
}

// browserish is an HTTP client that keeps cookies and does not follow redirects.
func browserish(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in:\n%s", body)
	}
	return m[1]
}

func postForm(t testing.TB, c *http.Client, u string, form url.Values, header ...string) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, c, req)
}

func TestFleetLoginLogoutAndFilters(t *testing.T) {
	s := startServer(t)
	slugs := s.seed("flt")
	c := browserish(t)

	a := get(t, c, s.URL+"/fleet")
	if a.Status != 401 || !strings.Contains(a.Body, `action="/fleet/login"`) || !strings.Contains(a.Body, `method="post"`) {
		t.Fatalf("without a session: %d\n%s", a.Status, a.Body)
	}
	for _, slug := range slugs {
		if strings.Contains(a.Body, slug) {
			t.Errorf("the login page shows %s", slug)
		}
	}
	token := csrfOf(t, a.Body)

	// No token, a wrong token, another site, a wrong key: all refused.
	if r := postForm(t, c, s.URL+"/fleet/login", url.Values{"key": {adminKey}}); r.Status != 403 {
		t.Errorf("login without a CSRF token: %d", r.Status)
	}
	token = csrfOf(t, get(t, c, s.URL+"/fleet").Body)
	if r := postForm(t, c, s.URL+"/fleet/login", url.Values{"key": {adminKey}, "csrf": {token + "x"}}); r.Status != 403 {
		t.Errorf("login with a bad CSRF token: %d", r.Status)
	}
	token = csrfOf(t, get(t, c, s.URL+"/fleet").Body)
	if r := postForm(t, c, s.URL+"/fleet/login", url.Values{"key": {adminKey}, "csrf": {token}}, "Origin", "http://evil.example"); r.Status != 403 {
		t.Errorf("login posted from another site: %d", r.Status)
	}
	token = csrfOf(t, get(t, c, s.URL+"/fleet").Body)
	if r := postForm(t, c, s.URL+"/fleet/login", url.Values{"key": {adminKey[:len(adminKey)-1]}, "csrf": {token}}); r.Status != 401 || !strings.Contains(r.Body, "That is not the admin key.") {
		t.Errorf("a wrong key: %d", r.Status)
	}
	// The admin key in a query string is no way in.
	if r := get(t, c, s.URL+"/fleet?key="+adminKey); r.Status != 401 {
		t.Errorf("key in the URL: %d", r.Status)
	}
	if r := get(t, c, s.URL+"/fleet", "Authorization", "Bearer "+adminKey); r.Status != 401 {
		t.Errorf("the API's bearer key opens the console: %d", r.Status)
	}

	token = csrfOf(t, get(t, c, s.URL+"/fleet").Body)
	r := postForm(t, c, s.URL+"/fleet/login", url.Values{"key": {adminKey}, "csrf": {token}}, "Origin", s.URL)
	if r.Status != 303 || r.Header.Get("Location") != "/fleet" {
		t.Fatalf("login: %d %v", r.Status, r.Header)
	}
	cookie := strings.Join(r.Header.Values("Set-Cookie"), "\n")
	if !strings.Contains(cookie, "cellplane_fleet=v1.") || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") ||
		strings.Contains(cookie, "Secure") || strings.Contains(cookie, adminKey) {
		t.Errorf("session cookie: %s", cookie)
	}

	a = get(t, c, s.URL+"/fleet")
	if a.Status != 200 || a.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("with a session: %d", a.Status)
	}
	for _, slug := range slugs {
		if !strings.Contains(a.Body, `<tr data-slug="`+slug+`">`) {
			t.Errorf("the fleet lacks org %s", slug)
		}
	}
	for _, want := range []string{`<tr data-cluster="flt-cell">`, `<li>flt-northside</li>`, `<li>flt-st-marys</li>`, `aria-label="flt-cell: 2 of 8 orgs">2 of 8</meter> 2 / 8`,
		"A · dedicated", "B · shared", "eu-central-1", "1.5.0", `<td class="num">0</td>`,
		// The orgs' onboard operations, queued (this control plane runs no workers).
		`<table id="operations"`, "<td>tenant-flt-northside</td>", "<td>org-flt-charite</td>"} {
		if !strings.Contains(a.Body, want) {
			t.Errorf("the fleet lacks %s", want)
		}
	}
	// Filters: search, tier, cloud.
	for q, want := range map[string][]string{
		"q=northside":             {"flt-northside"},
		"tier=dedicated":          {"flt-charite"},
		"cloud=local&tier=shared": {"flt-northside", "flt-st-marys"},
		"q=1.4.5":                 {"flt-charite", "flt-st-marys"},
		"q=nothing-like-it":       {},
	} {
		a := get(t, c, s.URL+"/fleet?"+q)
		got := regexp.MustCompile(`<tr data-slug="([^"]+)">`).FindAllStringSubmatch(a.Body, -1)
		var slugsGot []string
		for _, m := range got {
			slugsGot = append(slugsGot, m[1])
		}
		if fmt.Sprint(slugsGot) != fmt.Sprint(want) {
			t.Errorf("filter %s: %v, want %v", q, slugsGot, want)
		}
	}

	// A tampered session is no session.
	u, _ := url.Parse(s.URL + "/fleet")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "cellplane_fleet" {
			forged := browserish(t)
			forged.Jar.SetCookies(u, []*http.Cookie{{Name: "cellplane_fleet", Value: strings.Replace(ck.Value, "v1.", "v1.9", 1), Path: "/fleet"}})
			if a := get(t, forged, s.URL+"/fleet"); a.Status != 401 {
				t.Errorf("a forged session: %d", a.Status)
			}
		}
	}

	// Logout needs the session's own token.
	if r := postForm(t, c, s.URL+"/fleet/logout", url.Values{"csrf": {token}}); r.Status != 403 {
		t.Errorf("logout with the login token: %d", r.Status)
	}
	logout := csrfOf(t, a.Body)
	if r := postForm(t, c, s.URL+"/fleet/logout", url.Values{"csrf": {logout}}); r.Status != 303 {
		t.Errorf("logout: %d", r.Status)
	}
	if a := get(t, c, s.URL+"/fleet"); a.Status != 401 {
		t.Errorf("after logout: %d", a.Status)
	}

	// Behind TLS the cookies are Secure.
	token = csrfOf(t, get(t, c, s.URL+"/fleet").Body)
	r = postForm(t, c, s.URL+"/fleet/login", url.Values{"key": {adminKey}, "csrf": {token}}, "X-Forwarded-Proto", "https")
	if r.Status != 303 || !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "Secure") {
		t.Errorf("login behind TLS: %d %v", r.Status, r.Header.Values("Set-Cookie"))
	}
}

// The fleet page with the data sources the provisioning and session services will
// provide: their operations and live session counts show.
type fixedOps []web.Operation

func (f fixedOps) OperationsInFlight(context.Context) ([]web.Operation, error) { return f, nil }

type fixedLive map[string]web.Live

func (f fixedLive) LiveSessions(context.Context) (map[string]web.Live, error) { return f, nil }

func TestFleetSessionExpiryOperationsAndLiveSessions(t *testing.T) {
	s := startServer(t)
	slugs := s.seed("ops")
	now := time.Now()
	clock := func() time.Time { return now }
	pages := web.New(web.Deps{Orgs: s.App.Orgs, Clusters: s.App.Clusters, AdminKey: adminKey, Now: clock, SessionTTL: time.Hour,
		Operations: fixedOps{{ID: "op-1", Kind: "onboard", Stack: "tenant-" + slugs[0], Org: slugs[0], State: "running", Attempt: 2,
			StartedAt: now.Add(-3 * time.Minute), Log: "pulumi up: creating namespace <" + slugs[0] + ">"}},
		LiveSessions: fixedLive{slugs[1]: {Sessions: 4, Participants: 11}}})
	hs := httptest.NewServer(pages.Routes())
	defer hs.Close()
	c := browserish(t)
	token := csrfOf(t, get(t, c, hs.URL+"/fleet").Body)
	if r := postForm(t, c, hs.URL+"/fleet/login", url.Values{"key": {adminKey}, "csrf": {token}}); r.Status != 303 {
		t.Fatalf("login: %d", r.Status)
	}
	a := get(t, c, hs.URL+"/fleet")
	if a.Status != 200 {
		t.Fatalf("%d", a.Status)
	}
	for _, want := range []string{`<td>tenant-` + slugs[0] + `</td>`, "running", "3m0s ago",
		"pulumi up: creating namespace &lt;" + slugs[0] + "&gt;", // escaped, never markup
		`<tr data-slug="` + slugs[1] + `">`} {
		if !strings.Contains(a.Body, want) {
			t.Errorf("the fleet lacks %s", want)
		}
	}
	if !regexp.MustCompile(`data-slug="` + slugs[1] + `">(?s:.*?)<td class="num">4 <small>\(11 in\)</small></td>`).MatchString(a.Body) {
		t.Errorf("live sessions of %s not shown", slugs[1])
	}
	now = now.Add(61 * time.Minute)
	if a := get(t, c, hs.URL+"/fleet"); a.Status != 401 {
		t.Errorf("an expired session: %d", a.Status)
	}
	// Without an admin key the console is off.
	off := httptest.NewServer(web.New(web.Deps{Orgs: s.App.Orgs, Clusters: s.App.Clusters}).Routes())
	defer off.Close()
	if a := get(t, nil, off.URL+"/fleet"); a.Status != 403 || !strings.Contains(a.Body, "no admin key") {
		t.Errorf("no admin key: %d", a.Status)
	}
}
