package controlplane

import (
	"context"
	"math"
	"sort"
	"time"
)

// MaxUsageDays bounds a usage period (a year and a day: an annual invoice fits).
const MaxUsageDays = 366

// dateLayout is how usage periods and days are written: UTC calendar days.
const dateLayout = "2006-01-02"

// UsagePeriod is a run of whole UTC days: From inclusive, To exclusive.
type UsagePeriod struct {
	From time.Time
	To   time.Time
}

// ParseUsagePeriod reads from and to (YYYY-MM-DD, UTC; to is exclusive). Left out, from is
// the first day of the current month and to is tomorrow (the period so far, today included).
func ParseUsagePeriod(from, to string, now time.Time) (UsagePeriod, error) {
	var v Validation
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	p := UsagePeriod{From: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC), To: today.AddDate(0, 0, 1)}
	parse := func(field, s string, dst *time.Time) {
		if s == "" {
			return
		}
		t, err := time.Parse(dateLayout, s)
		if err != nil {
			v.Add(field, "%s must be a date YYYY-MM-DD (UTC), got %q", field, s)
			return
		}
		*dst = t
	}
	parse("from", from, &p.From)
	parse("to", to, &p.To)
	if err := v.Err(); err != nil {
		return p, err
	}
	if !p.To.After(p.From) {
		v.Add("to", "to (exclusive) must be after from: %s is not after %s", p.To.Format(dateLayout), p.From.Format(dateLayout))
	} else if days := int(p.To.Sub(p.From).Hours() / 24); days > MaxUsageDays {
		v.Add("to", "a usage period is at most %d days, got %d", MaxUsageDays, days)
	}
	return p, v.Err()
}

// UsageDay is one UTC day of an org's usage.
type UsageDay struct {
	Date               string  `json:"date"`
	Sessions           int     `json:"sessions"` // sessions created that day
	ParticipantSeconds int64   `json:"participant_seconds"`
	ParticipantMinutes float64 `json:"participant_minutes"`
	PeakConcurrent     int     `json:"peak_concurrent_participants"`
}

// Usage is what an invoice is made from: an org's sessions, participant-minutes and peak
// concurrent participants over a period, in total and by day.
type Usage struct {
	Org                string     `json:"org"`
	From               string     `json:"from"`
	To                 string     `json:"to"` // exclusive
	Sessions           int        `json:"sessions"`
	ParticipantSeconds int64      `json:"participant_seconds"`
	ParticipantMinutes float64    `json:"participant_minutes"`
	PeakConcurrent     int        `json:"peak_concurrent_participants"`
	Days               []UsageDay `json:"days"`
}

// LiveCount is the live sessions and participants of one org on one cluster.
type LiveCount struct {
	Org          string
	Region       string
	Cluster      string
	Sessions     int
	Participants int
}

// UsageService reads metered usage.
type UsageService interface {
	// OrgUsage returns one org's usage (ENOTFOUND outside the caller's scope).
	OrgUsage(ctx context.Context, orgSlug string, p UsagePeriod) (*Usage, error)
	// AllUsage returns every org's usage, by slug (admin).
	AllUsage(ctx context.Context, p UsagePeriod) ([]*Usage, error)
	// LiveCounts returns the live sessions and participants per org and cluster.
	LiveCounts(ctx context.Context) ([]LiveCount, error)
}

// Presence is one participant's stay in a room: Left is nil while they are still there.
type Presence struct {
	Joined time.Time
	Left   *time.Time
}

// SummarizeUsage computes an org's usage over p from the creation times of its sessions
// and its participants' presences. Open presences count until now. A stay is split at
// midnight UTC; the peak of a day is the most participants present at one instant of it.
func SummarizeUsage(org string, p UsagePeriod, now time.Time, sessionsCreated []time.Time, presences []Presence) *Usage {
	u := &Usage{Org: org, From: p.From.Format(dateLayout), To: p.To.Format(dateLayout)}
	ndays := int(p.To.Sub(p.From).Hours() / 24)
	days := make([]UsageDay, ndays)
	seconds := make([]time.Duration, ndays)
	for i := range days {
		days[i].Date = p.From.AddDate(0, 0, i).Format(dateLayout)
	}
	dayOf := func(t time.Time) int { return int(t.Sub(p.From) / (24 * time.Hour)) }
	for _, c := range sessionsCreated {
		if !c.Before(p.From) && c.Before(p.To) {
			days[dayOf(c)].Sessions++
		}
	}

	type step struct {
		at    time.Time
		delta int
	}
	var steps []step
	for _, pr := range presences {
		start, end := pr.Joined, now
		if pr.Left != nil {
			end = *pr.Left
		}
		if start.Before(p.From) {
			start = p.From
		}
		if end.After(p.To) {
			end = p.To
		}
		if !end.After(start) {
			continue
		}
		steps = append(steps, step{start, +1}, step{end, -1})
		for d := dayOf(start); d < ndays; d++ {
			ds := p.From.AddDate(0, 0, d)
			de := ds.AddDate(0, 0, 1)
			s, e := maxTime(start, ds), minTime(end, de)
			if !e.After(s) {
				break
			}
			seconds[d] += e.Sub(s)
		}
	}
	// Sweep the steps in time order, leaves before joins at one instant (someone leaving
	// as another joins is never two at once).
	sort.Slice(steps, func(i, j int) bool {
		if !steps[i].at.Equal(steps[j].at) {
			return steps[i].at.Before(steps[j].at)
		}
		return steps[i].delta < steps[j].delta
	})
	level, k := 0, 0
	for d := range days {
		ds := p.From.AddDate(0, 0, d)
		de := ds.AddDate(0, 0, 1)
		for k < len(steps) && !steps[k].at.After(ds) {
			level += steps[k].delta
			k++
		}
		peak := level
		for k < len(steps) && steps[k].at.Before(de) {
			level += steps[k].delta
			k++
			peak = max(peak, level)
		}
		days[d].PeakConcurrent = peak
	}

	for d := range days {
		days[d].ParticipantSeconds = int64(seconds[d] / time.Second)
		days[d].ParticipantMinutes = minutes(days[d].ParticipantSeconds)
		u.Sessions += days[d].Sessions
		u.ParticipantSeconds += days[d].ParticipantSeconds
		u.PeakConcurrent = max(u.PeakConcurrent, days[d].PeakConcurrent)
	}
	u.ParticipantMinutes = minutes(u.ParticipantSeconds)
	u.Days = days
	return u
}

// minutes converts seconds to minutes, to the hundredth.
func minutes(s int64) float64 { return math.Round(float64(s)/60*100) / 100 }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
