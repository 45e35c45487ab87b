package cluster

import (
	"strings"
	"testing"

	"github.com/cellplane/cellplane/infra/spec"
)

var table = SizingTable{spec.Small: {
	System:  PoolShape{InstanceType: "s", Min: 2, Max: 3},
	Media:   PoolShape{InstanceType: "m", Min: 2, Max: 4},
	Workers: PoolShape{InstanceType: "w", Min: 2, Max: 6},
}}

func TestDefaultPoolsLabelTaintAndExposeOnlyMedia(t *testing.T) {
	p, err := DefaultPools(spec.Small, table)
	if err != nil {
		t.Fatal(err)
	}
	for _, pool := range p.All() {
		if pool.Labels[PoolLabel] != pool.Name {
			t.Errorf("pool %s labels %v", pool.Name, pool.Labels)
		}
		media := pool.Name == PoolMedia
		if pool.PublicIPs != media || (len(pool.Taints) == 1) != media {
			t.Errorf("pool %s: public %v taints %v", pool.Name, pool.PublicIPs, pool.Taints)
		}
	}
	if p.Media.Taints[0] != (Taint{Key: "cellplane.io/media", Value: "true", Effect: "NoSchedule"}) {
		t.Errorf("media taint %v", p.Media.Taints[0])
	}
	if p.Workers.Min != 2 || p.Workers.Max != 6 || p.Workers.InstanceType != "w" {
		t.Errorf("workers %+v", p.Workers)
	}
	if _, err := DefaultPools(spec.Large, table); err == nil {
		t.Error("a sizing missing from the table was accepted")
	}
}

func TestValidateCatchesBrokenArgs(t *testing.T) {
	good := func() Args {
		p, _ := DefaultPools(spec.Small, table)
		return Args{Org: "acme", Region: "us-east-1", Pools: p, RTCPortStart: 50000, RTCPortEnd: 60000}
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Args){
		"workers public":  func(a *Args) { a.Pools.Workers.PublicIPs = true },
		"media private":   func(a *Args) { a.Pools.Media.PublicIPs = false },
		"media untainted": func(a *Args) { a.Pools.Media.Taints = nil },
		"bounds inverted": func(a *Args) { a.Pools.Workers.Min = 9 },
		"label missing":   func(a *Args) { a.Pools.System.Labels = nil },
		"no rtc ports":    func(a *Args) { a.RTCPortEnd = 0 },
		"no region":       func(a *Args) { a.Region = "" },
	} {
		a := good()
		mutate(&a)
		if err := a.Validate(); err == nil || !strings.HasPrefix(err.Error(), "cluster args:") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
