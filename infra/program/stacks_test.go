package program

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/infra/spec"
)

// Every stack file in stacks/ is valid config, is named after what it builds, and every
// tenant lives in a cell stack of its own cloud and region.
func TestEveryStackFileIsValidAndTenantsHaveTheirCell(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "stacks", "Pulumi.*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no stack files: %v", err)
	}
	specs := map[string]*Spec{}
	for _, f := range files {
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		cfg := stackConfig(t, stack)
		s, err := ParseSpec(stack, func(k string) (string, bool) { v, ok := cfg[k]; return v, ok }, func(string) string { return "" })
		if err != nil {
			t.Errorf("%s: %v", stack, err)
			continue
		}
		specs[stack] = s
		var want string
		switch s.Role {
		case spec.RoleOrg:
			want = "org-" + s.Org
		case spec.RoleTenant:
			want = "tenant-" + s.Org
		case spec.RoleCell:
			want = fmt.Sprintf("cell-%s-%s-", s.Cloud, s.Region)
		}
		if !strings.HasPrefix(stack, want) || (s.Role == spec.RoleCell && !regexp.MustCompile(`-[0-9]+$`).MatchString(stack)) {
			t.Errorf("stack %s builds a %s; name it %s", stack, s.Role, want)
		}
	}
	versions := map[spec.Cloud]map[string]bool{}
	for stack, s := range specs {
		if s.Role != spec.RoleTenant {
			continue
		}
		cell, ok := specs[s.Cell]
		if !ok || cell.Role != spec.RoleCell {
			t.Errorf("%s: its cell %s is not a cell stack in stacks/", stack, s.Cell)
			continue
		}
		if cell.Cloud != s.Cloud || cell.Region != s.Region {
			t.Errorf("%s is in %s/%s but its cell %s is in %s/%s", stack, s.Cloud, s.Region, s.Cell, cell.Cloud, cell.Region)
		}
		key := spec.AWS // any cloud
		if s.Cloud == spec.Local {
			key = spec.Local
		}
		if versions[key] == nil {
			versions[key] = map[string]bool{}
		}
		versions[key][s.Version] = true
	}
	// Two tier B tenants on different versions in the clouds, and two in the local cell.
	if len(versions[spec.AWS]) < 2 || len(versions[spec.Local]) < 2 {
		t.Errorf("tenant versions: clouds %v, local %v; want two versions each", versions[spec.AWS], versions[spec.Local])
	}
}
