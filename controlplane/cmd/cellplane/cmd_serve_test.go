package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
	return out.String(), errb.String(), err
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	_, _, err := runCLI(t, nil, "serve")
	var ec exitCoder
	if err == nil || !errors.As(err, &ec) || ec.ExitCode() != 2 {
		t.Fatalf("serve with nothing set: %v", err)
	}
	for _, want := range []string{"DATABASE_URL", "CELLPLANE_ADMIN_KEY", "CELLPLANE_MASTER_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	env := map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/x", "CELLPLANE_ADMIN_KEY": strings.Repeat("a", 32), "CELLPLANE_MASTER_KEY": "bm90IDMyIGJ5dGVz"}
	_, _, err = runCLI(t, env, "serve")
	if err == nil || !strings.Contains(err.Error(), "CELLPLANE_MASTER_KEY: the master key must be 32 bytes") || strings.Contains(err.Error(), "bm90IDMyIGJ5dGVz") {
		t.Fatalf("bad master key: %v", err)
	}
	if _, _, err := runCLI(t, env, "serve", "--log-format", "xml"); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Fatalf("bad log format: %v", err)
	}
	if _, _, err := runCLI(t, env, "serve", "extra"); err == nil || !strings.Contains(err.Error(), "no arguments") {
		t.Fatalf("extra argument: %v", err)
	}
}

func TestServeAndMigrateHelp(t *testing.T) {
	for _, cmd := range []string{"serve", "migrate"} {
		_, stderr, err := runCLI(t, nil, cmd, "--help")
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr, "usage: cellplane "+cmd) || !strings.Contains(stderr, "-database-url") {
			t.Errorf("%s --help: %v\n%s", cmd, err, stderr)
		}
	}
	if _, _, err := runCLI(t, nil, "migrate"); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("migrate without a database: %v", err)
	}
}
