// Package fleet upgrades many orgs through the control plane's API, in waves: one canary
// org first, then waves of N at a time, halting at the first failure. `cellplane fleet
// upgrade` is its command line.
package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/infra/spec"
)

// Client talks to a control plane with the admin key.
type Client struct {
	URL  string // e.g. http://127.0.0.1:8080
	Key  string // the admin key
	HTTP *http.Client
}

// apiError is a problem+json answer.
type apiError struct {
	Status int
	Detail string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Detail) }

func (c *Client) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode >= 400 {
		var p struct {
			Detail string `json:"detail"`
			Errors []struct {
				Field, Message string
			} `json:"errors"`
		}
		_ = json.Unmarshal(data, &p)
		detail := p.Detail
		for _, f := range p.Errors {
			detail += fmt.Sprintf("; %s: %s", f.Field, f.Message)
		}
		if detail == "" {
			detail = strings.TrimSpace(string(data))
		}
		return res.StatusCode, &apiError{Status: res.StatusCode, Detail: detail}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return res.StatusCode, nil
}

// Orgs lists every org (all pages).
func (c *Client) Orgs(ctx context.Context) ([]*controlplane.Org, error) {
	var all []*controlplane.Org
	cursor := ""
	for {
		path := "/v1/orgs?limit=500"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Orgs       []*controlplane.Org `json:"orgs"`
			NextCursor string              `json:"next_cursor"`
		}
		if _, err := c.do(ctx, "GET", path, nil, &page); err != nil {
			return nil, fmt.Errorf("listing orgs: %w", err)
		}
		all = append(all, page.Orgs...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// SetVersion asks for the org's version to change; the operation is nil when the org is
// already at it.
func (c *Client) SetVersion(ctx context.Context, slug, version string) (*controlplane.Operation, error) {
	var res struct {
		Operation *controlplane.Operation `json:"operation"`
	}
	if _, err := c.do(ctx, "PATCH", "/v1/orgs/"+url.PathEscape(slug), map[string]string{"version": version}, &res); err != nil {
		return nil, err
	}
	return res.Operation, nil
}

// Operation reads an operation.
func (c *Client) Operation(ctx context.Context, id string) (*controlplane.Operation, error) {
	var op controlplane.Operation
	if _, err := c.do(ctx, "GET", "/v1/operations/"+url.PathEscape(id), nil, &op); err != nil {
		return nil, err
	}
	return &op, nil
}

// UpgradeOptions say what to upgrade and how.
type UpgradeOptions struct {
	Version string
	// Wave is how many orgs are upgraded at once after the canary (default 5).
	Wave int
	// Canary names the first org (default: the first selected, by slug).
	Canary string
	// Select, when set, keeps only the orgs it returns true for (e.g. a cloud or tier).
	Select func(*controlplane.Org) bool
	// Poll is how often operations are checked (default 2s).
	Poll time.Duration
	// DryRun prints the plan and changes nothing.
	DryRun bool
	// Progress receives one line per event.
	Progress io.Writer
}

// Report is what an upgrade did.
type Report struct {
	Upgraded   []string          // now at the version
	Failed     map[string]string // slug -> why
	NotStarted []string          // left alone after a failure
	Skipped    map[string]string // not eligible (already at the version, not ready)
	Waves      [][]string
}

// ErrHalted is returned (wrapped) when a failure stopped the rollout.
var ErrHalted = errors.New("upgrade halted")

// Plan picks the orgs to upgrade and splits them into waves: the canary alone, then
// groups of o.Wave. Orgs already at the version, or not ready, are skipped.
func Plan(orgs []*controlplane.Org, o UpgradeOptions) (waves [][]string, skipped map[string]string, err error) {
	if err := spec.ValidateVersion(o.Version); err != nil {
		return nil, nil, err
	}
	if o.Wave <= 0 {
		o.Wave = 5
	}
	skipped = map[string]string{}
	var todo []string
	for _, org := range orgs {
		switch {
		case o.Select != nil && !o.Select(org):
			continue
		case org.Version == o.Version:
			skipped[org.Slug] = "already at " + o.Version
		case org.Status != controlplane.OrgReady:
			skipped[org.Slug] = "status " + org.Status
		default:
			todo = append(todo, org.Slug)
		}
	}
	sort.Strings(todo)
	if len(todo) == 0 {
		return nil, skipped, nil
	}
	canary := todo[0]
	if o.Canary != "" {
		i := sort.SearchStrings(todo, o.Canary)
		if i == len(todo) || todo[i] != o.Canary {
			why := skipped[o.Canary]
			if why == "" {
				why = "not among the selected orgs"
			}
			return nil, skipped, fmt.Errorf("canary %q cannot be upgraded: %s", o.Canary, why)
		}
		canary = o.Canary
	}
	waves = [][]string{{canary}}
	var rest []string
	for _, s := range todo {
		if s != canary {
			rest = append(rest, s)
		}
	}
	for len(rest) > 0 {
		n := min(o.Wave, len(rest))
		waves = append(waves, rest[:n])
		rest = rest[n:]
	}
	return waves, skipped, nil
}

// Upgrade rolls o.Version out: the canary, then each wave, each org's upgrade an
// operation on its own stack (only its release rolls). A wave starts only when every org
// of the previous one has succeeded; at the first failure no further wave starts (the
// upgrades already running finish) and the error wraps ErrHalted.
func Upgrade(ctx context.Context, c *Client, o UpgradeOptions) (*Report, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	say := func(format string, a ...any) {
		fmt.Fprintf(o.Progress, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	orgs, err := c.Orgs(ctx)
	if err != nil {
		return nil, err
	}
	waves, skipped, err := Plan(orgs, o)
	if err != nil {
		return nil, err
	}
	rep := &Report{Failed: map[string]string{}, Skipped: skipped, Waves: waves}
	total := 0
	for _, w := range waves {
		total += len(w)
	}
	say("upgrade to %s: %d orgs in %d waves (canary %s), %d skipped", o.Version, total, len(waves), first(waves), len(skipped))
	for i, w := range waves {
		say("  wave %d: %s", i, strings.Join(w, ", "))
	}
	if o.DryRun || total == 0 {
		return rep, nil
	}
	done := 0
	for i, wave := range waves {
		name := fmt.Sprintf("wave %d/%d", i, len(waves)-1)
		if i == 0 {
			name = "canary"
		}
		say("%s: upgrading %s", name, strings.Join(wave, ", "))
		results := runWave(ctx, c, o, wave, say)
		for _, slug := range wave {
			if why, failed := results[slug]; failed {
				rep.Failed[slug] = why
			} else {
				rep.Upgraded = append(rep.Upgraded, slug)
				done++
			}
		}
		say("%s done: %d/%d orgs at %s", name, done, total, o.Version)
		if len(rep.Failed) > 0 || ctx.Err() != nil {
			for _, rest := range waves[i+1:] {
				rep.NotStarted = append(rep.NotStarted, rest...)
			}
			slugs := make([]string, 0, len(rep.Failed))
			for s := range rep.Failed {
				slugs = append(slugs, s)
			}
			sort.Strings(slugs)
			if ctx.Err() != nil && len(slugs) == 0 {
				return rep, ctx.Err()
			}
			say("halted: %s failed; %d orgs not started", strings.Join(slugs, ", "), len(rep.NotStarted))
			return rep, fmt.Errorf("%w at %s: %s failed (%s)", ErrHalted, name, slugs[0], rep.Failed[slugs[0]])
		}
	}
	say("upgrade to %s complete: %d orgs", o.Version, done)
	return rep, nil
}

// runWave starts every org's upgrade of the wave and waits for all of them; it returns
// why each failed one failed.
func runWave(ctx context.Context, c *Client, o UpgradeOptions, wave []string, say func(string, ...any)) map[string]string {
	failed := map[string]string{}
	ops := map[string]*controlplane.Operation{}
	for _, slug := range wave {
		op, err := c.SetVersion(ctx, slug, o.Version)
		switch {
		case err != nil:
			failed[slug] = err.Error()
			say("  %s: not started: %v", slug, err)
		case op == nil:
			say("  %s: already at %s", slug, o.Version)
		default:
			ops[slug] = op
			say("  %s: %s queued (operation %s)", slug, op.Kind, op.ID)
		}
	}
	started := time.Now()
	for len(ops) > 0 {
		select {
		case <-ctx.Done():
			for slug := range ops {
				failed[slug] = "interrupted: " + ctx.Err().Error()
			}
			return failed
		case <-time.After(o.Poll):
		}
		for slug, op := range ops {
			cur, err := c.Operation(ctx, op.ID)
			if err != nil {
				if ctx.Err() == nil {
					say("  %s: reading operation %s: %v", slug, op.ID, err)
				}
				continue
			}
			if cur.State != op.State && !controlplane.OpFinal(cur.State) {
				say("  %s: %s", slug, cur.State)
			}
			ops[slug] = cur
			if !controlplane.OpFinal(cur.State) {
				continue
			}
			delete(ops, slug)
			took := time.Since(started).Round(time.Second)
			if cur.State == controlplane.OpSucceeded {
				say("  %s: upgraded to %s in %s", slug, o.Version, took)
			} else {
				why := cur.State
				if cur.Error != "" {
					why += ": " + firstLine(cur.Error)
				}
				failed[slug] = why
				say("  %s: %s after %s (log: %s/v1/operations/%s/log)", slug, why, took, strings.TrimRight(c.URL, "/"), cur.ID)
			}
		}
	}
	return failed
}

func first(waves [][]string) string {
	if len(waves) == 0 || len(waves[0]) == 0 {
		return "none"
	}
	return waves[0][0]
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
