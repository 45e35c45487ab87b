package costmodel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/infra/spec"
)

func TestBuiltinTablePricesEveryRegionAndSizing(t *testing.T) {
	tab := Default()
	for _, c := range []spec.Cloud{spec.AWS, spec.GCP, spec.Azure} {
		cp := tab.Clouds[c]
		if cp == nil {
			t.Fatalf("no prices for %s", c)
		}
		for _, r := range spec.Regions(c) {
			if _, ok := cp.Regions[r]; !ok && r != cp.BaseRegion {
				t.Errorf("%s region %s has no price multiplier", c, r)
			}
		}
		for _, s := range spec.Sizings {
			for pool, m := range map[string]map[spec.Sizing]Figure{"system": cp.System, "media": cp.Media, "worker": cp.Worker} {
				if f := m[s]; f.Value <= 0 || f.Item == "" {
					t.Errorf("%s %s %s: %+v", c, pool, s, f)
				}
			}
		}
		if got := tab.RegionNames(c); len(got) != len(spec.Regions(c)) || got[0] != cp.BaseRegion {
			t.Errorf("%s: RegionNames = %v", c, got)
		}
	}
}

// lineOf returns the 1-based line of the first line containing s.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the price table", s)
	return 0
}

func mustReplace(t *testing.T, text, old, new string) string {
	t.Helper()
	if !strings.Contains(text, old) {
		t.Fatalf("%q not in the price table", old)
	}
	return strings.Replace(text, old, new, 1)
}

func deleteLine(t *testing.T, text, containing string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	n := lineOf(t, text, containing)
	return strings.Join(append(lines[:n-1:n-1], lines[n:]...), "\n")
}

