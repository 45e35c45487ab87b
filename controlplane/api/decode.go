package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/cellplane/cellplane/controlplane"
)

// MaxBodyBytes bounds request bodies: every request of this API is a small object.
const MaxBodyBytes = 64 << 10

// decode reads the JSON object of r's body into v strictly: the content type must be
// JSON, the body at most MaxBodyBytes, one object with no unknown fields and no trailing
// data. Every failure names what is wrong, and the field when there is one.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return controlplane.Errorf(controlplane.EUNSUPPORTED, "the request body must be JSON: send Content-Type: application/json (got %q)", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return decodeError(err)
		}
		return controlplane.Errorf(controlplane.EMALFORMED, "the request body must hold exactly one JSON object, but more follows it")
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		malformed = func(format string, args ...any) error {
			return controlplane.Errorf(controlplane.EMALFORMED, format, args...)
		}
	)
	switch {
	case errors.Is(err, io.EOF):
		return malformed("the request body is empty: send a JSON object")
	case errors.As(err, &tooLarge):
		return controlplane.Errorf(controlplane.ETOOLARGE, "the request body is larger than %d bytes", tooLarge.Limit)
	case errors.As(err, &syntax):
		return malformed("the request body is not valid JSON (at byte %d): %v", syntax.Offset, syntax)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("the request body is not valid JSON: it ends too early")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return malformed("the request body must be a JSON object, not %s", typeErr.Value)
		}
		return &controlplane.Error{Code: controlplane.EMALFORMED, Message: "the request body has a field of the wrong type",
			Fields: []controlplane.FieldError{{Field: typeErr.Field, Message: fmt.Sprintf("must be %s, not %s", jsonType(typeErr.Type.String()), typeErr.Value)}}}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &controlplane.Error{Code: controlplane.EMALFORMED, Message: "the request body has an unknown field",
			Fields: []controlplane.FieldError{{Field: name, Message: "unknown field"}}}
	}
	return malformed("the request body cannot be read: %v", err)
}

// jsonType names a Go type the way a JSON client thinks of it.
func jsonType(goType string) string {
	switch {
	case goType == "string" || goType == "*string":
		return "a string"
	case strings.HasPrefix(goType, "map["):
		return "an object of strings"
	case strings.Contains(goType, "int") || strings.Contains(goType, "float"):
		return "a number"
	case goType == "bool":
		return "a boolean"
	}
	return "an object"
}
