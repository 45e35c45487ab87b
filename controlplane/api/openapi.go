package api

import (
	_ "embed"
	"net/http"
	"strconv"
)

// OpenAPI is the API's description, served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

func handleOpenAPI() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/yaml")
		h.Set("Content-Length", strconv.Itoa(len(OpenAPI)))
		h.Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(OpenAPI)
	}
}
