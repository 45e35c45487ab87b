package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/costmodel"
	"github.com/cellplane/cellplane/infra/spec"
)

// costParams are the query parameters of GET /v1/cost-model.
var costParams = []string{"cloud", "region", "sizing", "tenants", "sessions", "session_hours", "margin", "curve_to"}

// CostModel serves GET /v1/cost-model: the estimate as JSON, or a problem naming every
// bad parameter. cloud and sizing are required; the rest default as in the price table.
func (p *Pages) CostModel(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var fe []controlplane.FieldError
	for k, vs := range q {
		switch {
		case !slices.Contains(costParams, k):
			fe = append(fe, controlplane.FieldError{Field: k, Message: "unknown parameter; allowed: " + strings.Join(costParams, ", ")})
		case len(vs) > 1:
			fe = append(fe, controlplane.FieldError{Field: k, Message: "give " + k + " once"})
		}
	}
	in, bad := costInputs(q, "margin", 1)
	fe = append(fe, bad...)
	if len(fe) > 0 {
		fe = append(fe, p.modelErrors(in, fe)...)
	} else {
		est, err := p.d.Prices.Estimate(in)
		if err == nil {
			w.Header().Set("Cache-Control", "no-cache")
			writeJSON(w, http.StatusOK, est)
			return
		}
		var ie *costmodel.InputError
		if !errors.As(err, &ie) {
			p.d.Log.ErrorContext(r.Context(), "cost model", "err", err)
			writeProblem(w, r, http.StatusInternalServerError, controlplane.EINTERNAL, "internal error", nil)
			return
		}
		for _, f := range ie.Fields {
			fe = append(fe, controlplane.FieldError{Field: f.Field, Message: f.Message})
		}
	}
	slices.SortStableFunc(fe, func(a, b controlplane.FieldError) int { return strings.Compare(a.Field, b.Field) })
	writeProblem(w, r, http.StatusUnprocessableEntity, controlplane.EINVALID, "the query has invalid parameters", fe)
}

// modelErrors are the model's complaints about the fields that did parse, so that one
// answer names every bad field.
func (p *Pages) modelErrors(in costmodel.Inputs, already []controlplane.FieldError) []controlplane.FieldError {
	_, err := p.d.Prices.Resolve(in)
	var ie *costmodel.InputError
	if !errors.As(err, &ie) {
		return nil
	}
	var out []controlplane.FieldError
	for _, f := range ie.Fields {
		if !slices.ContainsFunc(already, func(a controlplane.FieldError) bool { return a.Field == f.Field }) {
			out = append(out, controlplane.FieldError{Field: f.Field, Message: f.Message})
		}
	}
	return out
}

// costInputs reads the model's inputs from a query. marginKey and marginScale let the
// page take the margin in percent while the API takes a fraction.
func costInputs(q url.Values, marginKey string, marginScale float64) (costmodel.Inputs, []controlplane.FieldError) {
	var fe []controlplane.FieldError
	in := costmodel.Inputs{Cloud: q.Get("cloud"), Region: q.Get("region"), Sizing: q.Get("sizing"), Tenants: costmodel.DefaultTenants}
	number := func(key string) *float64 {
		s := strings.TrimSpace(q.Get(key))
		if s == "" {
			return nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			fe = append(fe, controlplane.FieldError{Field: key, Message: key + " must be a number, not " + strconv.Quote(s)})
			return nil
		}
		return &v
	}
	integer := func(key string) (int, bool) {
		s := strings.TrimSpace(q.Get(key))
		if s == "" {
			return 0, false
		}
		v, err := strconv.Atoi(s)
		if err != nil {
			fe = append(fe, controlplane.FieldError{Field: key, Message: key + " must be a whole number, not " + strconv.Quote(s)})
			return 0, false
		}
		return v, true
	}
	if n, ok := integer("tenants"); ok {
		in.Tenants = n
	}
	if n, ok := integer("curve_to"); ok {
		in.CurveTo = n
	}
	in.Sessions = number("sessions")
	in.SessionHours = number("session_hours")
	if m := number(marginKey); m != nil {
		v := *m / marginScale
		in.Margin = &v
	}
	return in, fe
}

type option struct {
	Value, Label string
	Selected     bool
}

type costView struct {
	Title       string
	Nav         string
	Form        map[string]string // the inputs as typed
	Errors      map[string]string // by input name
	Est         *costmodel.Estimate
	Chart       *chart
	Clouds      []option
	Regions     []option
	Sizings     []option
	RegionsJSON string // cloud -> regions, for the script that refills the region list
}

