package jobs_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/localcell"
)

// TestSignupToReady: POST /v1/orgs of a tier B org on the local cell answers 202 with its
// onboard operation; a worker runs the real engine on tenant-<slug>; the org turns ready
// with its namespace and Deployments in the cell, and the router serves its route. The log
// is followed (Server-Sent Events) while the operation runs.
func TestSignupToReady(t *testing.T) {
	p := newPlane(t, planeOpts{workers: 2})
	id := p.createOrg("signup", "1.4.5")
	if s, r := p.route("signup"); s != 404 {
		t.Fatalf("a provisioning org is routed: %d %v", s, r)
	}

	type followed struct {
		lines []string
		end   map[string]string
		err   error
	}
	logc := make(chan followed, 1)
	go func() { l, e, err := p.followLog(id); logc <- followed{l, e, err} }()

	op := p.mustSucceed(id)
	if op.Attempts != 1 || op.Summary["create"] == 0 || op.Outputs["namespace"] != "org-signup" || op.StartedAt == nil || op.FinishedAt == nil {
		t.Fatalf("operation %+v", op)
	}
	if org := p.org("signup"); org["status"] != controlplane.OrgReady || org["status_reason"] != nil {
		t.Fatalf("org %v", org)
	}
	p.checkRelease("signup", "1.4.5")

	var route map[string]any
	eventually(t, 2*time.Second, "route served", func() bool {
		var s int
		s, route = p.route("signup")
		return s == 200
	})
	if route["livekit_url"] != p.Cell.LiveKitURL() || route["api_url"] != p.URL || route["status"] != "ready" || route["region"] != "local" {
		t.Fatalf("route %v", route)
	}

	f := <-logc
	if f.err != nil {
		t.Fatal(f.err)
	}
	text := strings.Join(f.lines, "\n")
	for _, want := range []string{"onboard of stack tenant-signup queued", "attempt 1 of", "kubernetes:core/v1:Namespace", "onboard succeeded"} {
		if !strings.Contains(text, want) {
			t.Errorf("the followed log lacks %q:\n%s", want, text)
		}
	}
	if f.end["state"] != "succeeded" {
		t.Fatalf("end event %v", f.end)
	}
	// The plain log holds the same lines.
	if plain := p.log(id); !strings.Contains(plain, "onboard succeeded") {
		t.Fatalf("plain log:\n%s", plain)
	}

	// The org's operations, newest first, for the admin and for the org's own key.
	s, m := p.do("POST", "/v1/orgs/signup/keys", adminKey, map[string]any{"name": "ops"})
	if s != 201 {
		t.Fatalf("key: %d %v", s, m)
	}
	key := m["key"].(string)
	s, m = p.do("GET", "/v1/orgs/signup/operations", key, nil)
	if ops, _ := m["operations"].([]any); s != 200 || len(ops) != 1 || ops[0].(map[string]any)["id"] != id {
		t.Fatalf("operations: %d %v", s, m)
	}
	if s, _ := p.do("GET", "/v1/operations/"+id, key, nil); s != 200 {
		t.Fatalf("the org's own operation with its key: %d", s)
	}
}

// namespaceObjects returns kind/name -> resourceVersion of the objects an org's release
// keeps in its namespace.
func (p *plane) namespaceObjects(ns string) map[string]string {
	p.t.Helper()
	out := map[string]string{}
	for _, k := range []struct{ api, kind string }{
		{"/api/v1", "secrets"}, {"/api/v1", "services"}, {"/api/v1", "serviceaccounts"}, {"/api/v1", "resourcequotas"},
		{"/api/v1", "limitranges"}, {"/apis/apps/v1", "deployments"}, {"/apis/networking.k8s.io/v1", "networkpolicies"},
		{"/apis/rbac.authorization.k8s.io/v1", "roles"}, {"/apis/rbac.authorization.k8s.io/v1", "rolebindings"},
		{"/apis/autoscaling/v2", "horizontalpodautoscalers"}, {"/apis/policy/v1", "poddisruptionbudgets"},
	} {
		var list localcell.List
		if err := p.Kube.Do(context.Background(), "GET", k.api+"/namespaces/"+ns+"/"+k.kind, nil, &list); err != nil {
			p.t.Fatal(err)
		}
		for _, o := range list.Items {
			out[k.kind+"/"+o.Metadata.Name] = o.Metadata.ResourceVersion
		}
	}
	var nsObj localcell.Object
	if err := p.Kube.Do(context.Background(), "GET", "/api/v1/namespaces/"+ns, nil, &nsObj); err != nil {
		p.t.Fatal(err)
	}
	out["namespace/"+ns] = nsObj.Metadata.ResourceVersion
	return out
}

