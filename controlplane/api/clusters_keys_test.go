package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/controlplane/secrets"
)

func clusterBody() map[string]any {
	return map[string]any{"name": "cell-x", "cloud": "aws", "region": "eu-west-1", "kind": "shared",
		"api_url": "https://api.x.example.test", "livekit_url": "wss://lk.x.example.test", "livekit_version": "1.9.0",
		"livekit_api_key": "APIxyz", "livekit_api_secret": lkSecret, "capacity": 40, "stack": "cell-aws-eu-west-1-1"}
}

func TestClusters(t *testing.T) {
	in := start(t)
	r := must(t, in.do("POST", "/v1/clusters", adminKey, clusterBody()), http.StatusCreated)
	if bytes.Contains(r.Body, []byte(lkSecret)) || bytes.Contains(r.Body, []byte("secret")) {
		t.Fatalf("the response carries the secret: %s", r.Body)
	}
	c := r.Obj(t)
	id := c["id"].(string)
	if r.Header.Get("Location") != "/v1/clusters/"+id || c["status"] != "active" || c["capacity"].(float64) != 40 ||
		c["livekit_api_key"] != "APIxyz" || c["stack"] != "cell-aws-eu-west-1-1" || c["orgs"].(float64) != 0 {
		t.Fatalf("created: %v (%v)", c, r.Header)
	}

	// Stored sealed: not in the clear anywhere in the row, and it opens with the master key.
	var sealed []byte
	var row string
	if err := in.App.Pool.QueryRow(t.Context(), "SELECT livekit_api_secret_sealed, c::text FROM clusters c WHERE id = $1", id).Scan(&sealed, &row); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(lkSecret)) || strings.Contains(row, lkSecret) {
		t.Fatal("the LiveKit secret is stored in the clear")
	}
	creds, err := in.App.Clusters.LiveKitCredentials(t.Context(), id)
	if err != nil || creds.APISecret != lkSecret || creds.APIKey != "APIxyz" || creds.URL != "wss://lk.x.example.test" {
		t.Fatalf("credentials: %+v, %v", creds, err)
	}
	// Under another master key it does not open.
	other, _ := secrets.ParseMasterKey(secrets.GenerateMasterKey())
	if _, err := other.Open(sealed, []byte("cellplane.clusters:"+id+":livekit_api_secret")); err == nil {
		t.Fatal("opened under another master key")
	}

	got := must(t, in.do("GET", "/v1/clusters/"+id, adminKey, nil), 200).Obj(t)
	if got["name"] != "cell-x" || got["livekit_api_secret"] != nil {
		t.Fatalf("get: %v", got)
	}
	must(t, in.do("GET", "/v1/clusters/not-a-uuid", adminKey, nil), 404)
	p := must(t, in.do("GET", "/v1/clusters/00000000-0000-0000-0000-000000000001", adminKey, nil), 404).Problem(t)
	if !strings.Contains(p.Detail, "not found") {
		t.Fatalf("detail %q", p.Detail)
	}

	second := clusterBody()
	second["name"], second["cloud"], second["region"], second["kind"], second["capacity"], second["stack"] = "org-solo", "gcp", "us-east1", "dedicated", 1, ""
	must(t, in.do("POST", "/v1/clusters", adminKey, second), http.StatusCreated)
	var list struct {
		Clusters []map[string]any `json:"clusters"`
	}
	must(t, in.do("GET", "/v1/clusters", adminKey, nil), 200).JSON(t, &list)
	if len(list.Clusters) != 2 || list.Clusters[0]["name"] != "cell-x" {
		t.Fatalf("list: %v", list)
	}
	for query, want := range map[string]string{"?kind=dedicated": "org-solo", "?cloud=aws": "cell-x", "?cloud=gcp&region=us-east1": "org-solo"} {
		must(t, in.do("GET", "/v1/clusters"+query, adminKey, nil), 200).JSON(t, &list)
		if len(list.Clusters) != 1 || list.Clusters[0]["name"] != want {
			t.Errorf("%s: %v", query, list.Clusters)
		}
	}

	// Duplicates: name, stack.
	p = must(t, in.do("POST", "/v1/clusters", adminKey, clusterBody()), 409).Problem(t)
	if !strings.Contains(p.Detail, "name already exists") {
		t.Fatalf("detail %q", p.Detail)
	}
	dupStack := clusterBody()
	dupStack["name"] = "cell-y"
	p = must(t, in.do("POST", "/v1/clusters", adminKey, dupStack), 409).Problem(t)
	if !strings.Contains(p.Detail, "stack name already exists") {
		t.Fatalf("detail %q", p.Detail)
	}
}

