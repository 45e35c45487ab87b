package api_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCreateOrgPlacesSharedOnLeastLoadedCluster(t *testing.T) {
	in := start(t)
	a := in.sharedCluster("cell-a", "local", "local", 3)
	b := in.sharedCluster("cell-b", "local", "local", 3)
	in.sharedCluster("cell-elsewhere", "aws", "eu-central-1", 100)
	in.sharedCluster("cell-draining", "local", "local", 100)
	// A draining cluster takes no new tenants.
	if _, err := in.App.Pool.Exec(t.Context(), "UPDATE clusters SET status = 'draining' WHERE name = 'cell-draining'"); err != nil {
		t.Fatal(err)
	}

	counts := map[string]int{}
	for i := range 6 {
		org := in.org(fmt.Sprintf("shared-%d", i), "shared")
		if org["status"] != "provisioning" || org["tier"] != "shared" {
			t.Fatalf("org %v", org)
		}
		placement := org["placement"].(map[string]any)
		cluster := placement["cluster"].(map[string]any)
		id := cluster["id"].(string)
		if id != org["cluster_id"] || (id != a && id != b) {
			t.Fatalf("org %d placed on %v, want cell-a or cell-b", i, cluster)
		}
		if cluster["livekit_api_secret"] != nil || strings.Contains(fmt.Sprint(org), lkSecret) {
			t.Fatal("the placement carries the LiveKit secret")
		}
		counts[id]++
		// Least loaded first: the two cells never differ by more than one.
		if d := counts[a] - counts[b]; d > 1 || d < -1 {
			t.Fatalf("after %d orgs: cell-a has %d, cell-b %d", i+1, counts[a], counts[b])
		}
	}
	// Both full (3+3): a clear conflict naming the region and the full cells.
	r := in.do("POST", "/v1/orgs", adminKey, orgBody("one-too-many", "shared"))
	p := must(t, r, http.StatusConflict).Problem(t)
	for _, want := range []string{"local/local", "cell-a 3/3", "cell-b 3/3"} {
		if !strings.Contains(p.Detail, want) {
			t.Errorf("conflict detail %q does not mention %q", p.Detail, want)
		}
	}
	// No shared cell in the region at all.
	body := orgBody("no-cell", "shared")
	body["cloud"], body["region"] = "gcp", "europe-west3"
	p = must(t, in.do("POST", "/v1/orgs", adminKey, body), http.StatusConflict).Problem(t)
	if !strings.Contains(p.Detail, "no active shared cluster") || !strings.Contains(p.Detail, "gcp/europe-west3") {
		t.Errorf("detail %q", p.Detail)
	}
	var n int
	if err := in.App.Pool.QueryRow(t.Context(), "SELECT count(*) FROM orgs WHERE slug IN ('one-too-many', 'no-cell')").Scan(&n); err != nil || n != 0 {
		t.Fatalf("refused orgs were stored: %d (%v)", n, err)
	}
	// Capacity reported on the cluster.
	c := must(t, in.do("GET", "/v1/clusters/"+a, adminKey, nil), 200).Obj(t)
	if c["orgs"].(float64) != 3 || c["capacity"].(float64) != 3 {
		t.Fatalf("cluster %v", c)
	}
}

func TestCreateDedicatedOrgGetsItsOwnCluster(t *testing.T) {
	in := start(t)
	org := in.org("tier-a", "dedicated", "cloud", "aws", "region", "eu-central-1")
	cluster := org["placement"].(map[string]any)["cluster"].(map[string]any)
	if cluster["kind"] != "dedicated" || cluster["name"] != "org-tier-a" || cluster["stack"] != "org-tier-a" ||
		cluster["cloud"] != "aws" || cluster["region"] != "eu-central-1" || cluster["status"] != "pending" || cluster["orgs"].(float64) != 1 {
		t.Fatalf("dedicated cluster %v", cluster)
	}
	if org["cluster_id"] != cluster["id"] {
		t.Fatal("org not on its cluster")
	}
	if loc := in.do("GET", "/v1/orgs/tier-a", adminKey, nil); loc.Status != 200 {
		t.Fatalf("get: %d", loc.Status)
	}
	// A second dedicated org gets another cluster.
	other := in.org("tier-a-2", "dedicated", "cloud", "aws", "region", "eu-central-1")
	if other["cluster_id"] == org["cluster_id"] {
		t.Fatal("two dedicated orgs share a cluster")
	}
}

