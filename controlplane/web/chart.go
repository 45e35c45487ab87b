package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/controlplane/costmodel"
)

// The chart of cost per org against N, drawn as inline SVG on the server. static/cost.js
// redraws it from the JSON of /v1/cost-model with the same geometry (keep the two in
// step: the constants and the tick rules below are mirrored there).
const (
	chartW, chartH                 = 640, 300
	padLeft, padRight, padTop, pad = 72, 20, 16, 44 // pad: bottom
)

type tick struct {
	Pos   float64
	Label string
}

type point struct{ X, Y float64 }

type chart struct {
	Width, Height          int
	Left, Right, Top, Base float64 // the plot area
	XTicks, YTicks         []tick
	PathA, PathB           string
	MaxN                   int
	Selected               point // tier B at the chosen N
	SelectedN              int
	BreakEven              *point // on the tier B line
	BreakEvenN             int
	Desc                   string
}

func newChart(e *costmodel.Estimate) *chart {
	c := &chart{Width: chartW, Height: chartH, Left: padLeft, Right: chartW - padRight, Top: padTop, Base: chartH - pad}
	pts := e.Curve
	c.MaxN = max(pts[len(pts)-1].Tenants, 2)
	top := 0.0
	for _, p := range pts {
		top = math.Max(top, math.Max(p.TierA, p.TierB))
	}
	if top <= 0 {
		top = 1
	}
	step := niceStep(top*1.08, 5)
	yMax := math.Ceil(top*1.08/step) * step
	x := func(n int) float64 { return c.Left + float64(n-1)/float64(c.MaxN-1)*(c.Right-c.Left) }
	y := func(v float64) float64 { return c.Base - v/yMax*(c.Base-c.Top) }

	for v := 0.0; v <= yMax+step/2; v += step {
		c.YTicks = append(c.YTicks, tick{Pos: y(v), Label: dollars(v)})
	}
	xs := int(math.Max(1, niceStep(float64(c.MaxN-1), 6)))
	c.XTicks = append(c.XTicks, tick{Pos: x(1), Label: "1"})
	for n := xs; n <= c.MaxN; n += xs {
		if n > 1 {
			c.XTicks = append(c.XTicks, tick{Pos: x(n), Label: strconv.Itoa(n)})
		}
	}
	var a, b strings.Builder
	for i, p := range pts {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&a, "%s%s %s ", cmd, f1(x(p.Tenants)), f1(y(p.TierA)))
		fmt.Fprintf(&b, "%s%s %s ", cmd, f1(x(p.Tenants)), f1(y(p.TierB)))
	}
	c.PathA, c.PathB = strings.TrimSpace(a.String()), strings.TrimSpace(b.String())
	n := e.Inputs.Tenants
	c.SelectedN = n
	c.Selected = point{X: x(min(n, c.MaxN)), Y: y(e.TierB.PerOrg)}
	if be := e.BreakEven.Tenants; be != nil && *be <= c.MaxN {
		c.BreakEvenN = *be
		c.BreakEven = &point{X: x(*be), Y: y(costmodel.TierB(e.Baseline.Total, e.Variable.Total, *be))}
	}
	c.Desc = chartDesc(e)
	return c
}

// chartDesc says in words what the chart shows, for screen readers.
func chartDesc(e *costmodel.Estimate) string {
	last := e.Curve[len(e.Curve)-1]
	s := fmt.Sprintf("Tier A stays at %s per org for any N. Tier B falls from %s at N = 1 to %s at N = %d.",
		costmodel.Money(e.TierA.PerOrg), costmodel.Money(e.Curve[0].TierB), costmodel.Money(last.TierB), last.Tenants)
	if be := e.BreakEven.Tenants; be != nil {
		s += fmt.Sprintf(" Tier B is %s cheaper from N = %d.", num(e.BreakEven.Margin*100)+"%", *be)
	}
	return s
}

// niceStep returns a step of 1, 2 or 5 times a power of ten that cuts span into about n
// parts.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch norm := raw / mag; {
	case norm <= 1:
		return mag
	case norm <= 2:
		return 2 * mag
	case norm <= 5:
		return 5 * mag
	}
	return 10 * mag
}

// dollars is an axis label: whole dollars with thousands separators.
func dollars(v float64) string {
	return strings.TrimSuffix(costmodel.Money(v), ".00")
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func formatFloat(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