func TestClusterValidation(t *testing.T) {
	in := start(t)
	cases := []struct {
		name    string
		change  map[string]any
		drop    string
		field   string
		message string
	}{
		{"name missing", nil, "name", "name", "name is required"},
		{"name bad", map[string]any{"name": "Cell_X"}, "", "name", "lowercase letters"},
		{"cloud missing", nil, "cloud", "cloud", "cloud is required"},
		{"cloud unknown", map[string]any{"cloud": "ibm"}, "", "cloud", "unknown cloud"},
		{"region missing", nil, "region", "region", "region is required"},
		{"region wrong", map[string]any{"region": "mars-1"}, "", "region", "not a aws region"},
		{"kind missing", nil, "kind", "kind", "kind is required"},
		{"kind unknown", map[string]any{"kind": "hybrid"}, "", "kind", "unknown kind"},
		{"api url", map[string]any{"api_url": "ftp://x"}, "", "api_url", "not an absolute URL"},
		{"livekit url missing", nil, "livekit_url", "livekit_url", "livekit_url is required"},
		{"livekit url relative", map[string]any{"livekit_url": "/lk"}, "", "livekit_url", "not an absolute URL"},
		{"livekit version", map[string]any{"livekit_version": "v1"}, "", "livekit_version", "not a semantic version"},
		{"key missing", nil, "livekit_api_key", "livekit_api_key", "livekit_api_key is required"},
		{"key spaces", map[string]any{"livekit_api_key": "a b"}, "", "livekit_api_key", "printable ASCII"},
		{"secret missing", nil, "livekit_api_secret", "livekit_api_secret", "livekit_api_secret is required"},
		{"secret short", map[string]any{"livekit_api_secret": "short"}, "", "livekit_api_secret", "32 to 500 characters"},
		{"capacity missing (shared)", nil, "capacity", "capacity", "required for a shared cluster"},
		{"capacity zero", map[string]any{"capacity": 0}, "", "capacity", "between 1 and 10000"},
		{"capacity dedicated", map[string]any{"kind": "dedicated", "capacity": 5}, "", "capacity", "capacity must be 1"},
		{"status", map[string]any{"status": "broken"}, "", "status", "unknown status"},
		{"stack", map[string]any{"stack": "a b"}, "", "stack", "stack name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := clusterBody()
			delete(body, c.drop)
			for k, v := range c.change {
				body[k] = v
			}
			p := must(t, in.do("POST", "/v1/clusters", adminKey, body), 422).Problem(t)
			for _, e := range p.Errors {
				if e.Field == c.field && strings.Contains(e.Message, c.message) {
					return
				}
			}
			t.Fatalf("no error for %q containing %q: %+v", c.field, c.message, p.Errors)
		})
	}
	var list struct{ Clusters []any }
	must(t, in.do("GET", "/v1/clusters", adminKey, nil), 200).JSON(t, &list)
	if len(list.Clusters) != 0 {
		t.Fatal("invalid clusters were stored")
	}
	p := must(t, in.do("POST", "/v1/clusters", adminKey, `{"name":"x","livekit_api_secret_sealed":"x"}`), 400).Problem(t)
	if p.Errors[0].Field != "livekit_api_secret_sealed" {
		t.Fatalf("%+v", p.Errors)
	}
}

