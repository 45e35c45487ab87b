package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// FuzzCreateOrg throws arbitrary bodies and content types at the decoding routes of the
// real server (real Postgres behind it): whatever arrives, the answer is never a 5xx, and
// every refusal is a problem+json.
func FuzzCreateOrg(f *testing.F) {
	in := start(f)
	in.sharedCluster("fuzz-cell", "local", "local", 10000)
	in.org("fuzzed", "shared")
	paths := []struct{ method, path string }{
		{"POST", "/v1/orgs"}, {"PATCH", "/v1/orgs/fuzzed"}, {"POST", "/v1/clusters"}, {"POST", "/v1/orgs/fuzzed/keys"},
	}
	seeds := []string{
		`{"slug":"fz","name":"Fuzz","tier":"shared","cloud":"local","region":"local","version":"1.0.0","sizing":"small"}`,
		`{"slug":"fz2","name":"Fuzz","tier":"dedicated","cloud":"aws","region":"eu-west-1","version":"1.0.0","sizing":"large","requirements":{"a":"b"}}`,
		`{"slug":"Bad Slug!","name":"","tier":"x","cloud":"y","region":"z","version":"v","sizing":"s"}`,
		`{"slug":1e400}`, `{"slug":null,"requirements":null}`, `{"requirements":{"a":{"b":1}}}`, `{"requirements":[]}`,
		`{"version":"1.0.0","sizing":"medium","name":"\u0000"}`, `{"cloud":"local","region":"local"}`,
		`{"name":"ok"}`, `{"capacity":-1,"kind":"shared"}`, `{"capacity":99999999999999999999}`,
		`[]`, `null`, `""`, `0`, `{`, `}`, ``, `{"a":1}{"b":2}`, `{"slug":"x","slug":"y"}`,
		"\xff\xfe{", `{"name":"` + string(bytes.Repeat([]byte("é"), 300)) + `"}`,
	}
	for i, s := range seeds {
		for p := range paths {
			ct := "application/json"
			if (i+p)%7 == 3 {
				ct = "text/plain"
			}
			f.Add(uint8(p), ct, []byte(s))
		}
	}
	client := &http.Client{}
	f.Fuzz(func(t *testing.T, which uint8, contentType string, body []byte) {
		p := paths[int(which)%len(paths)]
		req, err := http.NewRequest(p.method, in.URL+p.path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+adminKey)
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
