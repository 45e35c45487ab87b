package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/apitest"
	"github.com/cellplane/cellplane/controlplane/app"
	"github.com/cellplane/cellplane/controlplane/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

const adminKey = apitest.AdminKey

// instance is one control plane serving on loopback for a test.
type instance struct {
	*apitest.Server
	t testing.TB
}

// start runs a control plane on a fresh database (or on dbURL when given).
func start(t testing.TB, dbURL ...string) *instance {
	t.Helper()
	var cfg app.Config
	if len(dbURL) > 0 {
		cfg.DatabaseURL = dbURL[0]
	}
	return &instance{Server: apitest.Start(t, cfg), t: t}
}

type (
	response = apitest.Response
	problem  = apitest.Problem
)

// do sends body (a string is sent as is, anything else as JSON) with key as bearer.
func (in *instance) do(method, path, key string, body any, header ...string) response {
	in.t.Helper()
	return in.Client.Do(method, path, key, body, header...)
}

// must fails the test unless the answer has status want.
func must(t testing.TB, r response, want int) response {
	t.Helper()
	return apitest.Must(t, r, want)
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
	return r.Obj(in.t)["id"].(string)
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
	created := must(in.t, in.do("POST", "/v1/orgs", adminKey, body), http.StatusAccepted).Obj(in.t)
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
	m := must(in.t, in.do("POST", "/v1/orgs/"+slug+"/keys", adminKey, map[string]any{"name": "key of " + slug}), http.StatusCreated).Obj(in.t)
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