func TestKeys(t *testing.T) {
	in := start(t)
	in.sharedCluster("cell", "local", "local", 100)
	in.org("keyed", "shared")
	r := must(t, in.do("POST", "/v1/orgs/keyed/keys", adminKey, map[string]any{"name": "ci"}), 201)
	k := r.Obj(t)
	id, token := k["id"].(string), k["key"].(string)
	if !strings.HasPrefix(token, "cpk_"+id+"_") || k["org"] != "keyed" || k["name"] != "ci" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("created key %v %v", k, r.Header)
	}
	// Stored as its SHA-256 only.
	var stored []byte
	var row string
	if err := in.App.Pool.QueryRow(t.Context(), "SELECT hash, k::text FROM api_keys k WHERE id = $1", id).Scan(&stored, &row); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, secrets.HashAPIKey(token)) || strings.Contains(row, strings.TrimPrefix(token, "cpk_"+id+"_")) {
		t.Fatal("the key is not stored as its hash alone")
	}
	// The key works for its org, and can make and list its org's keys.
	must(t, in.do("GET", "/v1/orgs/keyed", token, nil), 200)
	k2 := must(t, in.do("POST", "/v1/orgs/keyed/keys", token, map[string]any{"name": "second"}), 201).Obj(t)
	list := must(t, in.do("GET", "/v1/orgs/keyed/keys", token, nil), 200)
	if bytes.Contains(list.Body, []byte(token)) || bytes.Contains(list.Body, []byte(k2["key"].(string))) || bytes.Contains(list.Body, []byte(`"key"`)) {
		t.Fatalf("the list shows secrets: %s", list.Body)
	}
	var keys struct {
		Keys []map[string]any `json:"keys"`
	}
	list.JSON(t, &keys)
	if len(keys.Keys) != 2 || keys.Keys[0]["id"] != id || keys.Keys[0]["last_used_at"] == nil {
		t.Fatalf("list: %v", keys)
	}
	for _, c := range []struct {
		body  any
		field string
	}{{map[string]any{"name": ""}, "name"}, {map[string]any{}, "name"}, {map[string]any{"name": strings.Repeat("k", 201)}, "name"}} {
		p := must(t, in.do("POST", "/v1/orgs/keyed/keys", adminKey, c.body), 422).Problem(t)
		if p.Errors[0].Field != c.field {
			t.Errorf("%v: %+v", c.body, p.Errors)
		}
	}
	must(t, in.do("POST", "/v1/orgs/nope/keys", adminKey, map[string]any{"name": "x"}), 404)
	must(t, in.do("GET", "/v1/orgs/nope/keys", adminKey, nil), 404)

	// Revoked: 204, then the key is refused; unknown ids are 404.
	must(t, in.do("DELETE", "/v1/orgs/keyed/keys/"+id, adminKey, nil), 204)
	p := must(t, in.do("GET", "/v1/orgs/keyed", token, nil), 401).Problem(t)
	if p.Detail != "the API key is not valid" {
		t.Fatalf("detail %q", p.Detail)
	}
	must(t, in.do("DELETE", "/v1/orgs/keyed/keys/"+id, adminKey, nil), 404)
	must(t, in.do("DELETE", "/v1/orgs/keyed/keys/bad-id", adminKey, nil), 404)
	must(t, in.do("DELETE", "/v1/orgs/nope/keys/"+id, adminKey, nil), 404)
	// A key may revoke itself.
	must(t, in.do("DELETE", "/v1/orgs/keyed/keys/"+k2["id"].(string), k2["key"].(string), nil), 204)
	must(t, in.do("GET", "/v1/orgs/keyed", k2["key"].(string), nil), 401)
}

func TestAuthentication(t *testing.T) {
	in := start(t)
	in.sharedCluster("cell", "local", "local", 100)
	in.org("authed", "shared")
	_, token := in.key("authed")
	protected := []struct{ method, path string }{
		{"POST", "/v1/orgs"}, {"GET", "/v1/orgs"}, {"GET", "/v1/orgs/authed"}, {"PATCH", "/v1/orgs/authed"},
		{"DELETE", "/v1/orgs/authed"}, {"POST", "/v1/orgs/authed/keys"}, {"GET", "/v1/orgs/authed/keys"},
		{"DELETE", "/v1/orgs/authed/keys/aaaaaaaaaaaaaaaa"}, {"POST", "/v1/clusters"}, {"GET", "/v1/clusters"},
		{"GET", "/v1/clusters/00000000-0000-0000-0000-000000000001"},
	}
	for _, rt := range protected {
		for _, key := range []string{"", "wrong", adminKey + "x", token + "x", "cpk_aaaaaaaaaaaaaaaa_" + strings.Repeat("a", 43)} {
			r := in.do(rt.method, rt.path, key, nil)
			p := must(t, r, 401).Problem(t)
			if r.Header.Get("WWW-Authenticate") == "" || p.Type != "urn:cellplane:problem:unauthorized" {
				t.Errorf("%s %s with %q: %v %+v", rt.method, rt.path, key, r.Header, p)
			}
		}
	}
	r := in.do("GET", "/v1/orgs", "", nil, "Authorization", "Basic "+adminKey)
	must(t, r, 401)
	// Org keys on admin routes: 403.
	for _, rt := range []struct{ method, path string }{
		{"POST", "/v1/orgs"}, {"GET", "/v1/orgs"}, {"POST", "/v1/clusters"}, {"GET", "/v1/clusters"},
		{"GET", "/v1/clusters/00000000-0000-0000-0000-000000000001"}, {"PATCH", "/v1/orgs/authed"}, {"DELETE", "/v1/orgs/authed"},
	} {
		p := must(t, in.do(rt.method, rt.path, token, map[string]any{}), 403).Problem(t)
		if p.Detail != "this route requires the admin key" {
			t.Errorf("%s %s: %q", rt.method, rt.path, p.Detail)
		}
	}
	if got := must(t, in.do("GET", "/v1/orgs/authed", "", nil, "Authorization", "bearer "+token), 200).Obj(t); got["slug"] != "authed" {
		t.Fatal(got)
	}
	// Unknown routes and methods answer problems too.
	p := must(t, in.do("GET", "/v2/nothing", "", nil), 404).Problem(t)
	if !strings.Contains(p.Detail, "no such route") {
		t.Fatal(p.Detail)
	}
	must(t, in.do("PUT", "/v1/orgs", adminKey, nil), 405).Problem(t)
}
