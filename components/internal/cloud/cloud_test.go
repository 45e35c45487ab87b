package cloud

import (
	"strings"
	"testing"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/infra/spec"
)

func TestShortNameFitsAndKeepsOrgsApart(t *testing.T) {
	if got := ShortName("cp", "mercy-health", "-", 40); got != "cp-mercy-health" {
		t.Errorf("short org: %q", got)
	}
	long1 := "university-hospital-of-north-westphalia"  // 39 characters
	long2 := "university-hospital-of-north-westphaliaa" // same 17-character prefix
	a, b := ShortName("cp-nodes", long1, "-", 30), ShortName("cp-nodes", long2, "-", 30)
	if len(a) > 30 || len(b) > 30 || a == b {
		t.Errorf("%q (%d) and %q (%d): want distinct names of at most 30", a, len(a), b, len(b))
	}
	if strings.Contains(a, "--") || strings.HasSuffix(a, "-") || !strings.HasPrefix(a, "cp-nodes-university") {
		t.Errorf("%q is not a clean name", a)
	}
}

func TestPrepareFillsPoolsPortsAndTrueTags(t *testing.T) {
	table := PoolTable(map[spec.Sizing][3]string{spec.Small: {"s", "m", "w"}, spec.Medium: {"s", "m", "w"}, spec.Large: {"s", "m", "w"}}, [3]int{1, 2, 3})
	args, err := Prepare(spec.AWS, cluster.Args{Org: "acme", Region: "eu-west-1", Sizing: spec.Large, DNSZone: "cells.example.org",
		Tags: map[string]string{"cellplane-region": "elsewhere", "team": "sim"}}, table)
	if err != nil {
		t.Fatal(err)
	}
	if args.Pools.Workers.Min != cluster.Bounds[spec.Large].Workers[0] || args.Pools.Workers.Max != cluster.Bounds[spec.Large].Workers[1] {
		t.Errorf("workers %d..%d", args.Pools.Workers.Min, args.Pools.Workers.Max)
	}
	if !args.Pools.Media.PublicIPs || args.Pools.Workers.PublicIPs || len(args.Pools.Media.Taints) != 1 {
		t.Errorf("pools %+v", args.Pools)
	}
	if args.RTCPortStart != cluster.DefaultRTCPortStart || args.TURNTLSPort != cluster.DefaultTURNTLSPort || args.Hostname != "acme.cells.example.org" {
		t.Errorf("defaults: %+v", args)
	}
	if args.Tags["cellplane-region"] != "eu-west-1" || args.Tags["cellplane-cloud"] != "aws" || args.Tags["team"] != "sim" {
		t.Errorf("tags %v: the contract's tags must win, extra ones stay", args.Tags)
	}
}

func TestPrepareRejects(t *testing.T) {
	base := cluster.Args{Org: "acme", Region: "eu-west-1", DNSZone: "cells.example.org"}
	for name, mut := range map[string]func(*cluster.Args){
		"region of another cloud": func(a *cluster.Args) { a.Region = "europe-west1" },
		"args of another cloud":   func(a *cluster.Args) { a.Cloud = spec.GCP },
		"bad org":                 func(a *cluster.Args) { a.Org = "Acme Corp" },
		"no zone":                 func(a *cluster.Args) { a.DNSZone = "" },
		"hostname outside zone":   func(a *cluster.Args) { a.Hostname = "acme.example.com" },
		"public workers": func(a *cluster.Args) {
			a.Pools, _ = cluster.DefaultPools(spec.Small, PoolTable(map[spec.Sizing][3]string{spec.Small: {"s", "m", "w"}}, [3]int{1, 1, 1}))
			a.Pools.Workers.PublicIPs = true
		},
	} {
		a := base
		mut(&a)
		if _, err := Prepare(spec.AWS, a, PoolTable(map[spec.Sizing][3]string{spec.Small: {"s", "m", "w"}}, [3]int{1, 1, 1})); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
