package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/app"
	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/controlplane/secrets"
)

func TestMain(m *testing.M) { harness.Main(m) }

const adminKey = "test-admin-key-0123456789abcdef"

// instance is one control plane serving on loopback for a test.
type instance struct {
	t    testing.TB
	URL  string
	App  *app.App
	http *http.Client
}

// start runs a control plane on a fresh database (or on dbURL when given).
func start(t testing.TB, dbURL ...string) *instance {
	t.Helper()
	url := ""
	if len(dbURL) > 0 {
		url = dbURL[0]
	} else {
		url = harness.Postgres(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{DatabaseURL: url, AdminKey: adminKey, MasterKey: secrets.GenerateMasterKey()})
	if err != nil {
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
	return &instance{t: t, URL: "http://" + l.Addr().String(), App: a, http: &http.Client{Timeout: 30 * time.Second, Transport: conforming{t: t, next: http.DefaultTransport}}}
}

// response is an answer, its body kept.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
}

func (r response) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

// problem is a problem+json body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (r response) problem(t testing.TB) problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json (status %d, body %s)", ct, r.Status, r.Body)
	}
	var p problem
	r.json(t, &p)
	if p.Status != r.Status {
		t.Fatalf("problem status %d != response status %d", p.Status, r.Status)
	}
	return p
}

// do sends body (a string is sent as is, anything else as JSON) with key as bearer.
func (in *instance) do(method, path, key string, body any, header ...string) response {
	in.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			in.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, in.URL+path, rd)
	if err != nil {
		in.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := in.http.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		in.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must fails the test unless the answer has status want.
func must(t testing.TB, r response, want int) response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body: %s", r.Status, want, r.Body)
	}
	return r
}

const lkSecret = "livekit-secret-0123456789abcdefghijklmnop"

// sharedCluster registers a shared cluster in cloud/region and returns its id.
func (in *instance) sharedCluster(name, cloud, region string, capacity int) string {
	in.t.Helper()
	r := must(in.t, in.do("POST", "/v1/clusters", adminKey, map[string]any{
		"name": name, "cloud": cloud, "region": region, "kind": "shared",
		"api_url": "https://api." + name + ".example.test", "livekit_url": "wss://lk." + name + ".example.test",
		"livekit_api_key": "APIkey" + name, "livekit_api_secret": lkSecret, "capacity": capacity,
	}), http.StatusCreated)
	return r.obj(in.t)["id"].(string)
}

// org creates an org with the given tier on local/local (or cloud/region in more) and
// returns the answer (status provisioning, with its onboard operation). These tests run no
// workers: the org is then marked ready, as its onboard operation would, so it is routed.
func (in *instance) org(slug, tier string, more ...string) map[string]any {
	in.t.Helper()
	body := orgBody(slug, tier)
	for i := 0; i+1 < len(more); i += 2 {
		body[more[i]] = more[i+1]
	}
	created := must(in.t, in.do("POST", "/v1/orgs", adminKey, body), http.StatusAccepted).obj(in.t)
	in.ready(slug)
	return created
}

// ready marks an org ready, as a finished onboard operation does.
func (in *instance) ready(slug string) {
	in.t.Helper()
	if _, err := in.App.Pool.Exec(context.Background(), "UPDATE orgs SET status = 'ready' WHERE slug = $1 AND status <> 'deleted'", slug); err != nil {
		in.t.Fatal(err)
	}
}

func orgBody(slug, tier string) map[string]any {
	return map[string]any{"slug": slug, "name": "Org " + slug, "tier": tier, "cloud": "local", "region": "local",
		"version": "1.4.5", "sizing": "small", "requirements": map[string]string{"residency": "local"}}
}

// key creates an org key and returns its id and token.
func (in *instance) key(slug string) (id, token string) {
	in.t.Helper()
	m := must(in.t, in.do("POST", "/v1/orgs/"+slug+"/keys", adminKey, map[string]any{"name": "key of " + slug}), http.StatusCreated).obj(in.t)
	return m["id"].(string), m["key"].(string)
}

// eventually polls cond until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
