// Package apitest runs the control plane for tests and talks to it: an instance on a fresh
// throwaway database, and a client whose every answer is checked against openapi.yaml, so
// every test that calls the API also keeps the document true.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/app"
	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/controlplane/secrets"
)

// AdminKey is the admin key of instances started by Start.
const AdminKey = "test-admin-key-0123456789abcdef"

// Server is one control plane serving on loopback for a test.
type Server struct {
	URL string
	App *app.App
	*Client
}

// Start runs a control plane until the test ends. Unset fields of cfg default to a fresh
// database, AdminKey and a new master key.
func Start(t testing.TB, cfg app.Config) *Server {
	t.Helper()
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = harness.Postgres(t)
	}
	if cfg.AdminKey == "" {
		cfg.AdminKey = AdminKey
	}
	if cfg.MasterKey == "" {
		cfg.MasterKey = secrets.GenerateMasterKey()
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	url := "http://" + l.Addr().String()
	return &Server{URL: url, App: a, Client: NewClient(t, url)}
}

// Client calls the API of the control plane at URL.
type Client struct {
	t    testing.TB
	URL  string
	HTTP *http.Client
}

// NewClient returns a client of url whose answers are checked against openapi.yaml.
func NewClient(t testing.TB, url string) *Client {
	return &Client{t: t, URL: url, HTTP: &http.Client{Timeout: 30 * time.Second, Transport: Conforming(t, http.DefaultTransport)}}
}

// Response is an answer, its body kept.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends body (a string or []byte as is, anything else as JSON) with key as bearer and
// header as name, value pairs.
func (c *Client) Do(method, path, key string, body any, header ...string) Response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.URL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// JSON decodes the body into v.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
}

// Obj decodes the body as a JSON object.
func (r Response) Obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Problem is an RFC 9457 problem+json body.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// Problem decodes a problem+json answer, failing the test on any other content type or
// on a status that differs from the answer's.
func (r Response) Problem(t testing.TB) Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json (status %d, body %s)", ct, r.Status, r.Body)
	}
	var p Problem
	r.JSON(t, &p)
	if p.Status != r.Status {
		t.Fatalf("problem status %d != response status %d", p.Status, r.Status)
	}
	return p
}

// Must fails the test unless the answer has status want.
func Must(t testing.TB, r Response, want int) Response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body: %s", r.Status, want, r.Body)
	}
	return r
}
