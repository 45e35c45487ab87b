package apitest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/cellplane/cellplane/controlplane/api"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Conforming wraps next so that every answer is checked against openapi.yaml: the status
// documented for the operation, the content type and the body matching its schema.
func Conforming(t testing.TB, next http.RoundTripper) http.RoundTripper {
	return conforming{t: t, next: next}
}

var (
	docOnce   sync.Once
	docRouter routers.Router
	docErr    error
)

// conforming is a transport that checks every answer the tests get against openapi.yaml:
// status documented for the operation, content type and body matching its schema. So
// every test of this package also keeps the document true.
type conforming struct {
	t    testing.TB
	next http.RoundTripper
}

func (c conforming) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := c.next.RoundTrip(req)
	if err != nil {
		return res, err
	}
	docOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
		if err != nil {
			docErr = err
			return
		}
		doc.Servers = nil // match any host
		docRouter, docErr = legacy.NewRouter(doc)
	})
	if docErr != nil {
		c.t.Errorf("openapi: %v", docErr)
		return res, nil
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return res, nil
	}
	route, params, err := docRouter.FindRoute(req)
	if err != nil {
		// Requests to routes that do not exist (404/405 tests) have nothing to conform to.
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
			c.t.Errorf("%s %s: not in openapi.yaml but answered %d", req.Method, req.URL.Path, res.StatusCode)
		}
		return res, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: res.StatusCode,
		Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		c.t.Errorf("%s %s -> %d does not conform to openapi.yaml: %v\nbody: %.300s", req.Method, req.URL.Path, res.StatusCode, err, body)
	}
	return res, nil
}
