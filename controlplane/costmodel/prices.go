// Package costmodel answers what an org costs per month as tier A (a cluster of its own)
// and as tier B (a namespace in a shared cell of N tenants), from a price table of public
// list prices in which every figure names its source and date. It is pure computation:
// the CLI, the JSON API and the /cost page all call Table.Estimate.
package costmodel

import (
	_ "embed"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cellplane/cellplane/infra/spec"
)

//go:embed prices.yaml
var builtinPrices []byte

// BuiltinName is the name the built-in price table goes by in estimates and errors.
const BuiltinName = "built-in prices.yaml"

// Figure is one number of the price table and where it came from.
type Figure struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Count  float64 `json:"count,omitempty"` // how many of Item one cluster runs (prices only)
	Item   string  `json:"item,omitempty"`
	Source string  `json:"source"`
	Date   string  `json:"date"`
	Note   string  `json:"note,omitempty"`
	Path   string  `json:"figure"` // its place in the table, e.g. clouds.aws.prices.egress
	Line   int     `json:"line"`   // its line in the price file
}

// SizingAssumptions are the per-sizing figures: an org's usual volume and how many
// concurrent sessions a media or worker node of that sizing carries.
type SizingAssumptions struct {
	SessionsPerMonth      Figure
	SessionsPerMediaNode  Figure
	SessionsPerWorkerNode Figure
}

// Assumptions turn prices into a monthly cost; they are not prices but carry a source too.
type Assumptions struct {
	SessionHours           Figure // average length of one session
	EgressGBPerSessionHour Figure // media sent to participants
	NATGBPerSessionHour    Figure // worker traffic to outside APIs
	SystemNodes            Figure // HA floor of the system pool
	ObservabilityNodes     Figure
	ObservabilityDiskGB    Figure
	Sizings                map[spec.Sizing]SizingAssumptions
}

// CloudPrices are one cloud's list prices in its base region, and the multipliers of its
// other regions.
type CloudPrices struct {
	BaseRegion   string
	ControlPlane Figure // managed Kubernetes fee: the same in every region
	Redis        Figure // HA Redis
	NATGateway   Figure
	NATData      Figure
	LoadBalancer Figure
	Disk         Figure // per GB-month
	Egress       Figure // internet egress per GB
	System       map[spec.Sizing]Figure
	Media        map[spec.Sizing]Figure
	Worker       map[spec.Sizing]Figure
	Regions      map[string]Figure // region -> price multiplier against BaseRegion
}

// Table is a validated price table.
type Table struct {
	Name          string // the file it came from, or BuiltinName
	Currency      string
	HoursPerMonth Figure
	Assumptions   Assumptions
	Clouds        map[spec.Cloud]*CloudPrices
}

// CloudNames returns the clouds the table prices, in spec order.
func (t *Table) CloudNames() []spec.Cloud {
	var out []spec.Cloud
	for _, c := range spec.Clouds {
		if t.Clouds[c] != nil {
			out = append(out, c)
		}
	}
	return out
}

// RegionNames returns the regions of cloud the table prices: the base region first, then
// the others in spec order.
func (t *Table) RegionNames(c spec.Cloud) []string {
	cp := t.Clouds[c]
	if cp == nil {
		return nil
	}
	out := []string{cp.BaseRegion}
	for _, r := range spec.Regions(c) {
		if _, ok := cp.Regions[r]; ok {
			out = append(out, r)
		}
	}
	return out
}

// Default returns the built-in price table.
func Default() *Table {
	t, err := Parse(BuiltinName, builtinPrices)
	if err != nil {
		panic("costmodel: the built-in price table is invalid: " + err.Error())
	}
	return t
}

// Load reads and validates the price table at path; an empty path means the built-in one.
func Load(path string) (*Table, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("price table: %w", err)
	}
	return Parse(filepath.Base(path), data)
}

