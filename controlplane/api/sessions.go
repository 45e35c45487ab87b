package api

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

func handleSessionCreate(sessions controlplane.SessionService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var sc controlplane.SessionCreate
		if err := decode(w, r, &sc); err != nil {
			writeError(w, r, log, err)
			return
		}
		ss, err := sessions.CreateSession(r.Context(), chi.URLParam(r, "slug"), sc)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Location", "/v1/orgs/"+ss.OrgSlug+"/sessions/"+ss.ID)
		writeJSON(w, http.StatusCreated, ss)
	}
}

type sessionPage struct {
	Sessions   []*controlplane.Session `json:"sessions"`
	NextCursor string                  `json:"next_cursor,omitempty"`
}

func handleSessionList(sessions controlplane.SessionService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var v controlplane.Validation
		f := controlplane.SessionFilter{Limit: pageLimit(q, &v), State: q.Get("state")}
		for _, p := range []struct {
			name string
			dst  **time.Time
		}{{"from", &f.From}, {"to", &f.To}} {
			if s := q.Get(p.name); s != "" {
				t, err := parseTime(s)
				if err != nil {
					v.Add(p.name, "%s must be an RFC 3339 time (2026-11-25T09:00:00Z) or a date (2026-11-25), got %q", p.name, s)
				}
				*p.dst = &t
			}
		}
		if c := q.Get("cursor"); c != "" {
			at, id, ok := decodeSessionCursor(c)
			if !ok {
				v.Add("cursor", badCursor)
			}
			f.AfterTime, f.AfterID = &at, id
		}
		if err := v.Err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		page, more, err := sessions.FindSessions(r.Context(), chi.URLParam(r, "slug"), f)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		res := sessionPage{Sessions: page}
		if res.Sessions == nil {
			res.Sessions = []*controlplane.Session{}
		}
		if more {
			last := page[len(page)-1]
			res.NextCursor = encodeSessionCursor(last.CreatedAt, last.ID)
		}
		writeJSON(w, http.StatusOK, res)
	}
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", s)
}

// Session cursors are opaque to clients; inside, the creation time and id of the last
// session of the page.
func encodeSessionCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("ses:" + strconv.FormatInt(at.UnixMicro(), 10) + ":" + id))
}

func decodeSessionCursor(c string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", false
	}
	rest, ok := strings.CutPrefix(string(b), "ses:")
	if !ok {
		return time.Time{}, "", false
	}
	us, id, ok := strings.Cut(rest, ":")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || !controlplane.ValidSessionID(id) {
		return time.Time{}, "", false
	}
	return time.UnixMicro(n), id, true
}

func handleSessionGet(sessions controlplane.SessionService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, err := sessions.FindSession(r.Context(), chi.URLParam(r, "slug"), chi.URLParam(r, "id"))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, ss)
	}
}

// tokenCreated is the answer to POST .../tokens: the participant with its token, and
// where to use it.
type tokenCreated struct {
	*controlplane.Participant
	SessionID  string `json:"session_id"`
	Room       string `json:"room"`
	LiveKitURL string `json:"livekit_url"`
}

func handleTokenCreate(sessions controlplane.SessionService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var pc controlplane.ParticipantCreate
		if err := decode(w, r, &pc); err != nil {
			writeError(w, r, log, err)
			return
		}
		p, ss, err := sessions.CreateToken(r.Context(), chi.URLParam(r, "slug"), chi.URLParam(r, "id"), pc)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusCreated, tokenCreated{Participant: p, SessionID: ss.ID, Room: ss.Room, LiveKitURL: ss.LiveKitURL})
	}
}

func handleSessionEnd(sessions controlplane.SessionService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, err := sessions.EndSession(r.Context(), chi.URLParam(r, "slug"), chi.URLParam(r, "id"))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, ss)
	}
}

func handleOrgUsage(usage controlplane.UsageService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p, err := controlplane.ParseUsagePeriod(q.Get("from"), q.Get("to"), time.Now())
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		u, err := usage.OrgUsage(r.Context(), chi.URLParam(r, "slug"), p)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, u)
	}
}

type usageList struct {
	From string                `json:"from"`
	To   string                `json:"to"`
	Orgs []*controlplane.Usage `json:"orgs"`
}

