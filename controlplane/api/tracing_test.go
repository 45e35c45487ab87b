package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cellplane/cellplane/controlplane/router"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestTracingMakesASpanPerRequest(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	defer otel.SetTracerProvider(prev)

	for _, tracing := range []bool{false, true} {
		exp.Reset()
		h := NewServer(Deps{Routes: router.NewTable(), Log: slog.New(slog.DiscardHandler), Tracing: tracing})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec.Code != 200 {
			t.Fatalf("healthz: %d", rec.Code)
		}
		spans := exp.GetSpans()
		switch {
		case !tracing && len(spans) != 0:
			t.Fatalf("tracing off made %d spans", len(spans))
		case tracing && (len(spans) != 1 || spans[0].Name != "GET /healthz"):
			t.Fatalf("tracing on: spans %v", spans)
		}
	}
}
