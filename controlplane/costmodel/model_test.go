package costmodel

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/infra/spec"
)

func ptr(v float64) *float64 { return &v }

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.6f, want %.6f", what, got, want)
	}
}

// The expected numbers below are computed here from the literals of prices.yaml, not
// through the model's code: a change of either the table or the model shows up.
func TestHandComputedPerCloud(t *testing.T) {
	const h = 730.0
	cases := []struct {
		name               string
		in                 Inputs
		baseline, variable float64
		sessionHours       float64
	}{
		{
			name: "aws us-east-1 small, default sessions",
			in:   Inputs{Cloud: "aws", Region: "us-east-1", Sizing: "small", Tenants: 10},
			baseline: 0.10*h + // EKS
				0.149*2*h + // ElastiCache primary + replica
				0.045*h + // NAT gateway
				0.0225*h + // NLB
				1*0.096*h + // observability node (m6i.large)
				200*0.08 + // observability disk, gp3
				3*0.096*h, // HA-floor system nodes
			variable: 300.0/10*0.17 + // media node-hours, c6i.xlarge
				300.0/4*0.192 + // worker node-hours, m6i.xlarge
				300*2.0*0.09 + // egress
				300*0.05*0.045, // NAT data
			sessionHours: 300,
		},
		{
			name: "gcp europe-west3 medium, 2000 sessions",
			in:   Inputs{Cloud: "gcp", Region: "europe-west3", Sizing: "medium", Tenants: 5, Sessions: ptr(2000)},
			baseline: 0.10*h + // GKE fee: not regional
				1.29*(0.054*5*h+ // Memorystore Standard 5 GB
					0.0014*6*h+ // Cloud NAT per VM
					0.025*h+ // forwarding rule
					0.1942*h+ // observability node n2-standard-4
					200*0.10+ // pd-balanced
					3*0.1942*h), // system nodes
			variable: 1.29 * (2000.0/20*0.4176 + // c2-standard-8
				2000.0/8*0.3885 + // n2-standard-8
				2000*2.0*0.12 +
				2000*0.05*0.045),
			sessionHours: 2000,
		},
		{
			name: "azure westeurope large, 5000 sessions of 1.5 h",
			in:   Inputs{Cloud: "azure", Region: "westeurope", Sizing: "large", Tenants: 30, Sessions: ptr(5000), SessionHours: ptr(1.5)},
			baseline: 0.10*h + // AKS Standard
				1.25*(0.138*h+ // Redis Standard C1
					0.045*h+ // NAT Gateway
					0.025*h+ // Standard LB
					0.384*h+ // observability node D8s v5
					200*0.075+ // Standard SSD
					3*0.384*h), // system nodes
			variable: 1.25 * (7500.0/40*0.677 + // F16s v2
				7500.0/16*0.768 + // D16s v5
				7500*2.0*0.087 +
				7500*0.05*0.045),
			sessionHours: 7500,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Default().Estimate(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "baseline", e.Baseline.Total, tc.baseline)
			near(t, "variable", e.Variable.Total, tc.variable)
			near(t, "session-hours", e.SessionHoursPerMonth, tc.sessionHours)
			near(t, "tier A per org", e.TierA.PerOrg, tc.baseline+tc.variable)
			near(t, "tier B per org", e.TierB.PerOrg, tc.baseline/float64(tc.in.Tenants)+tc.variable)
			near(t, "savings", e.Savings, tc.baseline-tc.baseline/float64(tc.in.Tenants))
			var items float64
			for _, li := range append(e.Baseline.Items, e.Variable.Items...) {
				items += li.Monthly
				near(t, li.Key+" monthly", li.Monthly, li.Quantity*li.UnitPrice)
				if len(li.Figures) == 0 || li.Figures[0].Source == "" || li.Figures[0].Date == "" || li.Figures[0].Line == 0 {
					t.Errorf("%s: its price figure has no source, date or line: %+v", li.Key, li.Figures)
				}
				if !strings.HasPrefix(li.Figures[0].Source, "https://") {
					t.Errorf("%s: a price's source is not a public address: %q", li.Key, li.Figures[0].Source)
				}
				if !strings.HasSuffix(li.Formula, Money(li.Monthly)) {
					t.Errorf("%s: formula %q does not end in its amount %s", li.Key, li.Formula, Money(li.Monthly))
				}
			}
			near(t, "sum of line items", items, tc.baseline+tc.variable)
		})
	}
}

