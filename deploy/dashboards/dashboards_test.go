package dashboards

import (
	"encoding/json"
	"strings"
	"testing"
)

// Every dashboard is valid Grafana JSON with a stable uid, a title and panels that query
// Prometheus through the data source variable.
func TestDashboardsAreGrafanaJSON(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2 {
		t.Fatalf("%d dashboards, want the LiveKit and sim-platform ones", len(all))
	}
	uids := map[string]bool{}
	for name, b := range all {
		var d struct {
			UID    string `json:"uid"`
			Title  string `json:"title"`
			Panels []struct {
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d.UID == "" || d.Title == "" || len(d.Panels) == 0 || uids[d.UID] {
			t.Errorf("%s: uid %q title %q, %d panels", name, d.UID, d.Title, len(d.Panels))
		}
		uids[d.UID] = true
		for _, p := range d.Panels {
			if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 || strings.TrimSpace(p.Targets[0].Expr) == "" {
				t.Errorf("%s: a panel without a Prometheus query on the data source variable", name)
			}
		}
	}
}