func TestCreateOrgValidation(t *testing.T) {
	in := start(t)
	in.sharedCluster("cell", "local", "local", 100)
	cases := []struct {
		name    string
		change  map[string]any
		drop    string
		field   string
		message string
	}{
		{"slug missing", nil, "slug", "slug", "slug is required"},
		{"slug upper case", map[string]any{"slug": "Bad"}, "", "slug", "lowercase letters"},
		{"slug too long", map[string]any{"slug": strings.Repeat("a", 41)}, "", "slug", "1-40"},
		{"slug leading dash", map[string]any{"slug": "-a"}, "", "slug", "starting and ending"},
		{"name missing", nil, "name", "name", "name is required"},
		{"name blank", map[string]any{"name": "   "}, "", "name", "name is required"},
		{"name too long", map[string]any{"name": strings.Repeat("n", 201)}, "", "name", "at most 200"},
		{"name control", map[string]any{"name": "a\x00b"}, "", "name", "control characters"},
		{"tier missing", nil, "tier", "tier", "tier is required"},
		{"tier unknown", map[string]any{"tier": "gold"}, "", "tier", `unknown tier "gold"; allowed: dedicated, shared`},
		{"cloud missing", nil, "cloud", "cloud", "cloud is required"},
		{"cloud unknown", map[string]any{"cloud": "oracle"}, "", "cloud", `unknown cloud "oracle"; allowed: aws, gcp, azure, local`},
		{"region missing", nil, "region", "region", "region is required"},
		{"region of another cloud", map[string]any{"cloud": "aws", "region": "europe-west3"}, "", "region", `region "europe-west3" is not a aws region`},
		{"version missing", nil, "version", "version", "version is required"},
		{"version not semver", map[string]any{"version": "v1.4"}, "", "version", "not a semantic version"},
		{"sizing missing", nil, "sizing", "sizing", "sizing is required"},
		{"sizing unknown", map[string]any{"sizing": "huge"}, "", "sizing", `unknown sizing "huge"; allowed: small, medium, large`},
		{"requirement name", map[string]any{"requirements": map[string]string{"Bad Key": "x"}}, "", "requirements.Bad Key", "requirement names"},
		{"requirement value", map[string]any{"requirements": map[string]string{"note": strings.Repeat("x", 501)}}, "", "requirements.note", "at most 500"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := orgBody("valid-slug", "shared")
			delete(body, c.drop)
			for k, v := range c.change {
				body[k] = v
			}
			p := must(t, in.do("POST", "/v1/orgs", adminKey, body), http.StatusUnprocessableEntity).Problem(t)
			if p.Type != "urn:cellplane:problem:invalid" {
				t.Errorf("type %q", p.Type)
			}
			found := false
			for _, e := range p.Errors {
				if e.Field == c.field && strings.Contains(e.Message, c.message) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no error for field %q containing %q: %+v", c.field, c.message, p.Errors)
			}
		})
	}
	many := map[string]string{}
	for i := range 33 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	body := orgBody("valid-slug", "shared")
	body["requirements"] = many
	p := must(t, in.do("POST", "/v1/orgs", adminKey, body), 422).Problem(t)
	if len(p.Errors) != 1 || p.Errors[0].Field != "requirements" {
		t.Fatalf("%+v", p.Errors)
	}
	// Every bad field at once.
	p = must(t, in.do("POST", "/v1/orgs", adminKey, map[string]any{"requirements": nil}), 422).Problem(t)
	fields := map[string]bool{}
	for _, e := range p.Errors {
		fields[e.Field] = true
	}
	for _, f := range []string{"slug", "name", "tier", "cloud", "region", "version", "sizing"} {
		if !fields[f] {
			t.Errorf("empty body: no error for %s (%+v)", f, p.Errors)
		}
	}
	// Nothing was stored by any of it.
	if r := in.do("GET", "/v1/orgs", adminKey, nil).Obj(t); len(r["orgs"].([]any)) != 0 {
		t.Fatalf("invalid requests stored orgs: %v", r)
	}
}