// Problem is one thing wrong with a price file, at a line.
type Problem struct {
	Line    int    `json:"line"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ValidationError lists everything wrong with a price file, each with its line.
type ValidationError struct {
	File     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid price table %s:", e.File)
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s:%d: %s: %s", e.File, p.Line, p.Path, p.Message)
	}
	return b.String()
}

// Parse decodes and validates a price table. It reports every problem it finds, each
// with its line, rather than stopping at the first.
func Parse(name string, data []byte) (*Table, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ValidationError{File: name, Problems: []Problem{{Line: yamlErrorLine(err), Path: "(file)", Message: err.Error()}}}
	}
	p := &parser{file: name}
	if len(doc.Content) == 0 {
		p.fail(1, "(file)", "the price table is empty")
		return nil, p.err()
	}
	t := p.table(doc.Content[0])
	if err := p.err(); err != nil {
		return nil, err
	}
	t.Name = name
	return t, nil
}

// yamlErrorLine digs the line out of a yaml.v3 syntax error ("yaml: line 12: ...").
func yamlErrorLine(err error) int {
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		rest := msg[i+len("line "):]
		if j := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); j > 0 {
			if n, convErr := strconv.Atoi(rest[:j]); convErr == nil {
				return n
			}
		}
	}
	return 1
}

type parser struct {
	file     string
	problems []Problem
}

func (p *parser) fail(line int, path, format string, args ...any) {
	p.problems = append(p.problems, Problem{Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	sort.SliceStable(p.problems, func(i, j int) bool { return p.problems[i].Line < p.problems[j].Line })
	return &ValidationError{File: p.file, Problems: p.problems}
}

// fields is a decoded YAML mapping: its values by key, and where it was.
type fields struct {
	path     string
	line     int // the line of the key that holds the mapping, where a missing key is reported
	values   map[string]*yaml.Node
	keyLines map[string]int
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapping reads n as a mapping. When allowed is not nil, any other key is a problem (a
// misspelt figure would otherwise be silently ignored and reported as missing).
func (p *parser) mapping(n *yaml.Node, path string, line int, allowed []string) (fields, bool) {
	f := fields{path: path, line: line, values: map[string]*yaml.Node{}, keyLines: map[string]int{}}
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		l := line
		if n != nil {
			l = n.Line
		}
		p.fail(l, path, "must be a mapping")
		return f, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case allowed != nil && !slices.Contains(allowed, k.Value):
			p.fail(k.Line, join(path, k.Value), "unknown key; allowed: %s", strings.Join(allowed, ", "))
		case f.values[k.Value] != nil:
			p.fail(k.Line, join(path, k.Value), "duplicate key")
		default:
			f.values[k.Value] = v
			f.keyLines[k.Value] = k.Line
		}
	}
	return f, true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// child returns the value under key, reporting it missing at the parent's line.
func (p *parser) child(f fields, key string) (*yaml.Node, bool) {
	n := deref(f.values[key])
	if n == nil || n.Tag == "!!null" {
		line := f.line
		if n != nil {
			line = f.keyLines[key]
		}
		p.fail(line, join(f.path, key), "missing")
		return nil, false
	}
	return n, true
}

// rule says what a figure must look like.
type rule struct {
	unit     string // the unit it must be in
	url      bool   // its source must be a web address (a list price), not a note
	positive bool   // zero makes no sense (a divisor, a length of time)
	count    bool   // it may carry a count
}

var figureKeys = []string{"value", "unit", "count", "item", "source", "date", "note"}

func (p *parser) figure(f fields, key string, r rule) Figure {
	path := join(f.path, key)
	n, ok := p.child(f, key)
	if !ok {
		return Figure{Path: path, Line: f.line}
	}
	m, ok := p.mapping(n, path, f.keyLines[key], figureKeys)
	if !ok {
		return Figure{Path: path, Line: n.Line}
	}
	fig := Figure{Path: path, Line: n.Line}
	if v, ok := p.child(m, "value"); ok {
		fig.Value, fig.Line = p.number(v, join(path, "value"), r.positive), v.Line
	}
	if u, ok := p.child(m, "unit"); ok {
		fig.Unit = u.Value
		if r.unit != "" && u.Value != r.unit {
			p.fail(u.Line, join(path, "unit"), "must be %q, not %q", r.unit, u.Value)
		}
	}
	if c := deref(m.values["count"]); c != nil {
		if !r.count {
			p.fail(c.Line, join(path, "count"), "a count is not used for this figure")
		} else {
			fig.Count = p.number(c, join(path, "count"), true)
		}
	} else if r.count {
		fig.Count = 1
	}
	if s, ok := p.child(m, "source"); ok {
		fig.Source = strings.TrimSpace(s.Value)
		switch {
		case fig.Source == "":
			p.fail(s.Line, join(path, "source"), "must say where the figure comes from")
		case r.url && !isWebAddress(fig.Source):
			p.fail(s.Line, join(path, "source"), "must be the http(s) address of the public price page, not %q", fig.Source)
		}
	}
	if d, ok := p.child(m, "date"); ok {
		fig.Date = d.Value
		if _, err := time.Parse(time.DateOnly, d.Value); err != nil {
			p.fail(d.Line, join(path, "date"), "must be a date YYYY-MM-DD, not %q", d.Value)
		}
	}
	if it := deref(m.values["item"]); it != nil {
		fig.Item = it.Value
	}
	if nt := deref(m.values["note"]); nt != nil {
		fig.Note = nt.Value
	}
	return fig
}

func isWebAddress(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func (p *parser) number(n *yaml.Node, path string, positive bool) float64 {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		p.fail(n.Line, path, "must be a number, not %q", n.Value)
		return 0
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || v != v || v > 1e12 || v < -1e12 {
		p.fail(n.Line, path, "must be a finite number, not %q", n.Value)
		return 0
	}
	switch {
	case v < 0:
		p.fail(n.Line, path, "must not be negative (got %s)", n.Value)
	case v == 0 && positive:
		p.fail(n.Line, path, "must be greater than zero")
	}
	return v
}

func (p *parser) table(root *yaml.Node) *Table {
	t := &Table{Clouds: map[spec.Cloud]*CloudPrices{}}
	top, ok := p.mapping(root, "", 1, []string{"currency", "hours_per_month", "assumptions", "clouds"})
	if !ok {
		return t
	}
	if c, ok := p.child(top, "currency"); ok {
		t.Currency = c.Value
		if c.Value != "USD" {
			p.fail(c.Line, "currency", "must be USD (the clouds' list prices are in USD), not %q", c.Value)
		}
	}
	t.HoursPerMonth = p.figure(top, "hours_per_month", rule{unit: "hours", positive: true})
	if n, ok := p.child(top, "assumptions"); ok {
		t.Assumptions = p.assumptions(n, top.keyLines["assumptions"])
	}
	if n, ok := p.child(top, "clouds"); ok {
		cl, ok := p.mapping(n, "clouds", top.keyLines["clouds"], nil)
		if ok && len(cl.values) == 0 {
			p.fail(n.Line, "clouds", "must price at least one cloud")
		}
		for _, k := range sortedKeys(cl.values) {
			c, err := spec.ParseCloud(k)
			if err != nil {
				p.fail(cl.values[k].Line, join("clouds", k), "%v", err)
				continue
			}
			t.Clouds[c] = p.cloud(c, cl.values[k], cl.keyLines[k])
		}
	}
	return t
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sizingNames() []string {
	out := make([]string, len(spec.Sizings))
	for i, s := range spec.Sizings {
		out[i] = string(s)
	}
	return out
}

func (p *parser) assumptions(n *yaml.Node, line int) Assumptions {
	a := Assumptions{Sizings: map[spec.Sizing]SizingAssumptions{}}
	m, ok := p.mapping(n, "assumptions", line, []string{"session_hours", "egress_gb_per_session_hour",
		"nat_gb_per_session_hour", "system_nodes", "observability_nodes", "observability_disk_gb", "sizings"})
	if !ok {
		return a
	}
	a.SessionHours = p.figure(m, "session_hours", rule{unit: "hours/session", positive: true})
	a.EgressGBPerSessionHour = p.figure(m, "egress_gb_per_session_hour", rule{unit: "GB/session-hour"})
	a.NATGBPerSessionHour = p.figure(m, "nat_gb_per_session_hour", rule{unit: "GB/session-hour"})
	a.SystemNodes = p.figure(m, "system_nodes", rule{unit: "nodes", positive: true})
	a.ObservabilityNodes = p.figure(m, "observability_nodes", rule{unit: "nodes"})
	a.ObservabilityDiskGB = p.figure(m, "observability_disk_gb", rule{unit: "GB"})
	sn, ok := p.child(m, "sizings")
	if !ok {
		return a
	}
	sm, ok := p.mapping(sn, "assumptions.sizings", m.keyLines["sizings"], sizingNames())
	if !ok {
		return a
	}
	for _, s := range spec.Sizings {
		n, ok := p.child(sm, string(s))
		if !ok {
			continue
		}
		path := join("assumptions.sizings", string(s))
		f, ok := p.mapping(n, path, sm.keyLines[string(s)], []string{"sessions_per_month", "sessions_per_media_node", "sessions_per_worker_node"})
		if !ok {
			continue
		}
		a.Sizings[s] = SizingAssumptions{
			SessionsPerMonth:      p.figure(f, "sessions_per_month", rule{unit: "sessions/month"}),
			SessionsPerMediaNode:  p.figure(f, "sessions_per_media_node", rule{unit: "sessions/node", positive: true}),
			SessionsPerWorkerNode: p.figure(f, "sessions_per_worker_node", rule{unit: "sessions/node", positive: true}),
		}
	}
	return a
}

const (
	perHour    = "USD/hour"
	perGB      = "USD/GB"
	perGBMonth = "USD/GB-month"
)

func (p *parser) cloud(c spec.Cloud, n *yaml.Node, line int) *CloudPrices {
	path := join("clouds", string(c))
	cp := &CloudPrices{Regions: map[string]Figure{}}
	m, ok := p.mapping(n, path, line, []string{"base_region", "prices", "regions"})
	if !ok {
		return cp
	}
	if b, ok := p.child(m, "base_region"); ok {
		cp.BaseRegion = b.Value
		if err := spec.ValidateRegion(c, b.Value); err != nil {
			p.fail(b.Line, join(path, "base_region"), "%v", err)
		}
	}
	if pn, ok := p.child(m, "prices"); ok {
		pm, ok := p.mapping(pn, join(path, "prices"), m.keyLines["prices"], []string{"control_plane", "redis", "nat_gateway",
			"nat_data", "load_balancer", "disk", "egress", "system", "media", "worker"})
		if ok {
			cp.ControlPlane = p.figure(pm, "control_plane", rule{unit: perHour, url: true, count: true})
			cp.Redis = p.figure(pm, "redis", rule{unit: perHour, url: true, count: true})
			cp.NATGateway = p.figure(pm, "nat_gateway", rule{unit: perHour, url: true, count: true})
			cp.NATData = p.figure(pm, "nat_data", rule{unit: perGB, url: true})
			cp.LoadBalancer = p.figure(pm, "load_balancer", rule{unit: perHour, url: true, count: true})
			cp.Disk = p.figure(pm, "disk", rule{unit: perGBMonth, url: true})
			cp.Egress = p.figure(pm, "egress", rule{unit: perGB, url: true})
			cp.System = p.instances(pm, "system")
			cp.Media = p.instances(pm, "media")
			cp.Worker = p.instances(pm, "worker")
		}
	}
	if rn := deref(m.values["regions"]); rn != nil && rn.Tag != "!!null" {
		rm, ok := p.mapping(rn, join(path, "regions"), m.keyLines["regions"], nil)
		if ok {
			for _, r := range sortedKeys(rm.values) {
				if err := spec.ValidateRegion(c, r); err != nil {
					p.fail(rm.values[r].Line, join(rm.path, r), "%v", err)
					continue
				}
				if r == cp.BaseRegion {
					p.fail(rm.values[r].Line, join(rm.path, r), "is the base region, whose multiplier is 1 by definition")
					continue
				}
				cp.Regions[r] = p.figure(rm, r, rule{unit: "multiplier", url: true, positive: true})
			}
		}
	}
	return cp
}

// instances reads the per-sizing instance prices of one node pool.
func (p *parser) instances(pm fields, pool string) map[spec.Sizing]Figure {
	out := map[spec.Sizing]Figure{}
	n, ok := p.child(pm, pool)
	if !ok {
		return out
	}
	m, ok := p.mapping(n, join(pm.path, pool), pm.keyLines[pool], sizingNames())
	if !ok {
		return out
	}
	for _, s := range spec.Sizings {
		out[s] = p.figure(m, string(s), rule{unit: perHour, url: true})
	}
	return out
}
