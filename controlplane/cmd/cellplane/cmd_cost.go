package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/cellplane/cellplane/controlplane/costmodel"
)

func init() {
	commands["cost"] = command{summary: "monthly cost per org: tier A (dedicated) vs tier B (shared) against tenants per cell", run: runCost}
}

const costUsage = `cost [flags]

Prints the monthly cost per org of tier A (a cluster of its own) and tier B (a namespace in
a shared cell of N tenants), the break-even N, and every price behind the numbers with its
source. Example:

  cellplane cost --cloud aws --region eu-central-1 --sizing medium --tenants 1-20 --sessions 2000`

// costFlagNames maps the model's input fields to the flags that set them.
var costFlagNames = map[string]string{
	"cloud": "--cloud", "region": "--region", "sizing": "--sizing", "tenants": "--tenants",
	"sessions": "--sessions", "session_hours": "--session-hours", "margin": "--margin", "curve_to": "--tenants",
}

func runCost(_ context.Context, e env, args []string) error {
	fs := newFlagSet(e, "cost", costUsage)
	cloud := fs.String("cloud", "aws", "cloud: aws, gcp or azure")
	region := fs.String("region", "", "region of the cloud (default: the price table's base region of the cloud)")
	sizing := fs.String("sizing", "small", "sizing of the org: small, medium or large")
	tenants := fs.String("tenants", strconv.Itoa(costmodel.DefaultTenants), "tenants per shared cell: N, a range A-B, or a list A,B,C")
	var sessions, sessionHours, margin optionalFloat
	fs.Var(&sessions, "sessions", "sessions per org per month (default: the price table's figure for the sizing)")
	fs.Var(&sessionHours, "session-hours", "average session length in hours (default: the price table's figure)")
	fs.Var(&margin, "margin", fmt.Sprintf("how much cheaper tier B must be to break even, as a fraction (default %v)", costmodel.DefaultMargin))
	prices := fs.String("prices", envOr(e, "CELLPLANE_PRICES", ""), "price table file replacing the built-in one [CELLPLANE_PRICES]")
	asJSON := fs.Bool("json", false, "print the estimate as JSON (the shape of GET /v1/cost-model)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("cost takes no arguments, got %q", strings.Join(fs.Args(), " "))
	}
	ns, err := parseTenants(*tenants)
	if err != nil {
		return usageError("--tenants: %v", err)
	}
	table, err := costmodel.Load(*prices)
	if err != nil {
		return err
	}
	in := costmodel.Inputs{Cloud: *cloud, Region: *region, Sizing: *sizing, Tenants: ns[len(ns)-1],
		Sessions: sessions.ptr(), SessionHours: sessionHours.ptr(), Margin: margin.ptr()}
	est, err := table.Estimate(in)
	var ie *costmodel.InputError
	if errors.As(err, &ie) {
		msgs := make([]string, len(ie.Fields))
		for i, f := range ie.Fields {
			msgs[i] = costFlagNames[f.Field] + ": " + f.Message
		}
		return usageError("%s", strings.Join(msgs, "\n  "))
	} else if err != nil {
		return err
	}
	if len(ns) > 1 {
		// Asked for particular Ns: the curve is exactly those.
		est.Curve = est.Curve[:0]
		for _, n := range ns {
			est.Curve = append(est.Curve, costmodel.Point{Tenants: n, TierA: est.TierA.PerOrg,
				TierB: costmodel.TierB(est.Baseline.Total, est.Variable.Total, n)})
		}
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(est)
	}
	printEstimate(e.stdout, est, len(ns) > 1)
	return nil
}

// optionalFloat is a float flag that knows whether it was given.
type optionalFloat struct {
	v   float64
	set bool
}

func (o *optionalFloat) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatFloat(o.v, 'g', -1, 64)
}

func (o *optionalFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	o.v, o.set = v, true
	return nil
}

func (o *optionalFloat) ptr() *float64 {
	if !o.set {
		return nil
	}
	return &o.v
}

var _ flag.Value = (*optionalFloat)(nil)