func TestRequestDecoding(t *testing.T) {
	in := start(t)
	good := `{"slug":"dec","name":"Dec","tier":"shared","cloud":"local","region":"local","version":"1.0.0","sizing":"small"}`
	cases := []struct {
		name        string
		body        string
		contentType string
		status      int
		field       string
		detail      string
	}{
		{"unknown field", `{"slug":"dec","colour":"blue"}`, "application/json", 400, "colour", "unknown field"},
		{"wrong type", `{"slug":42}`, "application/json", 400, "slug", "must be a string"},
		{"wrong type in map", `{"requirements":{"a":1}}`, "application/json", 400, "requirements", "must be a string"},
		{"not an object", `[1,2]`, "application/json", 400, "", "must be a JSON object"},
		{"bad json", `{"slug":`, "application/json", 400, "", "not valid JSON"},
		{"syntax error", `{"slug" "x"}`, "application/json", 400, "", "not valid JSON (at byte"},
		{"empty body", ``, "application/json", 400, "", "body is empty"},
		{"trailing data", good + `{}`, "application/json", 400, "", "exactly one JSON object"},
		{"no content type", good, "", 415, "", "Content-Type: application/json"},
		{"form content type", good, "application/x-www-form-urlencoded", 415, "", "must be JSON"},
		{"too large", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, "application/json", 413, "", "larger than 65536 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", in.URL+"/v1/orgs", strings.NewReader(c.body))
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			req.Header.Set("Authorization", "Bearer "+adminKey)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			p := must(t, response{Status: res.StatusCode, Header: res.Header, Body: b}, c.status).Problem(t)
			if c.field == "" && !strings.Contains(p.Detail, c.detail) {
				t.Errorf("detail %q does not contain %q", p.Detail, c.detail)
			}
			if c.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != c.field || !strings.Contains(p.Errors[0].Message, c.detail)) {
				t.Errorf("errors %+v, want field %q with %q", p.Errors, c.field, c.detail)
			}
		})
	}
	// The same good body with charset is accepted (reaches placement: 409, no cell).
	r := in.do("POST", "/v1/orgs", adminKey, good, "Content-Type", "application/json; charset=utf-8")
	must(t, r, http.StatusConflict)
}

func TestDuplicateSlug(t *testing.T) {
	in := start(t)
	in.sharedCluster("cell", "local", "local", 100)
	in.org("dup", "shared")
	p := must(t, in.do("POST", "/v1/orgs", adminKey, orgBody("dup", "dedicated")), http.StatusConflict).Problem(t)
	if !strings.Contains(p.Detail, `slug "dup" already exists`) {
		t.Fatalf("detail %q", p.Detail)
	}
	var clusters int
	if err := in.App.Pool.QueryRow(t.Context(), "SELECT count(*) FROM clusters WHERE kind = 'dedicated'").Scan(&clusters); err != nil || clusters != 0 {
		t.Fatalf("the refused dedicated org left a cluster record (%d, %v)", clusters, err)
	}
}

func TestConcurrentCreatesOfOneSlug(t *testing.T) {
	in := start(t)
	in.sharedCluster("cell", "local", "local", 100)
	for _, tier := range []string{"shared", "dedicated"} {
		t.Run(tier, func(t *testing.T) {
			const n = 12
			slug := "race-" + tier
			statuses := make([]int, n)
			var wg sync.WaitGroup
			startGun := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-startGun
					statuses[i] = in.do("POST", "/v1/orgs", adminKey, orgBody(slug, tier)).Status
				}()
			}
			close(startGun)
			wg.Wait()
			created, conflicts := 0, 0
			for _, s := range statuses {
				switch s {
				case 202:
					created++
				case 409:
					conflicts++
				}
			}
			if created != 1 || conflicts != n-1 {
				t.Fatalf("statuses %v: want exactly one 202 and %d 409", statuses, n-1)
			}
			var orgs, clusters int
			_ = in.App.Pool.QueryRow(t.Context(), "SELECT count(*) FROM orgs WHERE slug = $1", slug).Scan(&orgs)
			_ = in.App.Pool.QueryRow(t.Context(), "SELECT count(*) FROM clusters WHERE name = $1", "org-"+slug).Scan(&clusters)
			wantClusters := 0
			if tier == "dedicated" {
				wantClusters = 1
			}
			if orgs != 1 || clusters != wantClusters {
				t.Fatalf("%d orgs and %d dedicated clusters stored", orgs, clusters)
			}
		})
	}
}

func TestConcurrentPlacementsNeverOverfillACell(t *testing.T) {
	in := start(t)
	in.sharedCluster("small-cell", "local", "local", 3)
	const n = 10
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = in.do("POST", "/v1/orgs", adminKey, orgBody(fmt.Sprintf("fill-%d", i), "shared")).Status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		if s == 202 {
			created++
		} else if s != 409 {
			t.Fatalf("status %d", s)
		}
	}
	if created != 3 {
		t.Fatalf("%d orgs placed on a cell of capacity 3 (%v)", created, statuses)
	}
}

func TestListOrgsPaginates(t *testing.T) {
	in := start(t)
	in.sharedCluster("cell", "local", "local", 100)
	var want []string
	for i := range 7 {
		slug := fmt.Sprintf("page-%d", 6-i)
		in.org(slug, "shared")
		want = append([]string{slug}, want...)
	}
	var got []string
	cursor := ""
	pages := 0
	for {
		path := "/v1/orgs?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var page struct {
			Orgs []struct {
				Slug string `json:"slug"`
			} `json:"orgs"`
			NextCursor string `json:"next_cursor"`
		}
		must(t, in.do("GET", path, adminKey, nil), 200).JSON(t, &page)
		pages++
		for _, o := range page.Orgs {
			got = append(got, o.Slug)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if pages != 3 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%d pages: %v, want %v", pages, got, want)
	}
	for _, bad := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=501", "limit"}, {"limit=x", "limit"}, {"cursor=%21%21", "cursor"}, {"cursor=Zm9v", "cursor"},
	} {
		p := must(t, in.do("GET", "/v1/orgs?"+bad.query, adminKey, nil), 422).Problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Field != bad.field {
			t.Errorf("%s: %+v", bad.query, p.Errors)
		}
	}
	// Default page size holds them all.
	if r := must(t, in.do("GET", "/v1/orgs", adminKey, nil), 200).Obj(t); len(r["orgs"].([]any)) != 7 || r["next_cursor"] != nil {
		t.Fatalf("default page: %v", r)
	}
}

