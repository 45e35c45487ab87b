package web_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/cellplane/cellplane/controlplane/costmodel"
)

// The pages in a real browser: Debian's chromium, driven over the DevTools protocol.
const chromiumPath = "/usr/bin/chromium"

// browser starts a fresh headless chromium for the test and collects what the pages
// write to the console (a CSP violation or a script error shows up there).
type browser struct {
	ctx context.Context
	mu  sync.Mutex
	log []chromedp.ConsoleMessage
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing: install Debian's chromium with `apt-get update && apt-get install -y chromium` (make test does it)", chromiumPath)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b := &browser{ctx: ctx}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.log = append(b.log, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// problems returns the console errors and warnings seen so far, but for the failed
// loads with the expected statuses (a 422 for a bad input, a 401 for a wrong key).
func (b *browser) problems(expected ...int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
next:
	for _, m := range b.log {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleWarning && !m.IsException() {
			continue
		}
		for _, code := range expected {
			if m.Source == "network" && strings.Contains(m.Text, fmt.Sprintf("status of %d", code)) {
				continue next
			}
		}
		out = append(out, m.String()+" ("+m.URL+")")
	}
	return out
}

func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func run[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// discard turns an action with a value into a step.
func discard[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// script runs statements in the page.
func script(js string) chromedp.Action[chromedp.Void] {
	return discard(chromedp.Evaluate[bool](`(() => {` + js + `; return true; })()`))
}

// submit submits the form of the element and waits for the page it leads to.
func submit(sel chromedp.ID) chromedp.Action[chromedp.Void] {
	return discard(chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Submit(sel)))
}

func (b *browser) text(t *testing.T, id string) string {
	t.Helper()
	return strings.TrimSpace(run(t, b, chromedp.Evaluate[string](fmt.Sprintf(`document.getElementById(%q).textContent`, id))))
}

// waitText waits until the element's text is want.
func (b *browser) waitText(t *testing.T, id, want string) {
	t.Helper()
	expr := fmt.Sprintf(`document.getElementById(%q) && document.getElementById(%q).textContent.trim() === %q`, id, id, want)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("#%s never showed %q (it shows %q): %v", id, want, b.text(t, id), err)
	}
}

func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	png := run(t, b, chromedp.FullScreenshot(100))
	path := filepath.Join(artifacts(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// artifacts is where screenshots go: $CELLPLANE_ARTIFACTS, or a folder in the system's
// temporary directory (never the work tree).
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CELLPLANE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "cellplane-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

var pathNumbers = regexp.MustCompile(`-?\d+(?:\.\d+)?`)

// samePath compares two SVG path strings number by number, allowing the rounding of the
// last digit (the server and the script round halves differently).
func samePath(a, b string) bool {
	x, y := pathNumbers.FindAllString(a, -1), pathNumbers.FindAllString(b, -1)
	if len(x) != len(y) || len(x) == 0 {
		return false
	}
	for i := range x {
		p, _ := strconv.ParseFloat(x[i], 64)
		q, _ := strconv.ParseFloat(y[i], 64)
		if math.Abs(p-q) > 0.11 {
			return false
		}
	}
	return true
}

func estimate(t *testing.T, in costmodel.Inputs) *costmodel.Estimate {
	t.Helper()
	e, err := costmodel.Default().Estimate(in)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var lineB = regexp.MustCompile(`<path id="line-b" class="line-b" d="([^"]+)">`)

func TestCostPageInBrowser(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t)
	b.do(t, chromedp.Navigate(s.URL+"/cost?cloud=aws&region=us-east-1&sizing=small&tenants=10"), chromedp.WaitVisible(chromedp.ID("chart")))

	before := estimate(t, costmodel.Inputs{Cloud: "aws", Region: "us-east-1", Sizing: "small", Tenants: 10})
	if got := b.text(t, "tier-a-per-org"); got != costmodel.Money(before.TierA.PerOrg) {
		t.Fatalf("tier A shows %s, want %s", got, costmodel.Money(before.TierA.PerOrg))
	}
	pathBefore := run(t, b, chromedp.Evaluate[string](`document.getElementById('line-b').getAttribute('d')`))
	markerBefore := run(t, b, chromedp.Evaluate[string](`document.getElementById('marker-n').getAttribute('cy')`))

	// Keyboard: Tab from the top reaches the skip link, the nav and then the inputs.
	var focus []string
	for range 5 {
		b.do(t, chromedp.KeyEvent("\t"))
		focus = append(focus, run(t, b, chromedp.Evaluate[string](`document.activeElement.id || document.activeElement.getAttribute('href') || document.activeElement.tagName`)))
	}
	if strings.Join(focus, " ") != "#main /cost /fleet cloud region" {
		t.Errorf("tab order: %v", focus)
	}

	// Type a monthly volume: numbers and chart follow without a page load.
	b.do(t, chromedp.SendKeys(chromedp.ID("sessions"), "5000"))
	after := estimate(t, costmodel.Inputs{Cloud: "aws", Region: "us-east-1", Sizing: "small", Tenants: 10, Sessions: ptr(5000)})
	b.waitText(t, "tier-a-per-org", costmodel.Money(after.TierA.PerOrg))
	b.waitText(t, "tier-b-per-org", costmodel.Money(after.TierB.PerOrg))
	b.waitText(t, "variable-total", costmodel.Money(after.Variable.Total))
	pathAfter := run(t, b, chromedp.Evaluate[string](`document.getElementById('line-b').getAttribute('d')`))
	if pathAfter == pathBefore {
		t.Errorf("the tier B line did not move: %s", pathAfter)
	}
	if m := run(t, b, chromedp.Evaluate[string](`document.getElementById('marker-n').getAttribute('cy')`)); m == markerBefore {
		t.Errorf("the marker of N did not move (cy %s)", m)
	}
	// The script draws what the server draws for the same inputs.
	page := get(t, nil, s.URL+"/cost?cloud=aws&region=us-east-1&sizing=small&tenants=10&sessions=5000")
	if m := lineB.FindStringSubmatch(page.Body); m == nil || !samePath(m[1], pathAfter) {
		t.Errorf("the script's tier B line differs from the server's:\n script %s\n server %v", pathAfter, m)
	}
	if loc := run(t, b, chromedp.Location()); !strings.Contains(loc, "sessions=5000") {
		t.Errorf("the address does not keep the inputs: %s", loc)
	}

	// Another cloud: the regions follow, and so do the numbers.
	b.do(t, script(`const s = document.getElementById('cloud'); s.value = 'gcp'; s.dispatchEvent(new Event('change', {bubbles: true}))`))
	gcp := estimate(t, costmodel.Inputs{Cloud: "gcp", Sizing: "small", Tenants: 10, Sessions: ptr(5000)})
	b.waitText(t, "tier-a-per-org", costmodel.Money(gcp.TierA.PerOrg))
	if r := run(t, b, chromedp.Evaluate[string](`document.getElementById('region').value`)); r != "us-central1" {
		t.Errorf("region after switching to gcp: %s", r)
	}
	if be := b.text(t, "break-even"); be != fmt.Sprintf("N = %d", *gcp.BreakEven.Tenants) {
		t.Errorf("break-even shows %q", be)
	}
	if n := run(t, b, chromedp.Evaluate[int](`document.querySelectorAll('#baseline-items tbody tr').length`)); n != len(gcp.Baseline.Items) {
		t.Errorf("baseline table has %d rows", n)
	}
	if src := run(t, b, chromedp.Evaluate[string](`document.querySelector('#baseline-items tbody tr a').href`)); src != "https://cloud.google.com/kubernetes-engine/pricing" {
		t.Errorf("first source link: %s", src)
	}

	// N moves the chart's marker and tier B, not tier A.
	b.do(t, script(`const n = document.getElementById('tenants'); n.value = '40'; n.dispatchEvent(new Event('input', {bubbles: true}))`))
	gcp40 := estimate(t, costmodel.Inputs{Cloud: "gcp", Sizing: "small", Tenants: 40, Sessions: ptr(5000)})
	b.waitText(t, "tier-b-per-org", costmodel.Money(gcp40.TierB.PerOrg))
	b.waitText(t, "tier-b-tenants", "40")
	if a := b.text(t, "tier-a-per-org"); a != costmodel.Money(gcp.TierA.PerOrg) {
		t.Errorf("tier A changed with N: %s", a)
	}
	b.screenshot(t, "cost.png")

	// A bad input is named on its field, and the numbers stay.
	b.do(t, script(`const n = document.getElementById('tenants'); n.value = '0'; n.dispatchEvent(new Event('input', {bubbles: true}))`))
	b.waitText(t, "tenants-error", "tenants per shared cell must be between 1 and 10000, not 0")
	if inv := run(t, b, chromedp.Evaluate[string](`document.getElementById('tenants').getAttribute('aria-invalid')`)); inv != "true" {
		t.Errorf("the bad field is not marked invalid")
	}
	if p := b.problems(422); len(p) > 0 {
		t.Errorf("console errors or warnings (CSP violations show here): %v", p)
	}
}

func TestFleetPageInBrowser(t *testing.T) {
	s := startServer(t)
	slugs := s.seed("web")
	b := newBrowser(t)

	// Without the key: the login form, and no fleet.
	b.do(t, chromedp.Navigate(s.URL+"/fleet"), chromedp.WaitVisible(chromedp.ID("key")))
	if has := run(t, b, chromedp.Evaluate[bool](`!!document.getElementById('orgs')`)); has {
		t.Fatal("the fleet shows without a login")
	}
	if body := run(t, b, chromedp.Evaluate[string](`document.body.innerText`)); strings.Contains(body, slugs[0]) {
		t.Fatal("an org shows without a login")
	}
	b.screenshot(t, "fleet-login.png")

	// A wrong key is refused on the form.
	b.do(t, chromedp.SendKeys(chromedp.ID("key"), "not-the-admin-key"), submit(chromedp.ID("key")))
	b.waitText(t, "login-error", "That is not the admin key.")

	// The right key, typed into the form.
	b.do(t, chromedp.SendKeys(chromedp.ID("key"), adminKey), submit(chromedp.ID("key")), chromedp.WaitVisible(chromedp.ID("orgs")))
	rows := run(t, b, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#orgs tbody tr')].map(r => r.dataset.slug)`))
	for _, slug := range slugs {
		if !strings.Contains(strings.Join(rows, " "), slug) {
			t.Errorf("the fleet lacks %s: %v", slug, rows)
		}
	}
	loc := run(t, b, chromedp.Location())
	cookies := run(t, b, chromedp.Evaluate[string](`document.cookie`))
	if strings.Contains(loc, adminKey) || strings.Contains(cookies, "cellplane_fleet") {
		t.Errorf("the key or the session leaks: location %s, script-visible cookies %q", loc, cookies)
	}
	cells := run(t, b, chromedp.Evaluate[string](`document.querySelector('#clusters tr[data-cluster="web-cell"]').innerText`))
	if !strings.Contains(cells, "web-cell") || !strings.Contains(cells, "2 / 8") {
		t.Errorf("cluster row: %q", cells)
	}
	b.screenshot(t, "fleet.png")

	// Search.
	b.do(t, chromedp.SendKeys(chromedp.ID("q"), "northside"), submit(chromedp.ID("q")))
	if n := run(t, b, chromedp.Evaluate[int](`document.querySelectorAll('#orgs tbody tr').length`)); n != 1 {
		t.Errorf("search shows %d orgs", n)
	}
	if one := run(t, b, chromedp.Evaluate[string](`document.querySelector('#orgs tbody tr').dataset.slug`)); one != "web-northside" {
		t.Errorf("search found %s", one)
	}

	// Log out: the login form is back.
	b.do(t, discard(chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(".logout button")))), chromedp.WaitVisible(chromedp.ID("key")))
	if has := run(t, b, chromedp.Evaluate[bool](`!!document.getElementById('orgs')`)); has {
		t.Error("the fleet shows after logout")
	}
	if p := b.problems(401); len(p) > 0 {
		t.Errorf("console errors or warnings (CSP violations show here): %v", p)
	}
}
