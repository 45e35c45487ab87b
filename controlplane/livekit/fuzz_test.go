package livekit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"
	"golang.org/x/net/http/httpguts"
)

// FuzzSessionRequests throws arbitrary bodies, content types and webhook signatures at
// the session routes of the real server (real Postgres and LiveKit behind it): whatever
// arrives, the answer is never a 5xx, and every refusal is a problem+json.
func FuzzSessionRequests(f *testing.F) {
	e := newEnv(f)
	key := e.org("fuzzed")
	s := e.createSession("fuzzed", key, part{"t1", "trainee"})
	f.Cleanup(func() {
		_, _ = e.roomService().DeleteRoom(context.Background(), &lkproto.DeleteRoomRequest{Room: s.Room})
	})
	paths := []struct{ method, path, auth string }{
		{"POST", "/v1/orgs/fuzzed/sessions", "Bearer " + key},
		{"POST", "/v1/orgs/fuzzed/sessions/" + s.ID + "/tokens", "Bearer " + key},
		{"POST", "/v1/livekit/webhook", ""},
	}
	signedBody, signed := signWebhook(f, e.Cell.APIKey, e.Cell.APISecret,
		joinedEvent("EV_fuzz", s.Room, "PA_fuzz", "t1", time.Now().Unix(), time.Now().Unix()))
	seeds := []string{
		`{"scenario":"s","participants":[{"identity":"a","role":"trainee"}],"max_duration":60}`,
		`{"scenario":"s","participants":[{"identity":"a","role":"agent"},{"identity":"b","role":"observer","name":"B"}]}`,
		`{"identity":"fz","role":"observer"}`, `{"identity":"t1","role":"instructor"}`,
		`{"scenario":"` + strings.Repeat("x", 500) + `","participants":[]}`, `{"participants":[null]}`,
		`{"participants":[{"identity":{"a":1}}]}`, `{"max_duration":1e400}`, `{"max_duration":-1}`,
		`{"identity":"\u0000","role":""}`, `[]`, `null`, `""`, `{`, ``, `{"a":1}{"b":2}`, "\xff\xfe{",
		string(signedBody),
	}
	for i, body := range seeds {
		for p := range paths {
			ct := "application/json"
			if (i+p)%5 == 2 {
				ct = "text/plain"
			}
			authz := paths[p].auth
			if paths[p].auth == "" {
				authz = []string{signed, "", "Bearer x", signed[:len(signed)-3] + "abc", "a.b.c"}[i%5]
			}
			f.Add(uint8(p), ct, authz, []byte(body))
		}
	}
	client := &http.Client{}
	f.Fuzz(func(t *testing.T, which uint8, contentType, authz string, body []byte) {
		p := paths[int(which)%len(paths)]
		if p.auth != "" {
			authz = p.auth
		}
		req, err := http.NewRequest(p.method, e.URL+p.path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		if !httpguts.ValidHeaderFieldValue(authz) || !httpguts.ValidHeaderFieldValue(contentType) {
			t.Skip("not a header any HTTP client sends")
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s %q %q -> %d %s", p.method, p.path, contentType, body, res.StatusCode, b)
		}
		if !json.Valid(b) {
			t.Fatalf("%s %s %q -> %d with a body that is not JSON: %q", p.method, p.path, body, res.StatusCode, b)
		}
		if res.StatusCode >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%d answered as %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
	})
}
