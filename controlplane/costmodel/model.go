package costmodel

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cellplane/cellplane/infra/spec"
)

// Limits and defaults of the inputs.
const (
	DefaultTenants = 10
	DefaultMargin  = 0.2
	MaxTenants     = 10000
	MaxSessions    = 10_000_000
	MaxCurvePoints = 120
)

// Inputs ask the model one question. The optional fields, when nil, take the price
// table's figure for the sizing (sessions, session length) or the default margin.
type Inputs struct {
	Cloud        string
	Region       string // "" means the cloud's base region
	Sizing       string
	Tenants      int      // N: tenants per shared cell
	Sessions     *float64 // sessions per org per month
	SessionHours *float64 // average length of a session
	Margin       *float64 // how much cheaper tier B must be to count as break-even (0.2 = 20%)
	CurveTo      int      // the largest N on the curve; 0 picks one that shows the break-even
}

// FieldError names one bad input.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// InputError lists the bad inputs of one question.
type InputError struct{ Fields []FieldError }

func (e *InputError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid cost model inputs: " + strings.Join(parts, "; ")
}

// Resolved are the inputs as the model used them, defaults filled in.
type Resolved struct {
	Cloud            spec.Cloud  `json:"cloud"`
	Region           string      `json:"region"`
	Sizing           spec.Sizing `json:"sizing"`
	Tenants          int         `json:"tenants"`
	SessionsPerMonth float64     `json:"sessions_per_month"`
	SessionHours     float64     `json:"session_hours"`
	Margin           float64     `json:"margin"`
}

// LineItem is one cost with the arithmetic and every figure behind it.
type LineItem struct {
	Key        string   `json:"key"`
	Name       string   `json:"name"`
	Item       string   `json:"item,omitempty"`
	Quantity   float64  `json:"quantity"`
	Unit       string   `json:"unit"`
	ListPrice  float64  `json:"list_price"` // per unit, base region
	Multiplier float64  `json:"region_multiplier"`
	UnitPrice  float64  `json:"unit_price"` // per unit, this region
	Monthly    float64  `json:"monthly"`
	Formula    string   `json:"formula"`
	Figures    []Figure `json:"figures"`
}

// Part is a sum of line items.
type Part struct {
	Total float64    `json:"total"`
	Items []LineItem `json:"items"`
}

// TierCost is what one org pays per month in a tier.
type TierCost struct {
	Tier     spec.Tier `json:"tier"`
	PerOrg   float64   `json:"per_org"`
	Baseline float64   `json:"baseline"` // the org's share of the cluster baseline
	Variable float64   `json:"variable"`
	Tenants  int       `json:"tenants"` // orgs sharing the baseline
	Formula  string    `json:"formula"`
}

// BreakEven is the smallest N at which tier B costs at most (1 - margin) of tier A per org.
type BreakEven struct {
	Margin  float64 `json:"margin"`
	Tenants *int    `json:"tenants"` // nil: never, whatever N
	Reason  string  `json:"reason"`
}

// Point is the cost per org of both tiers at one N.
type Point struct {
	Tenants int     `json:"tenants"`
	TierA   float64 `json:"tier_a"`
	TierB   float64 `json:"tier_b"`
}

// Estimate is the whole answer: the numbers and everything behind them.
type Estimate struct {
	Inputs               Resolved `json:"inputs"`
	Currency             string   `json:"currency"`
	PriceTable           string   `json:"price_table"`
	HoursPerMonth        float64  `json:"hours_per_month"`
	SessionHoursPerMonth float64  `json:"session_hours_per_month"`
	AverageConcurrency   float64  `json:"average_concurrent_sessions"`
	// Baseline is the fixed monthly cost of one cluster, whoever uses it.
	Baseline Part `json:"baseline"`
	// Variable is what one org's sessions cost per month, in either tier.
	Variable        Part      `json:"variable"`
	TierA           TierCost  `json:"tier_a"`
	TierB           TierCost  `json:"tier_b"`
	Savings         float64   `json:"savings_per_org"`
	SavingsFraction float64   `json:"savings_fraction"`
	BreakEven       BreakEven `json:"break_even"`
	Curve           []Point   `json:"curve"`
	Assumptions     []Figure  `json:"assumptions"`
}

