package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cellplane/cellplane/controlplane/router"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry, table *router.Table) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cellplane_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cellplane_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	if table != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cellplane_router_routes",
			Help: "Routes in the in-memory routing table.",
		}, func() float64 { return float64(table.Len()) }))
	}
	return m
}

// quietRoutes are logged at debug level only: they are the hot path and the probes.
var quietRoutes = map[string]bool{"/v1/route/{slug}": true, "/healthz": true, "/readyz": true, "/metrics": true}

// observe counts and times every request by its route pattern (never the raw path: the
// label set stays bounded), and logs it.
func (m *metrics) observe(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			pattern := "unmatched"
			if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
				pattern = rc.RoutePattern()
			}
			took := time.Since(start)
			m.requests.WithLabelValues(pattern, r.Method, strconv.Itoa(status)).Inc()
			m.latency.WithLabelValues(pattern, r.Method).Observe(took.Seconds())
			level := slog.LevelInfo
			if quietRoutes[pattern] && status < 500 {
				level = slog.LevelDebug
			}
			if log.Enabled(r.Context(), level) {
				log.LogAttrs(r.Context(), level, "request", slog.String("method", r.Method), slog.String("route", pattern),
					slog.String("path", r.URL.Path), slog.Int("status", status), slog.Duration("took", took))
			}
		})
	}
}
