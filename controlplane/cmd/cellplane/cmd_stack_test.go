package main

import (
	"strings"
	"testing"

	"github.com/cellplane/cellplane/controlplane/provision"
)

func TestStackRefusesBadUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"stack"}, "want an operation and a stack name"},
		{[]string{"stack", "up"}, "want an operation and a stack name"},
		{[]string{"stack", "launch", "tenant-local-alpha"}, `unknown operation "launch"; allowed: preview, up, destroy, refresh`},
		{[]string{"stack", "up", "tenant-nobody"}, `no stack "tenant-nobody"`},
		{[]string{"stack", "up", "../../etc/passwd"}, "allowed: lowercase letters, digits and '-'"},
		{[]string{"stack", "up", "a", "b", "c"}, "got 4 arguments"},
	} {
		code, _, errOut := cli(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
	if _, _, errOut := cli(t, "stack", "--help"); !strings.Contains(errOut, "-backend") || !strings.Contains(errOut, "PULUMI_BACKEND_URL") {
		t.Errorf("help: %q", errOut)
	}
}

func TestFormatSummary(t *testing.T) {
	if got := formatSummary(provision.OpUp, map[string]int{"create": 3, "same": 12}); got != "3 created, 12 unchanged" {
		t.Error(got)
	}
	if got := formatSummary(provision.OpPreview, map[string]int{"update": 1}); got != "1 to update" {
		t.Error(got)
	}
	if got := formatSummary(provision.OpUp, nil); got != "no changes" {
		t.Error(got)
	}
}

// `cellplane stack` by hand on a local cell, as the README shows: the cell stack, a tenant,
// a preview of nothing to do, the tenant's destroy.
func TestStackUpPreviewDestroyOnTheLocalCell(t *testing.T) {
	dir := stateDir(t)
	if code, out, errOut := cli(t, "local", "up", "--detach", "--state", dir); code != 0 {
		t.Fatalf("local up: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Cleanup(func() { cli(t, "local", "down", "--state", dir) })
	step := func(wantOut []string, args ...string) {
		t.Helper()
		code, out, errOut := cli(t, append(args, "--state", dir)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, tailLines(out, 40), errOut)
		}
		for _, w := range wantOut {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", args, w, tailLines(out, 30))
			}
		}
	}
	step([]string{"up cell-local-local-1 done", "created", "livekitUrl", "livekitApiSecret  [secret]"}, "stack", "up", "cell-local-local-1")
	step([]string{"21 created", "namespace         org-local-beta", "version           1.4.9", "Redis ACL user org-local-beta applied"},
		"stack", "up", "tenant-local-beta")
	step([]string{"preview tenant-local-beta done", "21 unchanged"}, "stack", "preview", "tenant-local-beta")
	step([]string{"21 deleted", "Redis ACL user org-local-beta deleted"}, "stack", "destroy", "tenant-local-beta")
}

func tailLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
