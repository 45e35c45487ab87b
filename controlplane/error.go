package controlplane

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to one status; the store and the services return
// them so callers can tell a caller's mistake from a fault.
const (
	ECONFLICT     = "conflict"     // the request clashes with the current state (409)
	EFORBIDDEN    = "forbidden"    // authenticated, but not allowed (403)
	EINTERNAL     = "internal"     // our fault (500)
	EINVALID      = "invalid"      // a field has a bad value (422, with the fields)
	EMALFORMED    = "malformed"    // the request cannot be read (400)
	ENOTFOUND     = "not_found"    // no such thing, or not yours (404)
	EUNAUTHORIZED = "unauthorized" // no or bad credentials (401)
	EUNAVAILABLE  = "unavailable"  // a dependency is down (503)
	ETOOLARGE     = "too_large"    // request body over the limit (413)
	EUNSUPPORTED  = "unsupported"  // wrong content type (415)
)

// FieldError names one bad field and says what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error the caller can act on: a code, a human message and, for validation
// failures, the bad fields.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("controlplane error: code=%s message=%s", e.Code, e.Message)
	}
	return fmt.Sprintf("controlplane error: code=%s message=%s fields=%v", e.Code, e.Message, e.Fields)
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: EINTERNAL for anything that is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of err, or a generic one for internal errors (whose
// text may hold details the caller must not see).
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorFields returns the field errors of err, if any.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Validation collects field errors; Err returns nil when there are none.
type Validation struct{ fields []FieldError }

// Add records a bad field.
func (v *Validation) Add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Check records err (when not nil) against field.
func (v *Validation) Check(field string, err error) {
	if err != nil {
		v.fields = append(v.fields, FieldError{Field: field, Message: err.Error()})
	}
}

// Err returns an EINVALID error listing the fields, or nil.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "the request has invalid fields", Fields: v.fields}
}

// OrgNotFound is the one answer for an org that does not exist or is not the caller's:
// both must read the same, so a key of one org cannot probe for others.
func OrgNotFound(slug string) error {
	return Errorf(ENOTFOUND, "org %q not found", slug)
}
