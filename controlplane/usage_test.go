package controlplane_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

func TestSummarizeUsageSplitsDaysAndFindsPeaks(t *testing.T) {
	p := controlplane.UsagePeriod{From: at("2026-11-01T00:00:00Z"), To: at("2026-11-04T00:00:00Z")}
	now := at("2026-11-03T12:00:00Z")
	sessions := []time.Time{at("2026-10-31T23:00:00Z"), at("2026-11-01T10:00:00Z"), at("2026-11-02T09:00:00Z"), at("2026-11-04T00:00:00Z")}
	presences := []controlplane.Presence{
		// Day 1: A 10:00-10:30, B 10:10-10:20 (peak 2), C leaves at 10:30 as D joins (not 3).
		{Joined: at("2026-11-01T10:00:00Z"), Left: ptr(at("2026-11-01T10:30:00Z"))},
		{Joined: at("2026-11-01T10:10:00Z"), Left: ptr(at("2026-11-01T10:20:00Z"))},
		{Joined: at("2026-11-01T10:30:00Z"), Left: ptr(at("2026-11-01T10:40:00Z"))},
		// Across midnight into day 2: 23:50 - 00:20 (10 min on day 1, 20 on day 2).
		{Joined: at("2026-11-01T23:50:00Z"), Left: ptr(at("2026-11-02T00:20:00Z"))},
		// Before the period: only the part inside counts (from 00:00 to 00:05 on day 1).
		{Joined: at("2026-10-31T23:00:00Z"), Left: ptr(at("2026-11-01T00:05:00Z"))},
		// Still in the room on day 3: counts until now (11:00 - 12:00).
		{Joined: at("2026-11-03T11:00:00Z")},
		// Zero-length: no time, no concurrency.
		{Joined: at("2026-11-03T11:30:00Z"), Left: ptr(at("2026-11-03T11:30:00Z"))},
	}
	u := controlplane.SummarizeUsage("st-marys", p, now, sessions, presences)

	want := []controlplane.UsageDay{
		{Date: "2026-11-01", Sessions: 1, ParticipantSeconds: (30 + 10 + 10 + 10 + 5) * 60, PeakConcurrent: 2},
		{Date: "2026-11-02", Sessions: 1, ParticipantSeconds: 20 * 60, PeakConcurrent: 1},
		{Date: "2026-11-03", Sessions: 0, ParticipantSeconds: 60 * 60, PeakConcurrent: 1},
	}
	if len(u.Days) != len(want) {
		t.Fatalf("days = %+v", u.Days)
	}
	var total int64
	for i, w := range want {
		got := u.Days[i]
		w.ParticipantMinutes = float64(w.ParticipantSeconds) / 60
		if got != w {
			t.Errorf("day %d = %+v, want %+v", i, got, w)
		}
		total += w.ParticipantSeconds
	}
	if u.Sessions != 2 || u.ParticipantSeconds != total || u.ParticipantMinutes != float64(total)/60 || u.PeakConcurrent != 2 {
		t.Errorf("totals = %d sessions, %ds, %.2f min, peak %d", u.Sessions, u.ParticipantSeconds, u.ParticipantMinutes, u.PeakConcurrent)
	}
	if u.From != "2026-11-01" || u.To != "2026-11-04" || u.Org != "st-marys" {
		t.Errorf("header = %s %s %s", u.Org, u.From, u.To)
	}
}

func TestSummarizeUsageCarriesPresenceAcrossDays(t *testing.T) {
	p := controlplane.UsagePeriod{From: at("2026-11-01T00:00:00Z"), To: at("2026-11-04T00:00:00Z")}
	// One participant present for all of day 2 (joined on day 1, left on day 3).
	u := controlplane.SummarizeUsage("o", p, at("2026-12-01T00:00:00Z"), nil, []controlplane.Presence{
		{Joined: at("2026-11-01T22:00:00Z"), Left: ptr(at("2026-11-03T01:00:00Z"))},
	})
	for i, secs := range []int64{2 * 3600, 24 * 3600, 3600} {
		if d := u.Days[i]; d.ParticipantSeconds != secs || d.PeakConcurrent != 1 {
			t.Errorf("day %s = %+v, want %ds and peak 1", d.Date, d, secs)
		}
	}
}

