package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/fleet"
)

func init() {
	commands["fleet"] = command{summary: "fleet operations on many orgs (upgrade in waves)", run: runFleet}
}

const fleetUsage = `fleet upgrade --version X [--wave N] [flags]

Upgrades every ready org not yet at --version through the control plane's API: one canary
org first, then waves of --wave orgs at a time. Each org's upgrade is an operation on its
own stack (only its release rolls). A wave starts when every upgrade of the previous one
has succeeded; at the first failure no further wave starts and the command exits 1.
The control plane is --url (CONTROLPLANE_URL); the admin key comes from the environment
(CELLPLANE_ADMIN_KEY), never from a flag.`

func runFleet(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(e.stderr, "usage: cellplane %s\n", fleetUsage)
		if len(args) == 0 {
			return usageError("fleet needs a subcommand: upgrade")
		}
		return nil
	}
	if args[0] != "upgrade" {
		return usageError("unknown fleet subcommand %q (want upgrade)", args[0])
	}
	fs := newFlagSet(e, "fleet upgrade", fleetUsage)
	version := fs.String("version", "", "the product version to roll out (semver, required)")
	wave := fs.Int("wave", 5, "orgs upgraded at once after the canary")
	canary := fs.String("canary", "", "the org upgraded first (default: the first by slug)")
	cloud := fs.String("cloud", "", "only orgs on this cloud")
	region := fs.String("region", "", "only orgs in this region")
	tier := fs.String("tier", "", "only orgs of this tier (dedicated or shared)")
	dryRun := fs.Bool("dry-run", false, "print the waves and change nothing")
	poll := fs.Duration("poll", 2*time.Second, "how often running upgrades are checked")
	url := fs.String("url", envOr(e, "CONTROLPLANE_URL", "http://127.0.0.1:8080"), "control plane URL [CONTROLPLANE_URL]")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("fleet upgrade takes no arguments, got %q", strings.Join(fs.Args(), " "))
	}
	switch {
	case *version == "":
		return usageError("--version is required (e.g. --version 1.5.0)")
	case *wave < 1:
		return usageError("--wave %d: want 1 or more", *wave)
	case *poll < 100*time.Millisecond:
		return usageError("--poll %s: want at least 100ms", *poll)
	case *tier != "" && *tier != controlplane.ClusterDedicated && *tier != controlplane.ClusterShared:
		return usageError("--tier %q: want dedicated or shared", *tier)
	}
	key := e.getenv("CELLPLANE_ADMIN_KEY")
	if key == "" {
		return usageError("CELLPLANE_ADMIN_KEY is not set (the control plane's admin key)")
	}
	opts := fleet.UpgradeOptions{Version: *version, Wave: *wave, Canary: *canary, DryRun: *dryRun, Poll: *poll, Progress: e.stdout,
		Select: func(o *controlplane.Org) bool {
			return (*cloud == "" || string(o.Cloud) == *cloud) && (*region == "" || o.Region == *region) && (*tier == "" || string(o.Tier) == *tier)
		}}
	c := &fleet.Client{URL: *url, Key: key, HTTP: &http.Client{Timeout: 30 * time.Second}}
	rep, err := fleet.Upgrade(ctx, c, opts)
	if rep != nil && !*dryRun {
		printFleetReport(e, *version, rep)
	}
	if errors.Is(err, fleet.ErrHalted) {
		return exitError{code: 1, err: err}
	}
	if err != nil && rep == nil {
		return exitError{code: 2, err: err}
	}
	return err
}

func printFleetReport(e env, version string, rep *fleet.Report) {
	w := e.stdout
	fmt.Fprintf(w, "\nupgraded to %s: %d", version, len(rep.Upgraded))
	if len(rep.Upgraded) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(rep.Upgraded, ", "))
	}
	fmt.Fprintln(w)
	if len(rep.Failed) > 0 {
		slugs := make([]string, 0, len(rep.Failed))
		for s := range rep.Failed {
			slugs = append(slugs, s)
		}
		sort.Strings(slugs)
		fmt.Fprintf(w, "failed: %d\n", len(slugs))
		for _, s := range slugs {
			fmt.Fprintf(w, "  %s: %s\n", s, rep.Failed[s])
		}
	}
	if len(rep.NotStarted) > 0 {
		fmt.Fprintf(w, "not started: %d (%s)\n", len(rep.NotStarted), strings.Join(rep.NotStarted, ", "))
	}
	if len(rep.Skipped) > 0 {
		fmt.Fprintf(w, "skipped: %d\n", len(rep.Skipped))
	}
}