// parseTenants reads N, A-B or A,B,C into an ascending list of Ns.
func parseTenants(s string) ([]int, error) {
	atoi := func(x string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil || n < 1 || n > costmodel.MaxTenants {
			return 0, fmt.Errorf("%q is not a number of tenants between 1 and %d", x, costmodel.MaxTenants)
		}
		return n, nil
	}
	if a, b, ok := strings.Cut(s, "-"); ok {
		lo, err := atoi(a)
		if err != nil {
			return nil, err
		}
		hi, err := atoi(b)
		if err != nil {
			return nil, err
		}
		if hi < lo || hi-lo > 1000 {
			return nil, fmt.Errorf("range %q must go up, by at most 1000", s)
		}
		var out []int
		for n := lo; n <= hi; n++ {
			out = append(out, n)
		}
		return out, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := atoi(part)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("list %q must go up", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func printEstimate(w io.Writer, est *costmodel.Estimate, rangeAsked bool) {
	in := est.Inputs
	m := costmodel.Money
	fmt.Fprintf(w, "Cost per org per month, %s %s, sizing %s (%s)\n", in.Cloud, in.Region, in.Sizing, est.Currency)
	fmt.Fprintf(w, "usage: %s sessions × %s h = %s session-hours a month (%.2f concurrent on average)\n",
		trimFloat(in.SessionsPerMonth), trimFloat(in.SessionHours), trimFloat(est.SessionHoursPerMonth), est.AverageConcurrency)
	fmt.Fprintf(w, "price table: %s\n", est.PriceTable)

	// Sources are numbered once and referred to from each line.
	var sources []string
	ref := func(f costmodel.Figure) string {
		s := f.Source + " (" + f.Date + ")"
		for i, x := range sources {
			if x == s {
				return fmt.Sprintf("[%d]", i+1)
			}
		}
		sources = append(sources, s)
		return fmt.Sprintf("[%d]", len(sources))
	}
	part := func(title string, p costmodel.Part) {
		fmt.Fprintf(w, "\n%s\n", title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, li := range p.Items {
			var refs []string
			for _, f := range li.Figures {
				if r := ref(f); !slices.Contains(refs, r) {
					refs = append(refs, r)
				}
			}
			formula, _, _ := strings.Cut(li.Formula, " = ")
			fmt.Fprintf(tw, "  %s\t%10s\t%s\t%s %s\n", li.Name, m(li.Monthly), li.Item, formula, strings.Join(refs, ""))
		}
		fmt.Fprintf(tw, "  total\t%10s\t\t\n", m(p.Total))
		tw.Flush()
	}
	part("Cluster baseline (fixed, per cluster):", est.Baseline)
	part("Variable (per org, the same in both tiers):", est.Variable)

	fmt.Fprintf(w, "\nPer org per month:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "tenants N\ttier A (dedicated)\ttier B (shared)\tB saves\t\n")
	rows := []costmodel.Point{{Tenants: in.Tenants, TierA: est.TierA.PerOrg, TierB: est.TierB.PerOrg}}
	if rangeAsked {
		rows = est.Curve
	}
	for _, p := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.1f%%\t\n", p.Tenants, m(p.TierA), m(p.TierB), (p.TierA-p.TierB)/p.TierA*100)
	}
	tw.Flush()
	fmt.Fprintf(w, "  tier A = %s\n  tier B = %s\n", est.TierA.Formula, est.TierB.Formula)

	be := est.BreakEven
	if be.Tenants != nil {
		fmt.Fprintf(w, "\nBreak-even at %.0f%% margin: N = %d (%s)\n", be.Margin*100, *be.Tenants, be.Reason)
	} else {
		fmt.Fprintf(w, "\nBreak-even at %.0f%% margin: none (%s)\n", be.Margin*100, be.Reason)
	}

	fmt.Fprintf(w, "\nAssumptions:\n")
	for _, f := range est.Assumptions {
		fmt.Fprintf(w, "  %s = %s %s %s\n", f.Path, trimFloat(f.Value), f.Unit, ref(f))
	}
	fmt.Fprintf(w, "\nSources:\n")
	for i, s := range sources {
		fmt.Fprintf(w, "  [%d] %s\n", i+1, s)
	}
}

func trimFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
