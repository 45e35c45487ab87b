package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/localcell"
)

// cli runs the cellplane command line in-process and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
	code := 0
	var ec exitCoder
	switch {
	case err == nil:
	case errors.As(err, &ec):
		code = ec.ExitCode()
		errOut.WriteString(err.Error())
	default:
		code = 1
		errOut.WriteString(err.Error())
	}
	return code, out.String(), errOut.String()
}

// stateDir is a state directory the unprivileged Postgres user can reach.
func stateDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "cellplane-cli-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestUsageAndHelp(t *testing.T) {
	if code, out, _ := cli(t); code != 2 || !strings.Contains(out, "local") {
		t.Errorf("no arguments: exit %d, usage %q", code, out)
	}
	if code, _, errOut := cli(t, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown subcommand "frobnicate"`) {
		t.Errorf("unknown subcommand: exit %d, %q", code, errOut)
	}
	for name := range commands {
		if code, _, errOut := cli(t, name, "--help"); code != 0 && !strings.Contains(errOut, "usage: cellplane "+name) {
			t.Errorf("%s --help: exit %d, %q", name, code, errOut)
		}
	}
	if code, _, errOut := cli(t, "local", "sideways"); code != 2 || !strings.Contains(errOut, "sideways") {
		t.Errorf("local sideways: exit %d, %q", code, errOut)
	}
	if code, _, errOut := cli(t, "local", "up", "--no-such-flag"); code != 2 || !strings.Contains(errOut, "no-such-flag") {
		t.Errorf("bad flag: exit %d, %q", code, errOut)
	}
}

func TestLocalDownAndStatusWithNothingRunning(t *testing.T) {
	dir := stateDir(t)
	if code, _, errOut := cli(t, "local", "down", "--state", dir); code != exitNotRunning || !strings.Contains(errOut, "no local cell is running") {
		t.Errorf("down: exit %d, %q", code, errOut)
	}
	if code, _, errOut := cli(t, "local", "status", "--state", dir); code != exitNotRunning || !strings.Contains(errOut, "no local cell is running") {
		t.Errorf("status: exit %d, %q", code, errOut)
	}
}

func TestLocalUpOnABusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	code, _, errOut := cli(t, "local", "up", "--detach", "--state", stateDir(t), "--apiserver-port", port)
	if code != exitPortBusy || !strings.Contains(errOut, "port "+port) || !strings.Contains(errOut, "--apiserver-port") {
		t.Errorf("busy port: exit %d, %q", code, errOut)
	}
}

func TestLocalUpTwiceStatusDown(t *testing.T) {
	dir := stateDir(t)
	// A PID file left by a crash, naming a process that no longer runs, is cleared.
	_ = os.MkdirAll(dir+"/pids", 0o755)
	_ = os.WriteFile(dir+"/pids/etcd.pid", []byte("999999\n/nonexistent/etcd\n"), 0o644)
	code, out, errOut := cli(t, "local", "up", "--detach", "--state", dir)
	if !strings.Contains(errOut, "removing stale pid file of etcd") {
		t.Errorf("stale pid file not reported:\n%s", errOut)
	}
	if code != 0 {
		t.Fatalf("local up: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Cleanup(func() { cli(t, "local", "down", "--state", dir) })
	env, err := os.ReadFile(dir + "/env")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"KUBECONFIG", "DATABASE_URL", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"} {
		if !strings.Contains(string(env), "export "+k+"='") {
			t.Errorf("env file lacks %s:\n%s", k, env)
		}
	}
	for _, f := range []string{"/env", "/livekit-keys", "/cell.json"} {
		if st, err := os.Stat(dir + f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", f, st.Mode().Perm(), err)
		}
	}

	code, _, errOut = cli(t, "local", "up", "--detach", "--state", dir)
	if code != exitAlreadyRunning || !strings.Contains(errOut, "already running") || !strings.Contains(errOut, "local down") {
		t.Errorf("second up: exit %d, %q", code, errOut)
	}
	code, out, _ = cli(t, "local", "status", "--state", dir)
	if code != 0 {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	for _, part := range []string{"etcd", "kube-apiserver", "kwok", "redis", "livekit-a", "livekit-b", "postgres"} {
		if !strings.Contains(out, part) {
			t.Errorf("status does not report %s:\n%s", part, out)
		}
	}
	// What was deployed survives a restart, and the media nodes keep their URLs.
	k, err := localcell.AdminClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Do(context.Background(), "POST", "/api/v1/namespaces", []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kept"}}`), nil); err != nil {
		t.Fatal(err)
	}
	first, _ := localcell.Load(dir)
	if code, out, errOut := cli(t, "local", "down", "--state", dir); code != 0 {
		t.Fatalf("down: exit %d %q %q", code, out, errOut)
	}
	if code, out, errOut := cli(t, "local", "up", "--detach", "--state", dir); code != 0 {
		t.Fatalf("restart: exit %d\n%s\n%s", code, out, errOut)
	}
	second, _ := localcell.Load(dir)
	for i := range first.LiveKit {
		if first.LiveKit[i].URL != second.LiveKit[i].URL {
			t.Errorf("%s moved from %s to %s across a restart", first.LiveKit[i].Name, first.LiveKit[i].URL, second.LiveKit[i].URL)
		}
	}
	if k, err = localcell.AdminClient(dir); err != nil {
		t.Fatal(err)
	}
	if err := k.Do(context.Background(), "GET", "/api/v1/namespaces/kept", nil, nil); err != nil {
		t.Errorf("namespace created before the restart: %v", err)
	}

	code, out, errOut = cli(t, "local", "down", "--state", dir)
	if code != 0 || !strings.Contains(out, "kube-apiserver") {
		t.Fatalf("down: exit %d %q %q", code, out, errOut)
	}
	if code, _, _ := cli(t, "local", "down", "--state", dir); code != exitNotRunning {
		t.Errorf("second down: exit %d, want %d", code, exitNotRunning)
	}
	if _, err := os.Stat(dir + "/cell.json"); !os.IsNotExist(err) {
		t.Errorf("cell.json left behind after down: %v", err)
	}
}

func TestForegroundCellReportsACrashedPart(t *testing.T) {
	dir := stateDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var out, errOut bytes.Buffer
	go func() {
		done <- run(ctx, []string{"local", "up", "--state", dir}, func(string) string { return "" }, &out, &errOut)
	}()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := os.Stat(dir + "/env"); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("local up ended early: %v\n%s", err, errOut.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("local up not ready after 3 minutes")
		}
	}
	b, err := os.ReadFile(dir + "/pids/redis.pid")
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(b))[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "redis exited") {
			t.Fatalf("want an error naming redis, got %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("local up did not notice redis died")
	}
	// Everything else was stopped with it.
	if code, _, _ := cli(t, "local", "status", "--state", dir); code != exitNotRunning {
		t.Errorf("status after the crash: exit %d, want %d (nothing running)", code, exitNotRunning)
	}
}