func TestControlPlaneFeeIsNotScaledByRegion(t *testing.T) {
	base, err := Default().Estimate(Inputs{Cloud: "aws", Region: "us-east-1", Sizing: "small", Tenants: 1})
	if err != nil {
		t.Fatal(err)
	}
	fra, err := Default().Estimate(Inputs{Cloud: "aws", Region: "eu-central-1", Sizing: "small", Tenants: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, li := range fra.Baseline.Items {
		want := base.Baseline.Items[i].Monthly * 1.20
		if li.Key == "control_plane" {
			want = 73
		}
		near(t, "eu-central-1 "+li.Key, li.Monthly, want)
	}
	if got := fra.Assumptions[len(fra.Assumptions)-1]; got.Path != "clouds.aws.regions.eu-central-1" || got.Value != 1.20 {
		t.Errorf("the region multiplier is not among the figures behind the estimate: %+v", got)
	}
}

// Tier A is the same whatever N; tier B falls strictly with N toward the variable cost,
// and equals tier A at N = 1.
func TestBaselineOverN(t *testing.T) {
	tab := Default()
	for _, c := range tab.CloudNames() {
		for _, s := range spec.Sizings {
			e, err := tab.Estimate(Inputs{Cloud: string(c), Sizing: string(s), Tenants: 50, CurveTo: 200})
			if err != nil {
				t.Fatal(err)
			}
			if len(e.Curve) < 20 || e.Curve[0].Tenants != 1 || e.Curve[len(e.Curve)-1].Tenants != 200 {
				t.Fatalf("%s/%s: curve runs %d..%d in %d points", c, s, e.Curve[0].Tenants, e.Curve[len(e.Curve)-1].Tenants, len(e.Curve))
			}
			near(t, string(c)+" B(1)", e.Curve[0].TierB, e.Curve[0].TierA)
			for i := 1; i < len(e.Curve); i++ {
				p, q := e.Curve[i-1], e.Curve[i]
				if q.TierA != p.TierA {
					t.Errorf("%s/%s: tier A changes with N: %v at %d, %v at %d", c, s, p.TierA, p.Tenants, q.TierA, q.Tenants)
				}
				if !(q.TierB < p.TierB) {
					t.Errorf("%s/%s: tier B does not fall from N=%d (%v) to N=%d (%v)", c, s, p.Tenants, p.TierB, q.Tenants, q.TierB)
				}
				if q.TierB <= e.Variable.Total {
					t.Errorf("%s/%s: tier B at N=%d (%v) is at or below the variable cost alone (%v)", c, s, q.Tenants, q.TierB, e.Variable.Total)
				}
				near(t, "B(N)", q.TierB, e.Baseline.Total/float64(q.Tenants)+e.Variable.Total)
			}
		}
	}
}

func TestBreakEven(t *testing.T) {
	tab := Default()
	for _, c := range tab.CloudNames() {
		for _, s := range spec.Sizings {
			for _, m := range []float64{0, 0.1, 0.2, 0.3, 0.4} {
				e, err := tab.Estimate(Inputs{Cloud: string(c), Sizing: string(s), Tenants: 10, Margin: ptr(m)})
				if err != nil {
					t.Fatal(err)
				}
				b, v := e.Baseline.Total, e.Variable.Total
				target := (1 - m) * (b + v)
				be := e.BreakEven
				if be.Margin != m {
					t.Errorf("margin %v reported as %v", m, be.Margin)
				}
				// Independently: B/N + V <= target  <=>  N >= B / (target - V).
				if target-v <= 0 {
					if be.Tenants != nil {
						t.Errorf("%s/%s m=%v: break-even %d, but tier B can never be that much cheaper", c, s, m, *be.Tenants)
					}
					if !strings.Contains(be.Reason, "never") {
						t.Errorf("reason %q does not say never", be.Reason)
					}
					continue
				}
				want := int(math.Ceil(b/(target-v) - 1e-9))
				if be.Tenants == nil || *be.Tenants != want {
					t.Fatalf("%s/%s m=%v: break-even %v, want %d", c, s, m, be.Tenants, want)
				}
				n := *be.Tenants
				if got := b/float64(n) + v; got > target*(1+1e-9) {
					t.Errorf("at the break-even N=%d tier B (%v) is not %v%% cheaper than tier A (%v)", n, got, m*100, b+v)
				}
				if n > 1 {
					if got := b/float64(n-1) + v; got <= target {
						t.Errorf("N=%d already breaks even (%v <= %v), so %d is not the smallest", n-1, got, target, n)
					}
				}
				if m == 0 && n != 1 {
					t.Errorf("with no margin the tiers are equal at N=1, got %d", n)
				}
			}
		}
	}
}

func TestBreakEvenHandComputed(t *testing.T) {
	// aws small, default inputs: baseline and variable from the table's literals.
	const h = 730.0
	b := 0.10*h + 0.149*2*h + 0.045*h + 0.0225*h + 0.096*h + 200*0.08 + 3*0.096*h // 636.135
	v := 30*0.17 + 75*0.192 + 600*0.09 + 15*0.045                                 // 74.175
	// margin 0.85: (0.15 × 710.31 - 74.175) = 32.37 -> N >= 636.135/32.37 = 19.65 -> 20
	e, err := Default().Estimate(Inputs{Cloud: "aws", Sizing: "small", Tenants: 10, Margin: ptr(0.85)})
	if err != nil {
		t.Fatal(err)
	}
	want := int(math.Ceil(b / (0.15*(b+v) - v)))
	if want != 20 {
		t.Fatalf("hand computation gives %d, expected 20 (b=%v v=%v)", want, b, v)
	}
	if e.BreakEven.Tenants == nil || *e.BreakEven.Tenants != 20 {
		t.Fatalf("break-even at 85%% = %v, want 20 (%s)", e.BreakEven.Tenants, e.BreakEven.Reason)
	}
	// The curve reaches past the break-even so a chart can show it.
	if last := e.Curve[len(e.Curve)-1].Tenants; last < 20 {
		t.Errorf("curve stops at %d, before the break-even", last)
	}
	// margin 0.9: tier B would need to save more than the baseline's share of tier A
	// (636.135 / 710.31 = 89.6%).
	e, err = Default().Estimate(Inputs{Cloud: "aws", Sizing: "small", Tenants: 10, Margin: ptr(0.9)})
	if err != nil {
		t.Fatal(err)
	}
	if e.BreakEven.Tenants != nil || !strings.Contains(e.BreakEven.Reason, "89.6%") {
		t.Errorf("margin 0.9: break-even %v, reason %q; want never, at most 89.6%%", e.BreakEven.Tenants, e.BreakEven.Reason)
	}
}

func TestInputsAreValidatedByField(t *testing.T) {
	cases := []struct {
		in    Inputs
		field string
		says  string
	}{
		{Inputs{Sizing: "small", Tenants: 1}, "cloud", "required"},
		{Inputs{Cloud: "ibm", Sizing: "small", Tenants: 1}, "cloud", "unknown cloud"},
		{Inputs{Cloud: "local", Sizing: "small", Tenants: 1}, "cloud", "no prices for local"},
		{Inputs{Cloud: "aws", Region: "europe-west3", Sizing: "small", Tenants: 1}, "region", "not a aws region"},
		{Inputs{Cloud: "aws", Sizing: "huge", Tenants: 1}, "sizing", "unknown sizing"},
		{Inputs{Cloud: "aws", Sizing: "small", Tenants: 0}, "tenants", "between 1 and"},
		{Inputs{Cloud: "aws", Sizing: "small", Tenants: MaxTenants + 1}, "tenants", "between 1 and"},
		{Inputs{Cloud: "aws", Sizing: "small", Tenants: 1, Sessions: ptr(-1)}, "sessions", "between 0 and"},
		{Inputs{Cloud: "aws", Sizing: "small", Tenants: 1, Sessions: ptr(math.NaN())}, "sessions", "between 0 and"},
		{Inputs{Cloud: "aws", Sizing: "small", Tenants: 1, SessionHours: ptr(0)}, "session_hours", "more than 0"},
		{Inputs{Cloud: "aws", Sizing: "small", Tenants: 1, Margin: ptr(1)}, "margin", "fraction"},
		{Inputs{Cloud: "aws", Sizing: "small", Tenants: 1, Margin: ptr(-0.1)}, "margin", "fraction"},
	}
	for _, tc := range cases {
		_, err := Default().Estimate(tc.in)
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("%+v: want an InputError, got %v", tc.in, err)
			continue
		}
		found := false
		for _, f := range ie.Fields {
			if f.Field == tc.field && strings.Contains(f.Message, tc.says) {
				found = true
			}
		}
		if !found {
			t.Errorf("%+v: want field %s saying %q, got %v", tc.in, tc.field, tc.says, ie.Fields)
		}
	}
	// Every bad field at once.
	_, err := Default().Estimate(Inputs{Cloud: "aws", Region: "nowhere", Sizing: "x", Tenants: -1})
	var ie *InputError
	if !errors.As(err, &ie) || len(ie.Fields) != 3 {
		t.Errorf("want region, sizing and tenants reported together, got %v", err)
	}
}

func TestDefaultsFromTheTable(t *testing.T) {
	e, err := Default().Estimate(Inputs{Cloud: "gcp", Sizing: "large", Tenants: 3})
	if err != nil {
		t.Fatal(err)
	}
	r := e.Inputs
	if r.Region != "us-central1" || r.SessionsPerMonth != 6000 || r.SessionHours != 1 || r.Margin != DefaultMargin {
		t.Errorf("defaults not taken from the table: %+v", r)
	}
	near(t, "average concurrency", e.AverageConcurrency, 6000.0/730)
	for _, f := range e.Assumptions {
		if f.Path == "assumptions.sizings.large.sessions_per_month" && f.Value != 6000 {
			t.Errorf("sessions figure %+v", f)
		}
	}
	e, err = Default().Estimate(Inputs{Cloud: "gcp", Sizing: "large", Tenants: 3, Sessions: ptr(10)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range e.Assumptions {
		if strings.Contains(f.Path, "sessions_per_month") {
			t.Errorf("the table's sessions figure is listed though the question gave its own: %+v", f)
		}
	}
	if e.PriceTable != BuiltinName {
		t.Errorf("price table %q", e.PriceTable)
	}
}

func TestMoney(t *testing.T) {
	for v, want := range map[float64]string{0: "$0.00", 73: "$73.00", 1234.565: "$1,234.57", 1234567.891: "$1,234,567.89", -5.5: "-$5.50"} {
		if got := Money(v); got != want {
			t.Errorf("Money(%v) = %s, want %s", v, got, want)
		}
	}
}
