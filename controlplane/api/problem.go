package api

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/cellplane/cellplane/controlplane"
)

// Problem is an RFC 9457 problem detail, with the bad fields of a validation failure.
type Problem struct {
	Type     string                    `json:"type"`
	Title    string                    `json:"title"`
	Status   int                       `json:"status"`
	Detail   string                    `json:"detail,omitempty"`
	Instance string                    `json:"instance,omitempty"`
	Errors   []controlplane.FieldError `json:"errors,omitempty"`
}

var codeStatus = map[string]int{
	controlplane.ECONFLICT:     http.StatusConflict,
	controlplane.EFORBIDDEN:    http.StatusForbidden,
	controlplane.EINTERNAL:     http.StatusInternalServerError,
	controlplane.EINVALID:      http.StatusUnprocessableEntity,
	controlplane.EMALFORMED:    http.StatusBadRequest,
	controlplane.ENOTFOUND:     http.StatusNotFound,
	controlplane.EUNAUTHORIZED: http.StatusUnauthorized,
	controlplane.EUNAVAILABLE:  http.StatusServiceUnavailable,
	controlplane.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	controlplane.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
}

// ProblemType is the type URI of problems with code.
func ProblemType(code string) string { return "urn:cellplane:problem:" + code }

// writeError answers with the problem for err. Internal errors are logged and answered
// with a generic message: their text may carry details the caller must not see.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := controlplane.ErrorCode(err)
	status, ok := codeStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if code == controlplane.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cellplane"`)
	}
	writeProblem(w, Problem{
		Type:     ProblemType(code),
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   controlplane.ErrorMessage(err),
		Instance: r.URL.Path,
		Errors:   controlplane.ErrorFields(err),
	})
}

func writeProblem(w http.ResponseWriter, p Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
