package program

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cellplane/cellplane/components/mocktest"
)

// stackConfig reads stacks/Pulumi.<stack>.yaml into Pulumi's flat config form, plus the
// LiveKit secret `cellplane stack` would generate into the stack's encrypted config.
func stackConfig(t *testing.T, stack string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "stacks", "Pulumi."+stack+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatalf("%s: %v", stack, err)
	}
	cfg := map[string]string{}
	for k, v := range file.Config {
		switch v := v.(type) {
		case string:
			cfg[k] = v
		case map[string]any, []any:
			b, _ := json.Marshal(v)
			cfg[k] = string(b)
		default:
			cfg[k] = fmt.Sprint(v)
		}
	}
	if _, ok := cfg[ns+KeyLiveKitAPISecret]; !ok {
		cfg[ns+KeyLiveKitAPISecret] = strings.Repeat("g", 48)
	}
	return cfg
}

// The seed's three tier A orgs: the whole program, under mocks, previews and builds each
// one's cluster on its own cloud, in its region, and releases its pinned product version.
func TestSeedOrgStacksBuildTheirClusterOnTheRightCloud(t *testing.T) {
	cases := []struct {
		stack, org, cloud, region, version string
		component, clusterType, regionKey  string
		k8sType, k8sKey                    string // the control plane's Kubernetes version input
	}{
		{"org-mercy-health", "mercy-health", "aws", "us-east-1", "1.4.5", "cellplane:aws:Cluster", "pulumi:providers:aws", "region",
			"aws:eks/cluster:Cluster", "version"},
		{"org-charite-berlin", "charite-berlin", "gcp", "europe-west3", "1.4.9", "cellplane:gcp:Cluster", "gcp:container/cluster:Cluster", "location",
			"gcp:container/cluster:Cluster", "minMasterVersion"},
		{"org-nhs-trust", "nhs-trust", "azure", "uksouth", "1.4.9", "cellplane:azure:Cluster", "azure-native:containerservice/v20240901:ManagedCluster", "location",
			"azure-native:containerservice/v20240901:ManagedCluster", "kubernetesVersion"},
	}
	for _, preview := range []bool{true, false} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/preview=%v", c.stack, preview), func(t *testing.T) {
				cfg := stackConfig(t, c.stack)
				if cfg["cellplane:cloud"] != c.cloud || cfg["cellplane:region"] != c.region || cfg["cellplane:version"] != c.version {
					t.Fatalf("stack file says %s/%s %s", cfg["cellplane:cloud"], cfg["cellplane:region"], cfg["cellplane:version"])
				}
				m := mocktest.Clouds()
				m.Preview = preview
				if err := m.Run(t, c.stack, cfg, Run); err != nil {
					t.Fatal(err)
				}
				comp := m.One(t, c.component, c.org)
				// Exactly one cluster, of this cloud, and nothing of another cloud.
				for _, other := range []string{"cellplane:aws:Cluster", "cellplane:gcp:Cluster", "cellplane:azure:Cluster", "cellplane:local:Cluster"} {
					if n := len(m.OfType(other)); (other == c.component) != (n == 1) {
						t.Errorf("%d %s registered", n, other)
					}
				}
				for _, r := range m.Resources() {
					for _, cloud := range []string{"aws", "gcp", "azure-native"} {
						if cloud != c.cloud && !(cloud == "azure-native" && c.cloud == "azure") &&
							(strings.HasPrefix(r.Type, cloud+":") || r.Type == "pulumi:providers:"+cloud) {
							t.Errorf("%s (%s) belongs to another cloud", r.Name, r.Type)
						}
					}
				}
				// The region comes from the stack file.
				found := false
				for _, r := range m.OfType(c.clusterType) {
					if got := mocktest.Str(r.Inputs, c.regionKey); got != c.region {
						t.Errorf("%s %s = %q, want %q", r.Type, c.regionKey, got, c.region)
					}
					if r.Parent != comp.URN {
						t.Errorf("%s is not the component's child", r.Name)
					}
					found = true
				}
				if !found {
					t.Fatalf("no %s registered", c.clusterType)
				}
				// A pinned Kubernetes version reaches the control plane; none leaves the cloud's default.
				k8s := m.One(t, c.k8sType, c.org)
				if got, want := mocktest.Str(k8s.Inputs, c.k8sKey), cfg[ns+KeyKubernetesVersion]; got != want {
					t.Errorf("Kubernetes version %q, stack pins %q", got, want)
				}
				// Tags name the org, its cloud and region (checked here on the cluster's own tags).
				for _, r := range m.Resources() {
					tags := mocktest.StrMap(r.Inputs, "tags")
					if r.Type == "gcp:container/cluster:Cluster" {
						tags = mocktest.StrMap(r.Inputs, "resourceLabels")
					}
					if tags == nil || !strings.Contains(r.Type, "luster") {
						continue
					}
					if tags["cellplane-org"] != c.org || tags["cellplane-cloud"] != c.cloud || tags["cellplane-region"] != c.region {
						t.Errorf("%s tags %v", r.Name, tags)
					}
				}
				// The org's release runs the pinned product version.
				pinned := 0
				for _, r := range m.Resources() {
					if r.Type == "kubernetes:helm.sh/v3:Release" && mocktest.Str(r.Inputs, "values", "version") != "" {
						if got := mocktest.Str(r.Inputs, "values", "version"); got != c.version {
							t.Errorf("release %s at %q, want %q", r.Name, got, c.version)
						}
						pinned++
					}
				}
				if pinned == 0 {
					t.Error("no release of the product version registered")
				}
			})
		}
	}
}

// A region the stack's cloud does not have fails the whole program before anything is
// registered, naming the key.
func TestSeedOrgStackInAnUnknownRegionRegistersNothing(t *testing.T) {
	for stack, region := range map[string]string{"org-mercy-health": "eu-frankfurt-1", "org-charite-berlin": "us-east-1", "org-nhs-trust": "uk-south"} {
		cfg := stackConfig(t, stack)
		cfg["cellplane:region"] = region
		m := mocktest.Clouds()
		err := m.Run(t, stack, cfg, Run)
		if err == nil || !strings.Contains(err.Error(), "cellplane:region") || !strings.Contains(err.Error(), region) {
			t.Errorf("%s in %s: err = %v", stack, region, err)
		}
		if n := len(m.Resources()); n != 0 {
			t.Errorf("%s in %s: %d resources registered", stack, region, n)
		}
	}
}
