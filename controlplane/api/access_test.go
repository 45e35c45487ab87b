package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCrossOrgAccessMatrix drives every org-scoped route with one org's key against
// another org, and checks that the answer is byte for byte the answer about an org that
// does not exist (a slug of the same length, so even Content-Length matches), and that
// nothing changed.
func TestCrossOrgAccessMatrix(t *testing.T) {
	in := start(t)
	in.sharedCluster("cell", "local", "local", 100)
	in.org("alpha", "shared")
	in.org("beta", "shared")
	_, alphaKey := in.key("alpha")
	betaKeyID, betaKey := in.key("beta")

	before := func() (org, keys []byte) {
		return must(t, in.do("GET", "/v1/orgs/beta", adminKey, nil), 200).Body,
			must(t, in.do("GET", "/v1/orgs/beta/keys", adminKey, nil), 200).Body
	}
	orgBefore, keysBefore := before()

	routes := []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/orgs/{slug}", nil},
		{"PATCH", "/v1/orgs/{slug}", map[string]any{"version": "9.9.9", "name": "pwned"}},
		{"DELETE", "/v1/orgs/{slug}", nil},
		{"POST", "/v1/orgs/{slug}/keys", map[string]any{"name": "intruder"}},
		{"GET", "/v1/orgs/{slug}/keys", nil},
		{"DELETE", "/v1/orgs/{slug}/keys/" + betaKeyID, nil},
	}
	for _, rt := range routes {
		other := in.do(rt.method, strings.ReplaceAll(rt.path, "{slug}", "beta"), alphaKey, rt.body)
		ghost := in.do(rt.method, strings.ReplaceAll(rt.path, "{slug}", "zeta"), alphaKey, rt.body)
		if other.Status != http.StatusNotFound {
			t.Errorf("%s %s with another org's key: status %d (%s)", rt.method, rt.path, other.Status, other.Body)
			continue
		}
		if got, want := bytes.ReplaceAll(other.Body, []byte("beta"), []byte("zeta")), ghost.Body; !bytes.Equal(got, want) || other.Status != ghost.Status {
			t.Errorf("%s %s: another org's answer differs from a missing org's:\n%s\n%s", rt.method, rt.path, other.Body, ghost.Body)
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length", "WWW-Authenticate"} {
			if other.Header.Get(h) != ghost.Header.Get(h) {
				t.Errorf("%s %s: header %s differs: %q vs %q", rt.method, rt.path, h, other.Header.Get(h), ghost.Header.Get(h))
			}
		}
		// The admin gets the same 404 for the missing org: org keys learn nothing more.
		admin := in.do(rt.method, strings.ReplaceAll(rt.path, "{slug}", "zeta"), adminKey, rt.body)
		if admin.Status != 404 || !bytes.Equal(admin.Body, ghost.Body) {
			t.Errorf("%s %s: admin on a missing org: %d %s", rt.method, rt.path, admin.Status, admin.Body)
		}
	}
	orgAfter, keysAfter := before()
	if !bytes.Equal(orgBefore, orgAfter) || !bytes.Equal(keysBefore, keysAfter) {
		t.Fatalf("beta changed:\n%s\n%s\n%s\n%s", orgBefore, orgAfter, keysBefore, keysAfter)
	}
	must(t, in.do("GET", "/v1/orgs/beta", betaKey, nil), 200)
	// Alpha's own org still works for it, and its list is its own.
	must(t, in.do("GET", "/v1/orgs/alpha", alphaKey, nil), 200)
	if b := must(t, in.do("GET", "/v1/orgs/alpha/keys", alphaKey, nil), 200).Body; bytes.Contains(b, []byte(betaKeyID)) {
		t.Fatal("alpha's key list shows beta's key")
	}
	// And its route list (the public router) is unaffected by any of it.
	eventually(t, 2*time.Second, "beta's route unchanged", func() bool {
		r := in.do("GET", "/v1/route/beta", "", nil)
		return r.Status == 200 && r.Obj(t)["status"] == "ready"
	})
}