// handleUsage answers every org's usage as JSON, or as CSV (format=csv or Accept:
// text/csv): one row per org and day with any usage, and one "total" row per org.
func handleUsage(usage controlplane.UsageService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		format := q.Get("format")
		var v controlplane.Validation
		switch format {
		case "":
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Accept")); mt == "text/csv" {
				format = "csv"
			}
		case "csv", "json":
		default:
			v.Add("format", "unknown format %q; allowed: json, csv", format)
		}
		p, err := controlplane.ParseUsagePeriod(q.Get("from"), q.Get("to"), time.Now())
		for _, f := range controlplane.ErrorFields(err) {
			v.Add(f.Field, "%s", f.Message)
		}
		if err := v.Err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		list, err := usage.AllUsage(r.Context(), p)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		from, to := p.From.Format("2006-01-02"), p.To.Format("2006-01-02")
		if format != "csv" {
			if list == nil {
				list = []*controlplane.Usage{}
			}
			writeJSON(w, http.StatusOK, usageList{From: from, To: to, Orgs: list})
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="cellplane-usage-%s-%s.csv"`, from, to))
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_ = writeUsageCSV(w, list)
	}
}

// UsageCSVHeader is the header row of the usage CSV.
var UsageCSVHeader = []string{"org", "date", "sessions", "participant_seconds", "participant_minutes", "peak_concurrent_participants"}

func writeUsageCSV(w io.Writer, list []*controlplane.Usage) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(UsageCSVHeader)
	row := func(org, date string, sessions int, secs int64, mins float64, peak int) {
		_ = cw.Write([]string{org, date, strconv.Itoa(sessions), strconv.FormatInt(secs, 10),
			strconv.FormatFloat(mins, 'f', 2, 64), strconv.Itoa(peak)})
	}
	for _, u := range list {
		for _, d := range u.Days {
			if d.Sessions > 0 || d.ParticipantSeconds > 0 || d.PeakConcurrent > 0 {
				row(u.Org, d.Date, d.Sessions, d.ParticipantSeconds, d.ParticipantMinutes, d.PeakConcurrent)
			}
		}
		row(u.Org, "total", u.Sessions, u.ParticipantSeconds, u.ParticipantMinutes, u.PeakConcurrent)
	}
	cw.Flush()
	return cw.Error()
}

// MaxWebhookBytes bounds a webhook body (an event with a room and a participant's tracks).
const MaxWebhookBytes = 1 << 20

// handleWebhook receives LiveKit's webhooks. It is public: the JWT in the Authorization
// header, signed with a registered cluster's key and carrying the body's checksum, is the
// credential. A forged or tampered webhook gets 401; a replayed one 200 with outcome
// "duplicate" (applied once).
func handleWebhook(hooks controlplane.WebhookService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBytes))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeError(w, r, log, controlplane.Errorf(controlplane.ETOOLARGE, "the webhook body is larger than %d bytes", tooLarge.Limit))
				return
			}
			writeError(w, r, log, controlplane.Errorf(controlplane.EMALFORMED, "the webhook body cannot be read"))
			return
		}
		res, err := hooks.ReceiveWebhook(r.Context(), r.Header.Get("Authorization"), body)
		if err != nil {
			if controlplane.ErrorCode(err) == controlplane.EUNAUTHORIZED {
				log.WarnContext(r.Context(), "webhook rejected", "remote", r.RemoteAddr, "err", controlplane.ErrorMessage(err))
			}
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// sessionCollector exports the live sessions and participants per org, region and
// cluster, read from the database at scrape time (so every instance reports the same
// numbers, whichever received the webhooks).
type sessionCollector struct {
	usage        controlplane.UsageService
	log          *slog.Logger
	sessions     *prometheus.Desc
	participants *prometheus.Desc
	up           *prometheus.Desc
}

func newSessionCollector(usage controlplane.UsageService, log *slog.Logger) *sessionCollector {
	labels := []string{"org", "region", "cluster"}
	return &sessionCollector{
		usage:        usage,
		log:          log,
		sessions:     prometheus.NewDesc("cellplane_sessions_live", "Live sessions by org, region and cluster.", labels, nil),
		participants: prometheus.NewDesc("cellplane_session_participants_live", "Participants in live sessions by org, region and cluster.", labels, nil),
		up:           prometheus.NewDesc("cellplane_sessions_scrape_ok", "1 when the live session counts could be read.", nil, nil),
	}
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sessions
	ch <- c.participants
	ch <- c.up
}

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.usage.LiveCounts(ctx)
	if err != nil {
		c.log.Warn("live session counts", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, lc := range counts {
		ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(lc.Sessions), lc.Org, lc.Region, lc.Cluster)
		ch <- prometheus.MustNewConstMetric(c.participants, prometheus.GaugeValue, float64(lc.Participants), lc.Org, lc.Region, lc.Cluster)
	}
}
