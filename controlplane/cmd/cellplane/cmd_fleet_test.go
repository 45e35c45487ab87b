package main

import (
	"errors"
	"strings"
	"testing"
)

func TestFleetUpgradeArguments(t *testing.T) {
	env := map[string]string{"CELLPLANE_ADMIN_KEY": "test-admin-key-0123456789abcdef", "CONTROLPLANE_URL": "http://127.0.0.1:1"}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"fleet"}, env, "fleet needs a subcommand"},
		{[]string{"fleet", "rollback"}, env, `unknown fleet subcommand "rollback"`},
		{[]string{"fleet", "upgrade"}, env, "--version is required"},
		{[]string{"fleet", "upgrade", "--version", "1.5.0", "--wave", "0"}, env, "--wave 0"},
		{[]string{"fleet", "upgrade", "--version", "1.5.0", "--tier", "gold"}, env, `--tier "gold"`},
		{[]string{"fleet", "upgrade", "--version", "1.5.0", "--poll", "1ms"}, env, "--poll"},
		{[]string{"fleet", "upgrade", "--version", "1.5.0", "extra"}, env, "takes no arguments"},
		{[]string{"fleet", "upgrade", "--version", "1.5.0"}, nil, "CELLPLANE_ADMIN_KEY is not set"},
	} {
		_, _, err := runCLI(t, c.env, c.args...)
		var ec exitCoder
		if err == nil || !errors.As(err, &ec) || ec.ExitCode() != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want exit 2 naming %q", c.args, err, c.want)
		}
	}
	// An unreachable control plane is an error too, naming what failed.
	if _, _, err := runCLI(t, env, "fleet", "upgrade", "--version", "1.5.0"); err == nil || !strings.Contains(err.Error(), "listing orgs") {
		t.Fatalf("unreachable: %v", err)
	}
	out, errOut, err := runCLI(t, env, "fleet", "--help")
	if err != nil || !strings.Contains(errOut, "canary") {
		t.Fatalf("help: %v %q %q", err, out, errOut)
	}
}