func TestParseUsagePeriod(t *testing.T) {
	now := at("2026-11-25T15:04:05Z")
	p, err := controlplane.ParseUsagePeriod("", "", now)
	if err != nil || !p.From.Equal(at("2026-11-01T00:00:00Z")) || !p.To.Equal(at("2026-11-26T00:00:00Z")) {
		t.Fatalf("default period = %v - %v (%v)", p.From, p.To, err)
	}
	for _, c := range []struct{ from, to, field, msg string }{
		{"2026-13-01", "", "from", "YYYY-MM-DD"},
		{"", "25/11/2026", "to", "YYYY-MM-DD"},
		{"2026-11-10", "2026-11-10", "to", "must be after from"},
		{"2025-01-01", "2026-11-10", "to", "at most 366 days"},
	} {
		_, err := controlplane.ParseUsagePeriod(c.from, c.to, now)
		f := controlplane.ErrorFields(err)
		if controlplane.ErrorCode(err) != controlplane.EINVALID || len(f) != 1 || f[0].Field != c.field || !strings.Contains(f[0].Message, c.msg) {
			t.Errorf("from=%q to=%q: %v, want field %s with %q", c.from, c.to, err, c.field, c.msg)
		}
	}
}

func TestSessionCreateValidation(t *testing.T) {
	n := func(i int) *int { return &i }
	many := make([]controlplane.ParticipantCreate, controlplane.MaxSessionParticipants+1)
	for i := range many {
		many[i] = controlplane.ParticipantCreate{Identity: "p" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + "-" + time.Duration(i).String(), Role: "trainee"}
	}
	ok := controlplane.ParticipantCreate{Identity: "t1", Role: "trainee"}
	cases := []struct {
		name  string
		sc    controlplane.SessionCreate
		field string
		msg   string
	}{
		{"no scenario", controlplane.SessionCreate{Participants: []controlplane.ParticipantCreate{ok}}, "scenario", "required"},
		{"bad scenario", controlplane.SessionCreate{Scenario: "sepsis ward", Participants: []controlplane.ParticipantCreate{ok}}, "scenario", "letters, digits"},
		{"no participants", controlplane.SessionCreate{Scenario: "s"}, "participants", "at least one"},
		{"too many", controlplane.SessionCreate{Scenario: "s", Participants: many}, "participants", "at most 100"},
		{"bad identity", controlplane.SessionCreate{Scenario: "s", Participants: []controlplane.ParticipantCreate{{Identity: "a b", Role: "trainee"}}}, "participants[0].identity", "letters, digits"},
		{"long identity", controlplane.SessionCreate{Scenario: "s", Participants: []controlplane.ParticipantCreate{{Identity: strings.Repeat("a", 129), Role: "trainee"}}}, "participants[0].identity", "at most 128"},
		{"no role", controlplane.SessionCreate{Scenario: "s", Participants: []controlplane.ParticipantCreate{{Identity: "a"}}}, "participants[0].role", "required"},
		{"bad role", controlplane.SessionCreate{Scenario: "s", Participants: []controlplane.ParticipantCreate{ok, {Identity: "b", Role: "admin"}}}, "participants[1].role", `unknown role "admin"`},
		{"duplicate identity", controlplane.SessionCreate{Scenario: "s", Participants: []controlplane.ParticipantCreate{ok, ok}}, "participants[1].identity", "already used by participants[0]"},
		{"control name", controlplane.SessionCreate{Scenario: "s", Participants: []controlplane.ParticipantCreate{{Identity: "a", Name: "x\x00", Role: "observer"}}}, "participants[0].name", "control"},
		{"short", controlplane.SessionCreate{Scenario: "s", Participants: []controlplane.ParticipantCreate{ok}, MaxDuration: n(59)}, "max_duration", "from 60 to 43200"},
		{"long", controlplane.SessionCreate{Scenario: "s", Participants: []controlplane.ParticipantCreate{ok}, MaxDuration: n(43201)}, "max_duration", "from 60 to 43200"},
	}
	for _, c := range cases {
		err := c.sc.Validate()
		f := controlplane.ErrorFields(err)
		if controlplane.ErrorCode(err) != controlplane.EINVALID || len(f) != 1 || f[0].Field != c.field || !strings.Contains(f[0].Message, c.msg) {
			t.Errorf("%s: %v, want one error on %s containing %q", c.name, err, c.field, c.msg)
		}
	}
	good := controlplane.SessionCreate{Scenario: "sepsis-ward.3", Participants: []controlplane.ParticipantCreate{
		{Identity: "dr.ines@st-marys", Name: "Dr Inés Ruiz", Role: "instructor"}, ok, {Identity: "engine", Role: "sim-engine"}}, MaxDuration: n(60)}
	if err := good.Validate(); err != nil {
		t.Errorf("a valid session was refused: %v", err)
	}
	if d := (controlplane.SessionCreate{}).Duration(); d != time.Hour {
		t.Errorf("default duration = %s", d)
	}
}
