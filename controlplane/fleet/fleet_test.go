package fleet

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/controlplane"
)

func orgs(specs ...string) []*controlplane.Org {
	var out []*controlplane.Org
	for _, s := range specs {
		f := strings.Split(s, ":") // slug:version:status:cloud
		out = append(out, &controlplane.Org{Slug: f[0], Version: f[1], Status: f[2], Cloud: "local"})
		if len(f) > 3 {
			out[len(out)-1].Cloud = "aws"
		}
	}
	return out
}

func TestPlan(t *testing.T) {
	all := orgs("e:1.0.0:ready", "b:1.0.0:ready", "a:1.0.0:ready", "d:2.0.0:ready", "c:1.0.0:failed", "f:1.0.0:ready", "g:1.0.0:ready:aws")
	waves, skipped, err := Plan(all, UpgradeOptions{Version: "2.0.0", Wave: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"a"}, {"b", "e"}, {"f", "g"}}; !reflect.DeepEqual(waves, want) {
		t.Fatalf("waves %v, want %v", waves, want)
	}
	if skipped["d"] != "already at 2.0.0" || skipped["c"] != "status failed" || len(skipped) != 2 {
		t.Fatalf("skipped %v", skipped)
	}
	// A chosen canary goes first; a selection narrows the fleet; the default wave is 5.
	waves, _, err = Plan(all, UpgradeOptions{Version: "2.0.0", Canary: "f", Select: func(o *controlplane.Org) bool { return o.Cloud == "local" }})
	if err != nil || !reflect.DeepEqual(waves, [][]string{{"f"}, {"a", "b", "e"}}) {
		t.Fatalf("waves %v (%v)", waves, err)
	}
	if _, _, err := Plan(all, UpgradeOptions{Version: "2.0.0", Canary: "d"}); err == nil || !strings.Contains(err.Error(), "already at 2.0.0") {
		t.Fatalf("canary at the version: %v", err)
	}
	if _, _, err := Plan(all, UpgradeOptions{Version: "latest"}); err == nil || !strings.Contains(err.Error(), "not a semantic version") {
		t.Fatalf("bad version: %v", err)
	}
	if waves, _, err := Plan(orgs("a:2.0.0:ready"), UpgradeOptions{Version: "2.0.0"}); err != nil || waves != nil {
		t.Fatalf("nothing to do: %v %v", waves, err)
	}
}
