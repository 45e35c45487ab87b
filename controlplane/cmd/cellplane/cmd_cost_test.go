package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/controlplane/costmodel"
)

func costCLI(t *testing.T, environ map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"cost"}, args...), func(k string) string { return environ[k] }, &out, &errOut)
	var ec exitCoder
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0, out.String(), errOut.String()
	case errors.As(err, &ec):
		return ec.ExitCode(), out.String(), errOut.String() + err.Error()
	}
	return 1, out.String(), errOut.String() + err.Error()
}

func TestCostTable(t *testing.T) {
	code, out, errOut := costCLI(t, nil, "--cloud", "aws", "--region", "us-east-1", "--sizing", "small", "--tenants", "1,2,10", "--margin", "0.2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// Tier A = 636.135 + 74.175 = 710.31 in every row; tier B = 636.135/N + 74.175.
	for _, row := range []string{`1\s+\$710\.31\s+\$710\.31\s+0\.0%`, `2\s+\$710\.31\s+\$392\.24\s+44\.8%`, `10\s+\$710\.31\s+\$137\.79\s+80\.6%`} {
		if !regexp.MustCompile(row).MatchString(out) {
			t.Errorf("no row matching %s in:\n%s", row, out)
		}
	}
	for _, want := range []string{
		"HA-floor system nodes", "$210.24", "3 nodes × 730 h × $0.096/hour",
		"Break-even at 20% margin: N = 2",
		"https://aws.amazon.com/eks/pricing/ (2025-06-01)",
		"total", "$636.14", "$74.18",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCostJSONAndPriceFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "prices.yaml")
	data, err := os.ReadFile("../../costmodel/prices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cheaper := strings.Replace(string(data), `control_plane: {value: 0.10, unit: USD/hour, item: "GKE`, `control_plane: {value: 0.0, unit: USD/hour, item: "GKE`, 1)
	if err := os.WriteFile(path, []byte(cheaper), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := costCLI(t, map[string]string{"CELLPLANE_PRICES": path}, "--cloud", "gcp", "--sizing", "medium", "--tenants", "3", "--sessions", "100", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var est costmodel.Estimate
	if err := json.Unmarshal([]byte(out), &est); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if est.PriceTable != "prices.yaml" || est.Baseline.Items[0].Monthly != 0 || est.Inputs.SessionsPerMonth != 100 || est.TierB.Tenants != 3 {
		t.Errorf("the price file or flags were not used: %+v", est.Inputs)
	}

	bad := strings.Replace(string(data), "nat_data: {value: 0.045, unit: USD/GB, item: \"NAT gateway data processed\"", "nat_data: {value: -0.045, unit: USD/GB, item: \"NAT gateway data processed\"", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = costCLI(t, nil, "--prices", path)
	if code != 1 || !regexp.MustCompile(`prices\.yaml:\d+: clouds\.aws\.prices\.nat_data\.value: must not be negative`).MatchString(errOut) {
		t.Errorf("a bad price file: exit %d, %s", code, errOut)
	}
}

func TestCostBadFlagsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--cloud", "ibm"}, "--cloud: unknown cloud"},
		{[]string{"--cloud", "gcp", "--region", "eu-central-1"}, "--region: region \"eu-central-1\" is not a gcp region"},
		{[]string{"--sizing", "xl"}, "--sizing: unknown sizing"},
		{[]string{"--tenants", "0"}, "--tenants:"},
		{[]string{"--tenants", "9-3"}, "--tenants: range"},
		{[]string{"--sessions", "-4"}, "--sessions:"},
		{[]string{"--margin", "lots"}, "invalid value \"lots\" for flag -margin"},
		{[]string{"extra"}, "takes no arguments"},
	} {
		code, _, errOut := costCLI(t, nil, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.says) {
			t.Errorf("%v: exit %d, %q; want exit 2 saying %q", tc.args, code, errOut, tc.says)
		}
	}
	if code, _, errOut := costCLI(t, nil, "--help"); code != 0 || !strings.Contains(errOut, "--tenants") && !strings.Contains(errOut, "-tenants") {
		t.Errorf("--help: exit %d, %s", code, errOut)
	}
}