// TestUpgradeRollsOnlyItsRelease: a version change of one tier B org rolls its own
// Deployments to the new version; every object of the other tenant of the cell is
// untouched (same resourceVersions).
func TestUpgradeRollsOnlyItsRelease(t *testing.T) {
	p := newPlane(t, planeOpts{workers: 4})
	a, b := p.createOrg("roll-a", "1.4.5"), p.createOrg("roll-b", "1.4.5")
	p.mustSucceed(a)
	p.mustSucceed(b)
	beforeA := p.checkRelease("roll-a", "1.4.5")
	p.checkRelease("roll-b", "1.4.5")
	otherBefore := p.namespaceObjects("org-roll-b")

	op := p.mustSucceed(p.patch("roll-a", map[string]any{"version": "1.5.0"}))
	if op.Kind != controlplane.OpUpgrade || op.Params["version"] != "1.5.0" || op.Params["previous_version"] != "1.4.5" || op.Summary["update"] == 0 || op.Summary["create"] != 0 {
		t.Fatalf("upgrade %+v", op)
	}
	if org := p.org("roll-a"); org["version"] != "1.5.0" || org["status"] != "ready" {
		t.Fatalf("org %v", org)
	}
	afterA := p.checkRelease("roll-a", "1.5.0")
	for name, d := range afterA {
		if d.ResourceVersion == beforeA[name].ResourceVersion {
			t.Errorf("roll-a/%s did not roll", name)
		}
	}
	otherAfter := p.namespaceObjects("org-roll-b")
	if len(otherAfter) != len(otherBefore) || len(otherBefore) < 10 {
		t.Fatalf("roll-b objects: %d before, %d after", len(otherBefore), len(otherAfter))
	}
	for k, v := range otherBefore {
		if otherAfter[k] != v {
			t.Errorf("roll-b's %s changed (%s -> %s) by roll-a's upgrade", k, v, otherAfter[k])
		}
	}
	p.checkRelease("roll-b", "1.4.5")

	// A sizing change alone is a resize: the org's quota follows its sizing.
	resize := p.mustSucceed(p.patch("roll-a", map[string]any{"sizing": "medium"}))
	if resize.Kind != controlplane.OpResize || resize.Params["sizing"] != "medium" || resize.Params["previous_sizing"] != "small" {
		t.Fatalf("resize %+v", resize)
	}
	var quota struct {
		Spec struct {
			Hard map[string]string `json:"hard"`
		} `json:"spec"`
	}
	if err := p.Kube.Do(context.Background(), "GET", "/api/v1/namespaces/org-roll-a/resourcequotas/org-quota", nil, &quota); err != nil || quota.Spec.Hard["pods"] != "60" {
		t.Fatalf("quota after the resize to medium: %v %v", quota.Spec.Hard, err)
	}
	p.checkRelease("roll-a", "1.5.0")
}

