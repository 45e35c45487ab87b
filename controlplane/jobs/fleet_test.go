package jobs_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/fleet"
)

// TestFleetUpgradeInWaves: `fleet upgrade` rolls a version out through the API, the canary
// first and then waves, each org's upgrade an operation of its own; a version that fails
// on the canary halts the rollout with the other orgs untouched.
func TestFleetUpgradeInWaves(t *testing.T) {
	p := newPlane(t, planeOpts{workers: 4})
	var ids []string
	for _, slug := range []string{"fleet-a", "fleet-b", "fleet-c", "fleet-d"} {
		ids = append(ids, p.createOrg(slug, "1.4.5"))
	}
	ids = append(ids, p.createOrg("fleet-e", "1.5.0"))
	for _, id := range ids {
		p.mustSucceed(id)
	}
	c := &fleet.Client{URL: p.URL, Key: adminKey}
	var progress strings.Builder
	rep, err := fleet.Upgrade(context.Background(), c, fleet.UpgradeOptions{Version: "1.5.0", Wave: 2, Poll: 200 * time.Millisecond, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if want := [][]string{{"fleet-a"}, {"fleet-b", "fleet-c"}, {"fleet-d"}}; !reflect.DeepEqual(rep.Waves, want) {
		t.Fatalf("waves %v", rep.Waves)
	}
	if len(rep.Upgraded) != 4 || len(rep.Failed) != 0 || rep.Skipped["fleet-e"] != "already at 1.5.0" {
		t.Fatalf("report %+v", rep)
	}
	out := progress.String()
	canaryDone, waveStart := strings.Index(out, "canary done"), strings.Index(out, "wave 1/2: upgrading fleet-b, fleet-c")
	if canaryDone < 0 || waveStart < canaryDone || !strings.Contains(out, "complete: 4 orgs") {
		t.Fatalf("progress:\n%s", out)
	}
	for _, slug := range []string{"fleet-a", "fleet-b", "fleet-c", "fleet-d", "fleet-e"} {
		p.checkRelease(slug, "1.5.0")
	}
	// The canary's upgrade finished before any other started.
	var canaryEnd, firstOther time.Time
	if err := p.App.Pool.QueryRow(context.Background(), `SELECT
			(SELECT p.finished_at FROM operations p JOIN orgs o ON o.id = p.org_id WHERE o.slug = 'fleet-a' AND p.kind = 'upgrade'),
			(SELECT min(p.started_at) FROM operations p JOIN orgs o ON o.id = p.org_id WHERE o.slug <> 'fleet-a' AND p.kind = 'upgrade')`).
		Scan(&canaryEnd, &firstOther); err != nil {
		t.Fatal(err)
	}
	if !firstOther.After(canaryEnd) {
		t.Fatalf("an org started upgrading (%s) before the canary finished (%s)", firstOther, canaryEnd)
	}

	// A version the chart cannot take: the canary fails, nothing else starts.
	before := p.namespaceObjects("org-fleet-b")
	progress.Reset()
	rep, err = fleet.Upgrade(context.Background(), c, fleet.UpgradeOptions{Version: "1.6.0+bad", Wave: 2, Poll: 200 * time.Millisecond, Progress: &progress})
	if !errors.Is(err, fleet.ErrHalted) {
		t.Fatalf("err %v\n%s", err, progress.String())
	}
	if len(rep.Failed) != 1 || rep.Failed["fleet-a"] == "" || len(rep.Upgraded) != 0 || len(rep.NotStarted) != 4 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(progress.String(), "halted: fleet-a failed; 4 orgs not started") {
		t.Fatalf("progress:\n%s", progress.String())
	}
	if org := p.org("fleet-a"); org["status"] != "ready" || org["version"] != "1.5.0" {
		t.Fatalf("canary after its failed upgrade: %v", org)
	}
	after := p.namespaceObjects("org-fleet-b")
	if !reflect.DeepEqual(before, after) {
		t.Fatal("an org after the halt was touched")
	}
	var upgrades int
	if err := p.App.Pool.QueryRow(context.Background(), `SELECT count(*) FROM operations WHERE params->>'version' = '1.6.0+bad'`).Scan(&upgrades); err != nil || upgrades != 1 {
		t.Fatalf("%d operations for the bad version (%v)", upgrades, err)
	}
}
