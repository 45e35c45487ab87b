package api

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/controlplane/router"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// TestOpenAPIDocumentMatchesRoutes validates the document and checks that every route is
// documented and every documented operation is routed.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("document is OpenAPI %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = true
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s %s lacks an operationId or summary", method, path)
			}
			if len(op.Responses.Map()) == 0 {
				t.Errorf("%s %s documents no responses", method, path)
			}
		}
	}
	reg := prometheus.NewRegistry()
	d := Deps{Routes: router.NewTable(), Registry: reg, Log: slog.New(slog.DiscardHandler)}
	r := newRouter(d, newMetrics(reg, d.Routes))
	routed := map[string]bool{}
	err = chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(routed) < 15 {
		t.Fatalf("only %d routes walked: %v", len(routed), routed)
	}
	for _, k := range sorted(routed) {
		if !documented[k] {
			t.Errorf("route %s is not in openapi.yaml", k)
		}
	}
	for _, k := range sorted(documented) {
		if !routed[k] {
			t.Errorf("openapi.yaml documents %s, which is not routed", k)
		}
	}
}

func sorted(m map[string]bool) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