func TestRouteLookup(t *testing.T) {
	in := start(t)
	clusterID := in.sharedCluster("cell", "local", "local", 100)
	in.org("routed", "shared")
	var r response
	eventually(t, 2*time.Second, "route appears", func() bool {
		r = in.do("GET", "/v1/route/routed", "", nil)
		return r.Status == 200
	})
	got := r.Obj(t)
	want := map[string]any{"slug": "routed", "cloud": "local", "region": "local", "api_url": "https://api.cell.example.test",
		"livekit_url": "wss://lk.cell.example.test", "status": "ready"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("route %s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("route has extra fields: %v", got)
	}
	etag := r.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || r.Header.Get("Cache-Control") != "public, max-age=5" || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", r.Header)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		nm := in.do("GET", "/v1/route/routed", "", nil, "If-None-Match", inm)
		if nm.Status != 304 || len(nm.Body) != 0 || nm.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d %q", inm, nm.Status, nm.Body)
		}
	}
	must(t, in.do("GET", "/v1/route/routed", "", nil, "If-None-Match", `"stale"`), 200)
	p := must(t, in.do("GET", "/v1/route/unknown-org", "", nil), 404).Problem(t)
	if p.Detail != `org "unknown-org" not found` {
		t.Fatal(p.Detail)
	}

	// A cluster change reaches the route (trigger -> NOTIFY -> reload), with a new ETag.
	if _, err := in.App.Pool.Exec(t.Context(), "UPDATE clusters SET livekit_url = 'wss://moved.example.test' WHERE id = $1", clusterID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "route follows its cluster", func() bool {
		r = in.do("GET", "/v1/route/routed", "", nil)
		return r.Obj(t)["livekit_url"] == "wss://moved.example.test"
	})
	if r.Header.Get("ETag") == etag {
		t.Fatal("ETag unchanged after the route changed")
	}
	// A removed org leaves the table.
	if _, err := in.App.Pool.Exec(t.Context(), "DELETE FROM orgs WHERE slug = 'routed'"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "route removed", func() bool { return in.do("GET", "/v1/route/routed", "", nil).Status == 404 })
}

func TestProbesAndMetrics(t *testing.T) {
	in := start(t)
	in.sharedCluster("cell", "local", "local", 100)
	in.org("metered", "shared")
	if r := must(t, in.do("GET", "/healthz", "", nil), 200).Obj(t); r["status"] != "ok" {
		t.Fatal(r)
	}
	eventually(t, 5*time.Second, "ready", func() bool { return in.do("GET", "/readyz", "", nil).Status == 200 })
	r := in.do("GET", "/readyz", "", nil).Obj(t)
	checks := r["checks"].(map[string]any)
	if r["status"] != "ready" || checks["database"].(map[string]any)["status"] != "ok" || checks["router"].(map[string]any)["status"] != "ok" {
		t.Fatal(r)
	}
	eventually(t, 2*time.Second, "route", func() bool { return in.do("GET", "/v1/route/metered", "", nil).Status == 200 })
	in.do("GET", "/v1/route/nobody", "", nil)
	m := string(must(t, in.do("GET", "/metrics", "", nil), 200).Body)
	for _, want := range []string{
		`cellplane_http_requests_total{code="200",method="GET",route="/v1/route/{slug}"}`,
		`cellplane_http_requests_total{code="404",method="GET",route="/v1/route/{slug}"}`,
		`cellplane_http_requests_total{code="202",method="POST",route="/v1/orgs"}`,
		`cellplane_http_request_duration_seconds_bucket{method="GET",route="/v1/route/{slug}",le="0.001"}`,
		"cellplane_router_routes 1",
		"cellplane_db_pool_total_conns",
		"cellplane_db_pool_acquires_total",
		"go_goroutines",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(m, "/v1/route/metered") {
		t.Error("a raw path is used as a metric label")
	}
	o := must(t, in.do("GET", "/openapi.yaml", "", nil), 200)
	if o.Header.Get("Content-Type") != "application/yaml" || !bytes.HasPrefix(o.Body, []byte("openapi: 3.1")) {
		t.Fatalf("openapi: %v %.40s", o.Header, o.Body)
	}
}
