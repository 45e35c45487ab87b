package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/cellplane/cellplane/controlplane/localcell"
)

func init() {
	commands["local"] = command{summary: "run the local cell (up | down | status)", run: runLocal}
}

const localUsage = `local <up|down|status> [flags]

  up      start the local cell (Kubernetes on loopback with kwok nodes, Redis, two
          livekit-server nodes, Postgres), write <state>/env, and run in the foreground
          until interrupted (or return at once with --detach)
  down    stop a cell started with --detach, by the PIDs it recorded
  status  report each part's health`

func runLocal(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(e.stderr, "usage: cellplane %s\n", localUsage)
		if len(args) == 0 {
			return usageError("local needs one of: up, down, status")
		}
		return nil
	}
	switch args[0] {
	case "up":
		return localUp(ctx, e, args[1:])
	case "down":
		return localDown(ctx, e, args[1:])
	case "status":
		return localStatus(ctx, e, args[1:])
	}
	return usageError("unknown local subcommand %q (want up, down or status)", args[0])
}

// Exit codes of `local`, so scripts can tell the failures apart.
const (
	exitAlreadyRunning = 3
	exitNotRunning     = 4
	exitPortBusy       = 5
	exitUnhealthy      = 6
)

func localUp(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "local up", "local up [flags]")
	state := stateFlag(e, fs, "state directory (data, keys, logs, env file)")
	detach := fs.Bool("detach", false, "start the cell and return; stop it later with 'cellplane local down'")
	apiPort := fs.Int("apiserver-port", 0, "kube-apiserver port on 127.0.0.1 (0: any free port)")
	lkPort := fs.Int("livekit-port", 0, "first LiveKit node's port on 127.0.0.1 (0: any free port)")
	pgPort := fs.Int("postgres-port", 0, "Postgres port on 127.0.0.1 (0: any free port)")
	webhook := fs.String("webhook-url", envOr(e, "CELLPLANE_LIVEKIT_WEBHOOK_URL", defaultLocalWebhookURL(e)), "URL the LiveKit nodes send webhooks to [CELLPLANE_LIVEKIT_WEBHOOK_URL]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("local up takes no arguments, got %q", strings.Join(fs.Args(), " "))
	}
	dir, err := filepath.Abs(*state)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(e.stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	cell, err := localcell.Start(ctx, localcell.Options{
		Dir: dir, APIServerPort: *apiPort, LiveKitPort: *lkPort, PostgresPort: *pgPort,
		Postgres: true, WebhookURL: *webhook, Logf: logf,
	})
	switch {
	case errors.Is(err, localcell.ErrAlreadyRunning):
		return exitError{code: exitAlreadyRunning, err: err}
	case errors.Is(err, localcell.ErrPortBusy):
		return exitError{code: exitPortBusy, err: err}
	case err != nil:
		return err
	}
	envVars := cell.Env()
	for _, hook := range localUpHooks {
		extra, err := hook(ctx, e, cell, logf)
		if err != nil {
			cell.Stop()
			return err
		}
		for k, v := range extra {
			envVars[k] = v
		}
	}
	envFile := filepath.Join(dir, "env")
	if err := localcell.WriteEnv(envFile, envVars); err != nil {
		cell.Stop()
		return err
	}
	printSummary(e, cell, envFile, envVars)
	if *detach {
		fmt.Fprintln(e.stdout, "\nrunning in the background; stop it with: cellplane local down --state", *state)
		return nil
	}
	fmt.Fprintln(e.stdout, "\nrunning; press Ctrl-C to stop")
	waitErr := cell.Wait(ctx)
	if waitErr != nil {
		logf("a part of the cell stopped: %v", waitErr)
	}
	logf("stopping the local cell")
	for _, stop := range localDownHooks {
		stop()
	}
	cell.Stop()
	logf("stopped")
	return waitErr
}

// stateFlag declares --state, the cell's directory (CELLPLANE_STATE, default .local).
func stateFlag(e env, fs *flag.FlagSet, usage string) *string {
	return fs.String("state", envOr(e, "CELLPLANE_STATE", ".local"), usage+" [CELLPLANE_STATE]")
}

// localUpHooks run after the cell is up (the control plane registers itself here) and
// may add variables to the env file; localDownHooks run before the cell stops.
var (
	localUpHooks   []func(ctx context.Context, e env, cell *localcell.Running, logf func(string, ...any)) (map[string]string, error)
	localDownHooks []func()
)

func printSummary(e env, cell *localcell.Running, envFile string, vars map[string]string) {
	w := e.stdout
	fmt.Fprintf(w, "\nlocal cell ready (state in %s)\n\n", cell.Dir)
	fmt.Fprintf(w, "  kubernetes   %s  (nodes:", cell.APIServer)
	for _, n := range cell.Nodes {
		fmt.Fprintf(w, " %s", n.Name)
	}
	fmt.Fprintln(w, ")")
	for _, n := range cell.LiveKit {
		fmt.Fprintf(w, "  %-12s %s  (RTC UDP %d-%d, metrics :%d)\n", n.Name, n.URL, n.RTCPortStart, n.RTCPortEnd, n.PrometheusPort)
	}
	fmt.Fprintf(w, "  redis        %s\n", cell.Redis.Addr)
	if cell.Postgres != nil {
		fmt.Fprintf(w, "  postgres     127.0.0.1:%d\n", cell.Postgres.Port)
	}
	if u := vars["CONTROLPLANE_URL"]; u != "" {
		fmt.Fprintf(w, "  controlplane %s\n", u)
	}
	fmt.Fprintf(w, "  logs         %s\n", filepath.Join(cell.Dir, "logs"))
	fmt.Fprintf(w, "\nuse it:\n  . %s\n  kubectl get nodes -L %s\n", envFile, localcell.PoolLabel)
}

func localDown(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "local down", "local down [--state DIR]")
	state := stateFlag(e, fs, "state directory of the cell")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir, err := filepath.Abs(*state)
	if err != nil {
		return err
	}
	stopped, err := localcell.Down(ctx, dir, func(f string, a ...any) { fmt.Fprintf(e.stderr, f+"\n", a...) })
	if errors.Is(err, localcell.ErrNotRunning) {
		return exitError{code: exitNotRunning, err: err}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "stopped %s\n", strings.Join(stopped, ", "))
	return nil
}

func localStatus(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "local status", "local status [--state DIR] [--json]")
	state := stateFlag(e, fs, "state directory of the cell")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir, err := filepath.Abs(*state)
	if err != nil {
		return err
	}
	parts, err := localcell.Status(ctx, dir)
	if errors.Is(err, localcell.ErrNotRunning) {
		return exitError{code: exitNotRunning, err: err}
	}
	if err != nil {
		return err
	}
	healthy := true
	for _, p := range parts {
		healthy = healthy && p.Healthy
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"healthy": healthy, "parts": parts})
	} else {
		for _, p := range parts {
			mark := "ok  "
			if !p.Healthy {
				mark = "FAIL"
			}
			fmt.Fprintf(e.stdout, "%s %-24s pid %-7d %s\n", mark, p.Name, p.PID, p.Detail)
		}
	}
	if !healthy {
		return exitError{code: exitUnhealthy, err: errors.New("some parts of the local cell are unhealthy")}
	}
	return nil
}