func TestBadPriceFilesAreRejectedWithTheLine(t *testing.T) {
	orig := string(builtinPrices)
	awsPrices := lineOf(t, orig, "    prices:") // the first cloud's prices: key
	cases := []struct {
		name   string
		edit   func(string) string
		line   func() int
		path   string
		says   string
		reason string
	}{
		{
			name: "a missing price",
			edit: func(s string) string {
				return deleteLine(t, s, `nat_data: {value: 0.045, unit: USD/GB, item: "NAT gateway data processed"`)
			},
			line: func() int { return awsPrices },
			path: "clouds.aws.prices.nat_data", says: "missing",
		},
		{
			name: "a negative price",
			edit: func(s string) string { return mustReplace(t, s, "egress: {value: 0.12,", "egress: {value: -0.12,") },
			line: func() int { return lineOf(t, orig, "egress: {value: 0.12,") },
			path: "clouds.gcp.prices.egress.value", says: "must not be negative (got -0.12)",
		},
		{
			name: "a negative instance price",
			edit: func(s string) string { return mustReplace(t, s, `medium: {value: 0.338,`, `medium: {value: -0.338,`) },
			line: func() int { return lineOf(t, orig, `medium: {value: 0.338,`) },
			path: "clouds.azure.prices.media.medium.value", says: "must not be negative",
		},
		{
			name: "a figure without its value",
			edit: func(s string) string { return mustReplace(t, s, "redis: {value: 0.138, unit", "redis: {unit") },
			line: func() int { return lineOf(t, orig, "redis: {value: 0.138, unit") },
			path: "clouds.azure.prices.redis.value", says: "missing",
		},
		{
			name: "an empty value",
			edit: func(s string) string { return mustReplace(t, s, "{value: 0.0225,", "{value: ,") },
			line: func() int { return lineOf(t, orig, "{value: 0.0225,") },
			path: "clouds.aws.prices.load_balancer.value", says: "missing",
		},
		{
			name: "a missing sizing assumption",
			edit: func(s string) string { return deleteLine(t, s, "sessions_per_worker_node: {value: 8,") },
			line: func() int { return lineOf(t, orig, "    medium:") },
			path: "assumptions.sizings.medium.sessions_per_worker_node", says: "missing",
		},
		{
			name: "a missing instance sizing",
			edit: func(s string) string {
				return deleteLine(t, s, `large: {value: 0.7769, unit: USD/hour, item: "n2-standard-16`)
			},
			line: func() int { return lineOf(t, orig, `large: {value: 0.7769`) - 3 }, // gcp worker:
			path: "clouds.gcp.prices.worker.large", says: "missing",
		},
		{
			name: "a misspelt key",
			edit: func(s string) string {
				return mustReplace(t, s, "      nat_gateway: {value: 0.045", "      nat_gatway: {value: 0.045")
			},
			line: func() int { return lineOf(t, orig, "      nat_gateway: {value: 0.045") },
			path: "clouds.aws.prices.nat_gatway", says: "unknown key",
		},
		{
			name: "a price in the wrong unit",
			edit: func(s string) string {
				return mustReplace(t, s, "disk: {value: 0.08, unit: USD/GB-month", "disk: {value: 0.08, unit: USD/month")
			},
			line: func() int { return lineOf(t, orig, "disk: {value: 0.08,") },
			path: "clouds.aws.prices.disk.unit", says: `must be "USD/GB-month"`,
		},
		{
			name: "a price without a public source",
			edit: func(s string) string {
				return mustReplace(t, s, `source: "https://aws.amazon.com/eks/pricing/"`, `source: "the EKS page"`)
			},
			line: func() int { return lineOf(t, orig, `source: "https://aws.amazon.com/eks/pricing/"`) },
			path: "clouds.aws.prices.control_plane.source", says: "http(s) address",
		},
		{
			name: "a bad date",
			edit: func(s string) string {
				return mustReplace(t, s, `item: "NAT Gateway", source: "https://azure.microsoft.com/en-us/pricing/details/azure-nat-gateway/", date: "2025-06-01"`,
					`item: "NAT Gateway", source: "https://azure.microsoft.com/en-us/pricing/details/azure-nat-gateway/", date: "June 2025"`)
			},
			line: func() int { return lineOf(t, orig, `item: "NAT Gateway", source`) },
			path: "clouds.azure.prices.nat_gateway.date", says: "YYYY-MM-DD",
		},
		{
			name: "a zero divisor",
			edit: func(s string) string {
				return mustReplace(t, s, "sessions_per_media_node: {value: 10,", "sessions_per_media_node: {value: 0,")
			},
			line: func() int { return lineOf(t, orig, "sessions_per_media_node: {value: 10,") },
			path: "assumptions.sizings.small.sessions_per_media_node.value", says: "greater than zero",
		},
		{
			name: "a region of another cloud",
			edit: func(s string) string {
				return mustReplace(t, s, "      us-east-2: {value: 1.00", "      europe-west3: {value: 1.00")
			},
			line: func() int { return lineOf(t, orig, "      us-east-2: {value: 1.00") },
			path: "clouds.aws.regions.europe-west3", says: "not a aws region",
		},
		{
			name: "a value that is not a number",
			edit: func(s string) string { return mustReplace(t, s, "{value: 0.0014,", "{value: cheap,") },
			line: func() int { return lineOf(t, orig, "{value: 0.0014,") },
			path: "clouds.gcp.prices.nat_gateway.value", says: "must be a number",
		},
		{
			name: "broken YAML",
			edit: func(s string) string {
				return mustReplace(t, s, "      nat_data: {value: 0.045, unit: USD/GB,", "      nat_data: {value: [0.045, unit: USD/GB,")
			},
			line: func() int { return lineOf(t, orig, "      nat_data: {value: 0.045, unit: USD/GB,") },
			path: "(file)", says: "yaml",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("prices.yaml", []byte(tc.edit(orig)))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a ValidationError, got %v", err)
			}
			var hit *Problem
			for i, p := range ve.Problems {
				if p.Path == tc.path {
					hit = &ve.Problems[i]
				}
			}
			if hit == nil {
				t.Fatalf("no problem at %s; got:\n%v", tc.path, err)
			}
			if !strings.Contains(hit.Message, tc.says) {
				t.Errorf("message %q does not say %q", hit.Message, tc.says)
			}
			// The YAML parser may place a syntax error a line off the cause.
			want := tc.line()
			if hit.Line != want && !(tc.path == "(file)" && hit.Line >= want-1 && hit.Line <= want+1) {
				t.Errorf("problem at line %d, want line %d: %v", hit.Line, want, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("prices.yaml:%d: %s", hit.Line, tc.path)) {
				t.Errorf("the error does not name the file and line: %v", err)
			}
		})
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	s := string(builtinPrices)
	s = strings.Replace(s, "egress: {value: 0.09,", "egress: {value: -0.09,", 1)
	s = strings.Replace(s, "egress: {value: 0.12,", "egress: {value: -0.12,", 1)
	_, err := Parse("prices.yaml", []byte(s))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 || ve.Problems[0].Line >= ve.Problems[1].Line {
		t.Fatalf("want two problems in line order, got %v", err)
	}
}

func TestLoadOverridesTheBuiltinTable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "our-prices.yaml")
	// A deployment with a negotiated EKS price.
	s := strings.Replace(string(builtinPrices), "control_plane: {value: 0.10, unit: USD/hour, item: \"EKS", "control_plane: {value: 0.05, unit: USD/hour, item: \"EKS", 1)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	tab, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := tab.Estimate(Inputs{Cloud: "aws", Sizing: "small", Tenants: 1})
	if err != nil {
		t.Fatal(err)
	}
	if e.PriceTable != "our-prices.yaml" || e.Baseline.Items[0].Monthly != 0.05*730 {
		t.Errorf("override not used: table %q, control plane %v", e.PriceTable, e.Baseline.Items[0].Monthly)
	}
	if def, _ := Load(""); def.Clouds[spec.AWS].ControlPlane.Value != 0.10 {
		t.Errorf("Load(\"\") is not the built-in table")
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("a missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(s, "egress: {value: 0.09,", "egress: {value: -1,", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("our-prices.yaml:%d:", lineOf(t, s, "egress: {value: 0.09,"))) {
		t.Errorf("a bad override file: %v", err)
	}
}