// CostPage serves GET /cost: tier A against tier B for the inputs in the query, with the
// chart and every line item and source. Without a query it shows the first priced cloud.
func (p *Pages) CostPage(w http.ResponseWriter, r *http.Request) {
	t := p.d.Prices
	q := r.URL.Query()
	clouds := t.CloudNames()
	form := map[string]string{}
	for _, k := range []string{"cloud", "region", "sizing", "tenants", "sessions", "margin_pct"} {
		form[k] = strings.TrimSpace(q.Get(k))
	}
	if form["cloud"] == "" && len(clouds) > 0 {
		form["cloud"] = string(clouds[0])
	}
	if form["sizing"] == "" {
		form["sizing"] = string(spec.Small)
	}
	if form["tenants"] == "" {
		form["tenants"] = strconv.Itoa(costmodel.DefaultTenants)
	}
	if form["margin_pct"] == "" {
		form["margin_pct"] = num(costmodel.DefaultMargin * 100)
	}
	// The page forgives a region left over from another cloud (the form was sent after
	// the cloud changed without the script): it takes the new cloud's base region.
	if c := spec.Cloud(form["cloud"]); t.Clouds[c] != nil && !slices.Contains(t.RegionNames(c), form["region"]) {
		form["region"] = t.Clouds[c].BaseRegion
	}
	vq := url.Values{}
	for k, v := range form {
		if v != "" {
			vq.Set(k, v)
		}
	}
	in, fe := costInputs(vq, "margin_pct", 100)
	view := costView{Title: "Cost model", Nav: "cost", Form: form, Errors: map[string]string{}}
	status := http.StatusOK
	if len(fe) > 0 {
		fe = append(fe, p.modelErrors(in, fe)...)
	} else {
		est, err := t.Estimate(in)
		var ie *costmodel.InputError
		switch {
		case errors.As(err, &ie):
			for _, f := range ie.Fields {
				fe = append(fe, controlplane.FieldError{Field: f.Field, Message: f.Message})
			}
		case err != nil:
			p.d.Log.ErrorContext(r.Context(), "cost model", "err", err)
			securityHeaders(w)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		default:
			view.Est, view.Chart = est, newChart(est)
		}
	}
	for _, f := range fe {
		name := f.Field
		if name == "margin" {
			name = "margin_pct"
		}
		view.Errors[name] = f.Message
		status = http.StatusUnprocessableEntity
	}

	regions := map[string][]string{}
	for _, c := range clouds {
		view.Clouds = append(view.Clouds, option{Value: string(c), Label: cloudLabel(c), Selected: string(c) == form["cloud"]})
		regions[string(c)] = t.RegionNames(c)
	}
	for _, reg := range regions[form["cloud"]] {
		view.Regions = append(view.Regions, option{Value: reg, Label: reg, Selected: reg == form["region"]})
	}
	for _, s := range spec.Sizings {
		view.Sizings = append(view.Sizings, option{Value: string(s), Label: string(s), Selected: string(s) == form["sizing"]})
	}
	b, _ := json.Marshal(regions)
	view.RegionsJSON = string(b)
	p.render(w, r, p.costTmpl, status, view)
}

func cloudLabel(c spec.Cloud) string {
	switch c {
	case spec.AWS:
		return "AWS"
	case spec.GCP:
		return "Google Cloud"
	case spec.Azure:
		return "Azure"
	}
	return string(c)
}

// Problem is an RFC 9457 problem detail, the shape the API answers every error with.
type Problem struct {
	Type     string                    `json:"type"`
	Title    string                    `json:"title"`
	Status   int                       `json:"status"`
	Detail   string                    `json:"detail,omitempty"`
	Instance string                    `json:"instance,omitempty"`
	Errors   []controlplane.FieldError `json:"errors,omitempty"`
}

// writeProblem answers as the API's problem writer does (same type URIs, same fields).
func writeProblem(w http.ResponseWriter, r *http.Request, status int, code, detail string, fields []controlplane.FieldError) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{Type: "urn:cellplane:problem:" + code, Title: http.StatusText(status),
		Status: status, Detail: detail, Instance: r.URL.Path, Errors: fields})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// srcRef is a figure's source as a page shows it: a link when it is an address.
type srcRef struct {
	URL, Label, Date string
}

func sourceOf(f costmodel.Figure) srcRef {
	if u, err := url.Parse(f.Source); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		return srcRef{URL: f.Source, Label: strings.TrimSuffix(u.Host+u.Path, "/"), Date: f.Date}
	}
	return srcRef{Label: f.Source, Date: f.Date}
}

type itemRow struct {
	Name, Item, Formula string
	Monthly             float64
	Sources             []srcRef
}

type itemsView struct {
	ID, Caption string
	Rows        []itemRow
	Total       float64
}

// itemsTable shapes a part of the estimate for its table: the arithmetic without its
// result (the next column has it) and each source once. static/cost.js does the same.
func itemsTable(id, caption string, p costmodel.Part) itemsView {
	v := itemsView{ID: id, Caption: caption, Total: p.Total}
	for _, li := range p.Items {
		row := itemRow{Name: li.Name, Item: li.Item, Monthly: li.Monthly}
		row.Formula, _, _ = strings.Cut(li.Formula, " = ")
		for _, f := range li.Figures {
			s := sourceOf(f)
			if !slices.Contains(row.Sources, s) {
				row.Sources = append(row.Sources, s)
			}
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}