// TestSecondChangeQueuesBehind: a PATCH during a running upgrade gets an operation that
// waits for it (queued, never started) and then runs: no engine lock error, no retry.
func TestSecondChangeQueuesBehind(t *testing.T) {
	p := newPlane(t, planeOpts{workers: 4})
	p.mustSucceed(p.createOrg("queued", "1.4.5"))
	first := p.patch("queued", map[string]any{"version": "1.5.0"})
	p.waitState(first, controlplane.OpRunning, time.Minute)
	second := p.patch("queued", map[string]any{"version": "1.6.0", "sizing": "medium"})
	// Both are in flight (the fleet page lists them), oldest first, with their log's tail.
	inFlight, err := p.App.Operations.FindOperationsInFlight(context.Background())
	if err != nil || len(inFlight) != 2 || inFlight[0].ID != first || inFlight[1].ID != second || !strings.Contains(inFlight[0].LogTail, "started") {
		t.Fatalf("in flight: %v %+v", err, inFlight)
	}
	sawWaiting := false
	for {
		f, s := p.op(first), p.op(second)
		if s.StartedAt != nil && !controlplane.OpFinal(f.State) {
			t.Fatalf("the second operation started while the first is %s", f.State)
		}
		if controlplane.OpFinal(f.State) {
			break
		}
		if s.State == controlplane.OpQueued {
			sawWaiting = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !sawWaiting {
		t.Fatal("never saw the second operation waiting")
	}
	f, s := p.mustSucceed(first), p.mustSucceed(second)
	if s.StartedAt.Before(*f.FinishedAt) {
		t.Fatalf("second started %s, before the first finished %s", s.StartedAt, f.FinishedAt)
	}
	for _, op := range []*controlplane.Operation{f, s} {
		if op.Attempts != 1 || op.Error != "" {
			t.Errorf("operation %s: %d attempts, error %q", op.ID, op.Attempts, op.Error)
		}
		if log := p.log(op.ID); strings.Contains(strings.ToLower(log), "locked") {
			t.Errorf("lock trouble in %s's log:\n%s", op.ID, log)
		}
	}
	if org := p.org("queued"); org["version"] != "1.6.0" || org["sizing"] != "medium" || org["status"] != "ready" {
		t.Fatalf("org %v", org)
	}
	p.checkRelease("queued", "1.6.0")
}

// TestFailingUpgradeKeepsPreviousRelease: a version the chart cannot take (build metadata
// is not a valid label value) fails in the engine; the operation ends failed with the
// engine's error in its log, is not retried, and the org keeps serving its previous
// release at its previous version.
func TestFailingUpgradeKeepsPreviousRelease(t *testing.T) {
	p := newPlane(t, planeOpts{workers: 2})
	p.mustSucceed(p.createOrg("failing", "1.4.5"))
	p.checkRelease("failing", "1.4.5")

	id := p.patch("failing", map[string]any{"version": "1.5.0+bad.build"})
	op := p.waitOp(id, 10*time.Minute)
	log := p.log(id)
	if op.State != controlplane.OpFailed || op.Attempts != 1 || !strings.Contains(op.Error, "1.5.0+bad.build") {
		t.Fatalf("operation %s after %d attempts: %q\n%s", op.State, op.Attempts, op.Error, log)
	}
	t.Logf("engine error: %s", op.Error)
	if !strings.Contains(log, "error:") || !strings.Contains(log, "upgrade failed") {
		t.Fatalf("the engine's error is not in the log:\n%s", log)
	}
	org := p.org("failing")
	if org["status"] != "ready" || org["version"] != "1.4.5" || !strings.Contains(org["status_reason"].(string), "upgrade to 1.5.0+bad.build failed") {
		t.Fatalf("org %v", org)
	}
	p.checkRelease("failing", "1.4.5")
	if s, r := p.route("failing"); s != 200 || r["status"] != "ready" {
		t.Fatalf("route %d %v", s, r)
	}
	// And the org can still change: a good version goes through.
	p.mustSucceed(p.patch("failing", map[string]any{"version": "1.5.0"}))
	p.checkRelease("failing", "1.5.0")
	if org := p.org("failing"); org["status_reason"] != nil {
		t.Fatalf("a successful upgrade kept the old reason: %v", org)
	}
}

// TestDeleteLeavesNothing: DELETE tears the org's stack down (nothing of it left in the
// cluster), removes the stack, and then archives the org: no longer found nor routed, its
// slug free again, its row kept for billing.
func TestDeleteLeavesNothing(t *testing.T) {
	p := newPlane(t, planeOpts{workers: 2})
	p.mustSucceed(p.createOrg("gone", "1.4.5"))
	p.checkRelease("gone", "1.4.5")
	eventually(t, 2*time.Second, "routed", func() bool { s, _ := p.route("gone"); return s == 200 })

	s, m := p.do("DELETE", "/v1/orgs/gone", adminKey, nil)
	if s != 202 || m["status"] != "deleting" || m["operation"].(map[string]any)["kind"] != "teardown" {
		t.Fatalf("delete: %d %v", s, m)
	}
	id := m["operation"].(map[string]any)["id"].(string)
	if s, again := p.do("DELETE", "/v1/orgs/gone", adminKey, nil); s != 202 && s != 404 || s == 202 && again["operation"].(map[string]any)["id"] != id {
		t.Fatalf("a repeated DELETE made another teardown: %d %v", s, again)
	}
	op := p.mustSucceed(id)
	if op.Summary["delete"] == 0 {
		t.Fatalf("teardown deleted nothing: %+v", op)
	}
	if s, _ := p.do("GET", "/v1/orgs/gone", adminKey, nil); s != 404 {
		t.Fatalf("a torn-down org is still found: %d", s)
	}
	eventually(t, 2*time.Second, "route removed", func() bool { s, _ := p.route("gone"); return s == 404 })
	eventually(t, time.Minute, "namespace gone", func() bool {
		var ns localcell.Object
		return localcell.IsNotFound(p.Kube.Do(context.Background(), "GET", "/api/v1/namespaces/org-gone", nil, &ns))
	})
	for _, k := range []struct{ api, kind string }{{"/apis/apps/v1", "deployments"}, {"/api/v1", "secrets"}, {"/api/v1", "services"}} {
		if n := p.objectsIn(k.api, "org-gone", k.kind); n != 0 {
			t.Errorf("%d %s left in org-gone", n, k.kind)
		}
	}
	if _, err := stackRunner(t, p.Cell).Outputs(context.Background(), controlplane.StackRun{Stack: "tenant-gone",
		Config: map[string]string{controlplane.ConfigCloud: "local"}}); err == nil || !strings.Contains(err.Error(), "no stack named") {
		t.Fatalf("the stack still exists: %v", err)
	}
	var archived int
	if err := p.App.Pool.QueryRow(context.Background(), "SELECT count(*) FROM orgs WHERE slug = 'gone' AND status = 'deleted' AND deleted_at IS NOT NULL").Scan(&archived); err != nil || archived != 1 {
		t.Fatalf("archived rows: %d %v", archived, err)
	}
	// The slug is free again.
	p.mustSucceed(p.createOrg("gone", "1.5.0"))
	p.checkRelease("gone", "1.5.0")
}

// TestOperationNotFound: malformed ids, unknown ids, another org's operations and a
// cell's operations (for an org key) are all 404; bad query values are 422 naming them.
func TestOperationNotFound(t *testing.T) {
	p := newPlane(t, planeOpts{workers: 2})
	a := p.createOrg("lookup-a", "1.4.5")
	b := p.createOrg("lookup-b", "1.4.5")
	p.mustSucceed(a)
	p.mustSucceed(b)
	_, m := p.do("POST", "/v1/orgs/lookup-a/keys", adminKey, map[string]any{"name": "a"})
	keyA := m["key"].(string)
	var cellOp string
	if err := p.App.Pool.QueryRow(context.Background(), "SELECT id::text FROM operations WHERE kind = 'cell'").Scan(&cellOp); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, key string }{
		{"GET", "/v1/operations/not-an-id", adminKey},
		{"GET", "/v1/operations/00000000-0000-0000-0000-000000000000", adminKey},
		{"GET", "/v1/operations/" + strings.ToUpper(a) + "x", adminKey},
		{"GET", "/v1/operations/%00", adminKey},
		{"GET", "/v1/operations/not-an-id/log", adminKey},
		{"GET", "/v1/operations/00000000-0000-0000-0000-000000000000/log", adminKey},
		{"POST", "/v1/operations/not-an-id/cancel", adminKey},
		{"POST", "/v1/operations/00000000-0000-0000-0000-000000000000/cancel", adminKey},
		{"GET", "/v1/operations/" + b, keyA}, // another org's
		{"GET", "/v1/operations/" + b + "/log", keyA},
		{"GET", "/v1/operations/" + cellOp, keyA}, // a cell's
		{"GET", "/v1/orgs/lookup-b/operations", keyA},
		{"GET", "/v1/orgs/nobody/operations", adminKey},
	} {
		s, m := p.do(c.method, c.path, c.key, nil)
		if s != 404 || m["type"] != "urn:cellplane:problem:not_found" {
			t.Errorf("%s %s: %d %v", c.method, c.path, s, m)
		}
	}
	// An org's own operation is found with its key; cancelling is the admin's.
	if s, _ := p.do("GET", "/v1/operations/"+a, keyA, nil); s != 200 {
		t.Fatalf("own operation: %d", s)
	}
	if s, _ := p.do("POST", "/v1/operations/"+a+"/cancel", keyA, nil); s != 403 {
		t.Fatalf("cancel with an org key: %d", s)
	}
	// A finished operation cannot be cancelled.
	if s, m := p.do("POST", "/v1/operations/"+a+"/cancel", adminKey, nil); s != 409 {
		t.Fatalf("cancel a finished operation: %d %v", s, m)
	}
	for _, q := range []struct{ path, field string }{
		{"/v1/operations/" + a + "/log?after=-1", "after"},
		{"/v1/operations/" + a + "/log?follow=maybe", "follow"},
		{"/v1/orgs/lookup-a/operations?limit=0", "limit"},
		{"/v1/orgs/lookup-a/operations?cursor=bad", "cursor"},
	} {
		s, m := p.do("GET", q.path, adminKey, nil)
		errs, _ := m["errors"].([]any)
		if s != 422 || len(errs) != 1 || errs[0].(map[string]any)["field"] != q.field {
			t.Errorf("%s: %d %v", q.path, s, m)
		}
	}
}

// TestCancel: a queued operation is cancelled at once; a running one is interrupted (the
// engine stopped as `pulumi cancel` would) and ends cancelled with the stack consistent:
// the next operation on it succeeds with exactly one set of objects.
func TestCancel(t *testing.T) {
	p := newPlane(t, planeOpts{workers: 2})

	// Queued: an upgrade waiting behind an onboard is cancelled before it runs.
	onboard := p.createOrg("cancel-q", "1.4.5")
	waiting := p.patch("cancel-q", map[string]any{"version": "1.5.0"})
	s, m := p.do("POST", "/v1/operations/"+waiting+"/cancel", adminKey, nil)
	if s != 200 || m["state"] != "cancelled" || m["started_at"] != nil {
		t.Fatalf("cancel queued: %d %v", s, m)
	}
	p.mustSucceed(onboard)
	if op := p.op(waiting); op.State != controlplane.OpCancelled || op.Attempts != 0 {
		t.Fatalf("the cancelled operation ran: %+v", op)
	}

	// Running: cancel once the engine is creating resources. A run can finish before the
	// cancel lands; then try again with another org.
	var slug string
	var op *controlplane.Operation
	for i := 0; i < 4; i++ {
		slug = fmt.Sprintf("cancel-r%d", i)
		id := p.createOrg(slug, "1.4.5")
		p.waitState(id, controlplane.OpRunning, 2*time.Minute)
		eventually(t, time.Minute, "engine at work", func() bool {
			return strings.Contains(p.log(id), "kubernetes:") || controlplane.OpFinal(p.op(id).State)
		})
		s, m := p.do("POST", "/v1/operations/"+id+"/cancel", adminKey, nil)
		if s == 409 {
			p.mustSucceed(id) // finished first
			continue
		}
		if s != 202 || m["cancel_requested"] != true {
			t.Fatalf("cancel running: %d %v", s, m)
		}
		op = p.waitOp(id, 5*time.Minute)
		if op.State == controlplane.OpSucceeded {
			continue // the engine finished before it saw the cancel
		}
		t.Logf("%s cancelled mid-run (try %d): %s", slug, i+1, op.Error)
		break
	}
	if op == nil || op.State != controlplane.OpCancelled {
		t.Fatalf("no run was cancelled mid-way: %+v", op)
	}
	if org := p.org(slug); org["status"] != "failed" || !strings.Contains(org["status_reason"].(string), "onboard cancelled") {
		t.Fatalf("org after a cancelled onboard: %v", org)
	}
	if log := p.log(op.ID); !strings.Contains(log, "cancel requested") || !strings.Contains(log, "refreshing the stack") || strings.Contains(log, "refresh after the cancel failed") {
		t.Fatalf("log:\n%s", log)
	}
	// The stack is consistent: the next operation converges it.
	next := p.mustSucceed(p.patch(slug, map[string]any{"version": "1.4.6"}))
	if strings.Contains(p.log(next.ID), "locked") {
		t.Fatalf("lock trouble after cancel:\n%s", p.log(next.ID))
	}
	if org := p.org(slug); org["status"] != "ready" {
		t.Fatalf("org %v", org)
	}
	p.checkRelease(slug, "1.4.6")
}

// TestTwentyOrgsAtOnce: twenty signups at the same moment all reach ready, each in one
// attempt: no engine lock errors, no retries.
func TestTwentyOrgsAtOnce(t *testing.T) {
	p := newPlane(t, planeOpts{workers: 8})
	const n = 20
	ids := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ids[i] = p.createOrg(fmt.Sprintf("many-%02d", i), "1.4.5")
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	for i, id := range ids {
		op := p.mustSucceed(id)
		if op.Attempts != 1 {
			t.Errorf("many-%02d took %d attempts: %s", i, op.Attempts, op.Error)
		}
		if log := p.log(id); strings.Contains(strings.ToLower(log), "locked") || strings.Contains(log, "conflict") {
			t.Errorf("many-%02d: lock trouble:\n%s", i, log)
		}
	}
	t.Logf("%d onboardings with 8 workers: %s", n, time.Since(began).Round(time.Second))
	for i := range n {
		slug := fmt.Sprintf("many-%02d", i)
		if org := p.org(slug); org["status"] != "ready" {
			t.Errorf("%s: %v", slug, org)
		}
		if len(p.namespaces(slug)) != 1 {
			t.Errorf("%s: namespaces %v", slug, p.namespaces(slug))
		}
		eventually(t, 2*time.Second, slug+" routed", func() bool { s, _ := p.route(slug); return s == 200 })
	}
}

// TestTierAWritesBackItsCluster: a tier A org gets a cluster record of its own (pending);
// its onboard operation writes the cluster's outputs back to it (LiveKit URL, version and
// keys, the secret sealed) and makes it active; the org is then routed to it.
func TestTierAWritesBackItsCluster(t *testing.T) {
	p := newPlane(t, planeOpts{workers: 2})
	s, m := p.do("POST", "/v1/orgs", adminKey, map[string]any{"slug": "solo", "name": "Solo Clinic", "tier": "dedicated",
		"cloud": "local", "region": "local", "version": "1.4.5", "sizing": "small"})
	if s != 202 {
		t.Fatalf("create: %d %v", s, m)
	}
	cluster := m["placement"].(map[string]any)["cluster"].(map[string]any)
	if cluster["status"] != "pending" || cluster["livekit_url"] != "" {
		t.Fatalf("new cluster record %v", cluster)
	}
	op := p.mustSucceed(m["operation"].(map[string]any)["id"].(string))
	if op.Stack != "org-solo" || op.Config[controlplane.ConfigRole] != "org" {
		t.Fatalf("operation %+v", op)
	}
	p.slugs = append(p.slugs, "solo")
	s, c := p.do("GET", "/v1/clusters/"+op.ClusterID, adminKey, nil)
	if s != 200 || c["status"] != "active" || c["livekit_url"] != p.Cell.LiveKitURL() || c["livekit_api_key"] != p.Cell.APIKey ||
		!strings.HasPrefix(c["livekit_version"].(string), "1.") {
		t.Fatalf("cluster after onboarding: %d %v", s, c)
	}
	creds, err := p.App.Clusters.LiveKitCredentials(context.Background(), op.ClusterID)
	if err != nil || creds.APISecret != p.Cell.APISecret {
		t.Fatalf("sealed LiveKit secret: %v", err)
	}
	p.checkRelease("solo", "1.4.5")
	var route map[string]any
	eventually(t, 2*time.Second, "routed", func() bool { s, route = p.route("solo"); return s == 200 })
	if route["livekit_url"] != p.Cell.LiveKitURL() {
		t.Fatalf("route %v", route)
	}
}