func TestGetUpdateDeleteOrg(t *testing.T) {
	in := start(t)
	in.sharedCluster("cell", "local", "local", 100)
	created := in.org("acme", "shared")
	got := must(t, in.do("GET", "/v1/orgs/acme", adminKey, nil), 200).Obj(t)
	if got["id"] != created["id"] || got["version"] != "1.4.5" || got["requirements"].(map[string]any)["residency"] != "local" {
		t.Fatalf("get: %v", got)
	}
	p := must(t, in.do("GET", "/v1/orgs/nope", adminKey, nil), 404).Problem(t)
	if p.Detail != `org "nope" not found` {
		t.Fatalf("detail %q", p.Detail)
	}

	// PATCH: version, sizing, name change; the same cloud/region is no change.
	upd := must(t, in.do("PATCH", "/v1/orgs/acme", adminKey, map[string]any{"version": "1.5.0", "sizing": "large", "name": "ACME Medical", "cloud": "local", "region": "local"}), 202).Obj(t)
	if upd["version"] != "1.5.0" || upd["sizing"] != "large" || upd["name"] != "ACME Medical" || upd["operation"].(map[string]any)["kind"] != "upgrade" {
		t.Fatalf("patch: %v", upd)
	}
	if got := must(t, in.do("GET", "/v1/orgs/acme", adminKey, nil), 200).Obj(t); got["version"] != "1.5.0" || got["updated_at"] == created["updated_at"] {
		t.Fatalf("patch not stored: %v", got)
	}
	for _, c := range []struct {
		body    map[string]any
		status  int
		field   string
		message string
	}{
		{map[string]any{"cloud": "aws"}, 422, "cloud", "data residency"},
		{map[string]any{"region": "elsewhere"}, 422, "region", "data residency"},
		{map[string]any{"tier": "dedicated"}, 422, "tier", "cannot be changed"},
		{map[string]any{"slug": "acme2"}, 422, "slug", "cannot be changed"},
		{map[string]any{"version": "latest"}, 422, "version", "not a semantic version"},
		{map[string]any{"sizing": "xl"}, 422, "sizing", "unknown sizing"},
		{map[string]any{"name": ""}, 422, "name", "name is required"},
		{map[string]any{"status": "ready"}, 400, "status", "unknown field"},
		{map[string]any{"version": 2}, 400, "version", "must be a string"},
	} {
		p := must(t, in.do("PATCH", "/v1/orgs/acme", adminKey, c.body), c.status).Problem(t)
		if len(p.Errors) == 0 || p.Errors[0].Field != c.field || !strings.Contains(p.Errors[0].Message, c.message) {
			t.Errorf("PATCH %v: %+v", c.body, p.Errors)
		}
	}
	if got := must(t, in.do("GET", "/v1/orgs/acme", adminKey, nil), 200).Obj(t); got["cloud"] != "local" || got["version"] != "1.5.0" || got["sizing"] != "large" {
		t.Fatalf("a refused PATCH changed the org: %v", got)
	}
	must(t, in.do("PATCH", "/v1/orgs/nope", adminKey, map[string]any{"version": "1.0.0"}), 404)

	// DELETE marks for teardown; repeating it is harmless; the org can no longer change.
	del := must(t, in.do("DELETE", "/v1/orgs/acme", adminKey, nil), 202).Obj(t)
	if del["status"] != "deleting" {
		t.Fatalf("delete: %v", del)
	}
	must(t, in.do("DELETE", "/v1/orgs/acme", adminKey, nil), 202)
	p = must(t, in.do("PATCH", "/v1/orgs/acme", adminKey, map[string]any{"version": "1.6.0"}), 409).Problem(t)
	if !strings.Contains(p.Detail, "being deleted") {
		t.Fatalf("detail %q", p.Detail)
	}
	must(t, in.do("DELETE", "/v1/orgs/nope", adminKey, nil), 404)
	// Only ready orgs are routed: its route is gone.
	eventually(t, 2*time.Second, "route of a deleting org removed", func() bool {
		return in.do("GET", "/v1/route/acme", "", nil).Status == 404
	})
}