// Resolve validates in against the table and fills in the defaults.
func (t *Table) Resolve(in Inputs) (Resolved, error) {
	var fe []FieldError
	bad := func(field, format string, args ...any) {
		fe = append(fe, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	r := Resolved{Region: in.Region, Tenants: in.Tenants, Margin: DefaultMargin}
	var cp *CloudPrices
	if in.Cloud == "" {
		bad("cloud", "cloud is required; priced clouds: %s", t.cloudList())
	} else if c, err := spec.ParseCloud(in.Cloud); err != nil {
		bad("cloud", "%v", err)
	} else if cp = t.Clouds[c]; cp == nil {
		bad("cloud", "the price table has no prices for %s; priced clouds: %s", c, t.cloudList())
	} else {
		r.Cloud = c
	}
	if cp != nil {
		if r.Region == "" {
			r.Region = cp.BaseRegion
		}
		if err := spec.ValidateRegion(r.Cloud, r.Region); err != nil {
			bad("region", "%v", err)
		} else if _, ok := cp.Regions[r.Region]; !ok && r.Region != cp.BaseRegion {
			bad("region", "the price table has no prices for %s region %s; priced: %s", r.Cloud, r.Region, strings.Join(t.RegionNames(r.Cloud), ", "))
		}
	}
	if in.Sizing == "" {
		bad("sizing", "sizing is required; allowed: small, medium, large")
	} else if s, err := spec.ParseSizing(in.Sizing); err != nil {
		bad("sizing", "%v", err)
	} else {
		r.Sizing = s
	}
	if in.Tenants < 1 || in.Tenants > MaxTenants {
		bad("tenants", "tenants per shared cell must be between 1 and %d, not %d", MaxTenants, in.Tenants)
	}
	if in.Sessions != nil {
		if v := *in.Sessions; !(v >= 0 && v <= MaxSessions) {
			bad("sessions", "sessions per month must be between 0 and %d", MaxSessions)
		} else {
			r.SessionsPerMonth = v
		}
	} else if a, ok := t.Assumptions.Sizings[r.Sizing]; ok {
		r.SessionsPerMonth = a.SessionsPerMonth.Value
	}
	r.SessionHours = t.Assumptions.SessionHours.Value
	if in.SessionHours != nil {
		if v := *in.SessionHours; !(v > 0 && v <= 24) {
			bad("session_hours", "the average session length must be more than 0 and at most 24 hours")
		} else {
			r.SessionHours = v
		}
	}
	if in.Margin != nil {
		if v := *in.Margin; !(v >= 0 && v < 1) {
			bad("margin", "the margin is a fraction from 0 (as cheap) to below 1 (0.2 = 20%% cheaper), not %v", v)
		} else {
			r.Margin = v
		}
	}
	if in.CurveTo < 0 || in.CurveTo > MaxTenants {
		bad("curve_to", "the curve ends at an N between 1 and %d", MaxTenants)
	}
	if len(fe) > 0 {
		return r, &InputError{Fields: fe}
	}
	return r, nil
}

func (t *Table) cloudList() string {
	var s []string
	for _, c := range t.CloudNames() {
		s = append(s, string(c))
	}
	return strings.Join(s, ", ")
}

// Estimate answers one question: the monthly cost per org of tier A and tier B, the
// break-even N, the curve of both against N, and every figure behind the numbers.
//
//	tier A per org    = baseline + variable
//	tier B per org(N) = baseline / N + variable
//
// The baseline is one cluster's fixed cost (control-plane fee, HA Redis, NAT, load
// balancer, observability, the system pool's HA floor); the variable part is the org's
// own media and worker node-hours, egress and NAT data, the same in both tiers.
func (t *Table) Estimate(in Inputs) (*Estimate, error) {
	r, err := t.Resolve(in)
	if err != nil {
		return nil, err
	}
	cp := t.Clouds[r.Cloud]
	mult := Figure{Value: 1, Unit: "multiplier", Source: "the base region of the price table", Path: "clouds." + string(r.Cloud) + ".base_region"}
	if r.Region != cp.BaseRegion {
		mult = cp.Regions[r.Region]
	}
	a := t.Assumptions
	sz := a.Sizings[r.Sizing]
	hours := t.HoursPerMonth
	c := costing{region: r.Region, mult: mult}

	e := &Estimate{
		Inputs:        r,
		Currency:      t.Currency,
		PriceTable:    t.Name,
		HoursPerMonth: hours.Value,
	}
	system := cp.System[r.Sizing]
	e.Baseline = sum(
		c.hourly("control_plane", "Managed Kubernetes control plane", cp.ControlPlane, hours, false),
		c.hourly("redis", "HA Redis", cp.Redis, hours, true),
		c.hourly("nat_gateway", "NAT gateway", cp.NATGateway, hours, true),
		c.hourly("load_balancer", "Load balancer / ingress", cp.LoadBalancer, hours, true),
		c.nodes("observability_nodes", "Observability node", system, a.ObservabilityNodes, hours),
		c.line("observability_disk", "Observability storage", cp.Disk, a.ObservabilityDiskGB.Value, "GB-month",
			fmt.Sprintf("%s GB", num(a.ObservabilityDiskGB.Value)), true, a.ObservabilityDiskGB),
		c.nodes("system_nodes", "HA-floor system nodes", system, a.SystemNodes, hours),
	)

	sessionHours := r.SessionsPerMonth * r.SessionHours
	e.SessionHoursPerMonth = sessionHours
	e.AverageConcurrency = sessionHours / hours.Value
	sessions := Figure{Value: r.SessionsPerMonth, Unit: "sessions/month", Source: "given with the question", Path: "inputs.sessions"}
	length := Figure{Value: r.SessionHours, Unit: "hours/session", Source: "given with the question", Path: "inputs.session_hours"}
	if in.Sessions == nil {
		sessions = sz.SessionsPerMonth
	}
	if in.SessionHours == nil {
		length = a.SessionHours
	}
	sh := fmt.Sprintf("%s sessions × %s h", num(r.SessionsPerMonth), num(r.SessionHours))
	e.Variable = sum(
		c.line("media_nodes", "Media nodes (LiveKit)", cp.Media[r.Sizing], sessionHours/sz.SessionsPerMediaNode.Value, "node-hours",
			fmt.Sprintf("%s / %s sessions per node", sh, num(sz.SessionsPerMediaNode.Value)), true, sessions, length, sz.SessionsPerMediaNode),
		c.line("worker_nodes", "Worker nodes (sim-engine, agents)", cp.Worker[r.Sizing], sessionHours/sz.SessionsPerWorkerNode.Value, "node-hours",
			fmt.Sprintf("%s / %s sessions per node", sh, num(sz.SessionsPerWorkerNode.Value)), true, sessions, length, sz.SessionsPerWorkerNode),
		c.line("egress", "Media egress", cp.Egress, sessionHours*a.EgressGBPerSessionHour.Value, "GB",
			fmt.Sprintf("%s × %s GB per session-hour", sh, num(a.EgressGBPerSessionHour.Value)), true, sessions, length, a.EgressGBPerSessionHour),
		c.line("nat_data", "NAT data processed", cp.NATData, sessionHours*a.NATGBPerSessionHour.Value, "GB",
			fmt.Sprintf("%s × %s GB per session-hour", sh, num(a.NATGBPerSessionHour.Value)), true, sessions, length, a.NATGBPerSessionHour),
	)

	b, v := e.Baseline.Total, e.Variable.Total
	e.TierA = TierCost{Tier: spec.Dedicated, PerOrg: b + v, Baseline: b, Variable: v, Tenants: 1,
		Formula: fmt.Sprintf("baseline %s + variable %s", money(b), money(v))}
	e.TierB = TierCost{Tier: spec.Shared, PerOrg: TierB(b, v, r.Tenants), Baseline: b / float64(r.Tenants), Variable: v, Tenants: r.Tenants,
		Formula: fmt.Sprintf("baseline %s / %d tenants + variable %s", money(b), r.Tenants, money(v))}
	e.Savings = e.TierA.PerOrg - e.TierB.PerOrg
	if e.TierA.PerOrg > 0 {
		e.SavingsFraction = e.Savings / e.TierA.PerOrg
	}
	e.BreakEven = breakEven(b, v, r.Margin)
	e.Curve = curve(b, v, r.Tenants, e.BreakEven.Tenants, in.CurveTo)
	// The figures the numbers used: an input given with the question replaces the table's.
	e.Assumptions = []Figure{hours, length, a.EgressGBPerSessionHour, a.NATGBPerSessionHour, a.SystemNodes,
		a.ObservabilityNodes, a.ObservabilityDiskGB, sessions, sz.SessionsPerMediaNode, sz.SessionsPerWorkerNode}
	if r.Region != cp.BaseRegion {
		e.Assumptions = append(e.Assumptions, mult)
	}
	return e, nil
}

// TierB is the cost per org of a shared cell of n tenants.
func TierB(baseline, variable float64, n int) float64 { return baseline/float64(n) + variable }

// breakEven finds the smallest N with baseline/N + variable <= (1-margin)(baseline + variable).
func breakEven(b, v, margin float64) BreakEven {
	be := BreakEven{Margin: margin}
	a := b + v
	target := (1 - margin) * a
	room := target - v // what the baseline share may be at most
	pct := fmt.Sprintf("%s%%", num(margin*100))
	if b <= 0 || room <= 0 {
		if b <= 0 && room >= 0 {
			n := 1
			be.Tenants = &n
			be.Reason = "the cluster baseline is zero: both tiers cost the same from one tenant"
			return be
		}
		best := 0.0
		if a > 0 {
			best = b / a * 100
		}
		be.Reason = fmt.Sprintf("tier B never gets %s cheaper: however many tenants share a cell it saves at most %.1f%% per org, the baseline's share of tier A",
			pct, best)
		return be
	}
	n := int(math.Ceil(b / room))
	const eps = 1e-9
	fits := func(n int) bool { return TierB(b, v, n) <= target*(1+eps)+eps }
	for n > 1 && fits(n-1) {
		n--
	}
	for !fits(n) {
		n++
	}
	n = max(n, 1)
	be.Tenants = &n
	if n == 1 {
		be.Reason = fmt.Sprintf("tier B is within %s of tier A from the first tenant", pct)
	} else {
		be.Reason = fmt.Sprintf("from %d tenants per shared cell, tier B costs at least %s less per org than tier A", n, pct)
	}
	return be
}

// curve samples both tiers from N = 1 up to far enough to show the chosen N and the
// break-even, in at most MaxCurvePoints points.
func curve(b, v float64, tenants int, breakEven *int, to int) []Point {
	if to == 0 {
		to = max(20, tenants)
		if breakEven != nil {
			to = max(to, 2**breakEven)
		}
		to = min(to, MaxTenants)
	}
	ns := []int{1, to}
	step := max(1, to/(MaxCurvePoints-3))
	for n := 1; n <= to; n += step {
		ns = append(ns, n)
	}
	if tenants <= to {
		ns = append(ns, tenants)
	}
	if breakEven != nil && *breakEven <= to {
		ns = append(ns, *breakEven)
	}
	slices.Sort(ns)
	ns = slices.Compact(ns)
	pts := make([]Point, len(ns))
	for i, n := range ns {
		pts[i] = Point{Tenants: n, TierA: b + v, TierB: TierB(b, v, n)}
	}
	return pts
}

// costing builds line items for one region.
type costing struct {
	region string
	mult   Figure
}

// hourly is a per-cluster service billed by the hour, count of them.
func (c costing) hourly(key, name string, price, hours Figure, regional bool) LineItem {
	qty := price.Count * hours.Value
	what := fmt.Sprintf("%s h", num(hours.Value))
	if price.Count != 1 {
		what = fmt.Sprintf("%s × %s h", num(price.Count), num(hours.Value))
	}
	return c.line(key, name, price, qty, "hours", what, regional, hours)
}

// nodes is a number of always-on nodes of one instance type.
func (c costing) nodes(key, name string, price, count, hours Figure) LineItem {
	nodes := "nodes"
	if count.Value == 1 {
		nodes = "node"
	}
	return c.line(key, name, price, count.Value*hours.Value, "node-hours",
		fmt.Sprintf("%s %s × %s h", num(count.Value), nodes, num(hours.Value)), true, count, hours)
}

func (c costing) line(key, name string, price Figure, qty float64, unit, qtyFormula string, regional bool, uses ...Figure) LineItem {
	m := 1.0
	figs := append([]Figure{price}, uses...)
	if regional && c.mult.Value != 1 {
		m = c.mult.Value
		figs = append(figs, c.mult)
	}
	li := LineItem{
		Key: key, Name: name, Item: price.Item,
		Quantity: qty, Unit: unit,
		ListPrice: price.Value, Multiplier: m, UnitPrice: price.Value * m,
		Monthly: qty * price.Value * m,
		Figures: figs,
	}
	li.Formula = fmt.Sprintf("%s × %s/%s", qtyFormula, priceStr(price.Value), strings.TrimPrefix(price.Unit, "USD/"))
	if m != 1 {
		li.Formula += fmt.Sprintf(" × %s (%s)", num(m), c.region)
	}
	li.Formula += " = " + money(li.Monthly)
	return li
}

func sum(items ...LineItem) Part {
	p := Part{Items: items}
	for _, it := range items {
		p.Total += it.Monthly
	}
	return p
}

// num formats a quantity without trailing zeros.
func num(v float64) string {
	s := fmt.Sprintf("%.4f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// priceStr formats a unit price with cents and up to four decimals: $0.10, $0.0225.
func priceStr(v float64) string {
	s := num(v)
	if i := strings.IndexByte(s, '.'); i < 0 {
		s += ".00"
	} else if len(s)-i == 2 {
		s += "0"
	}
	return "$" + s
}

// money formats dollars with cents and thousands separators.
func money(v float64) string { return Money(v) }

// Money formats an amount as $1,234.56.
func Money(v float64) string {
	neg := v < 0
	cents := int64(math.Round(math.Abs(v) * 100))
	whole, frac := cents/100, cents%100
	s := fmt.Sprintf("%d", whole)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	out := fmt.Sprintf("$%s.%02d", s, frac)
	if neg {
		out = "-" + out
	}
	return out
}
