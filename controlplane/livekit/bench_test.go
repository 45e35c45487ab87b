package livekit_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/livekit"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/livekit/protocol/auth"
)

// BenchmarkTokenMinting compares the service's token path (the role's grant built and the
// token signed, as for every participant of a session) with raw HS256 signing of the same
// claims by go-jose, in the same run, alternating rounds so both see the same machine.
// make bench runs each benchmark once (-benchtime 1x): the rounds are timed here.
func BenchmarkTokenMinting(b *testing.B) {
	req := livekit.TokenRequest{APIKey: unitKey, APISecret: unitSecret, Room: "st-marys-abcdefghijklmnopqrstuvwx", SessionID: "0ba85727-4215-49ee-873e-ef7f7e917ebe",
		Identity: "student-17", Name: "Sam Okafor", Role: controlplane.RoleTrainee, TTL: time.Hour}

	// The same claims, signed by go-jose: the registered claims and the grants.
	grants := livekit.AccessToken(req).GetGrants()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(unitSecret)}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		b.Fatal(err)
	}
	// The leanest go-jose path: one struct marshalled, signed and serialised (go-jose's jwt
	// builder, which merges claim sets through maps, is several times slower).
	type claims struct {
		jwt.Claims
		*auth.ClaimGrants
	}
	raw := func() (string, error) {
		now := time.Now()
		payload, err := json.Marshal(claims{jwt.Claims{Issuer: unitKey, Subject: req.Identity, IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(req.TTL))}, grants})
		if err != nil {
			return "", err
		}
		jws, err := signer.Sign(payload)
		if err != nil {
			return "", err
		}
		return jws.CompactSerialize()
	}
	service := func() (string, error) { return livekit.MintToken(req) }
	// Both tokens must carry the same claims for the comparison to mean anything.
	for _, mint := range []func() (string, error){raw, service} {
		tok, err := mint()
		if err != nil {
			b.Fatal(err)
		}
		v, err := auth.ParseAPIToken(tok)
		if err != nil {
			b.Fatal(err)
		}
		_, c, err := v.Verify(unitSecret)
		if err != nil {
			b.Fatal(err)
		}
		if c.Video.Room != req.Room || c.Identity != req.Identity || c.Attributes[livekit.AttrRole] != "trainee" {
			b.Fatalf("token claims differ: %+v", c)
		}
	}

	// Small batches, alternating, many times: on a shared machine both paths see the same
	// load, and the ratio of the totals is what load does not change.
	timeBatch := func(mint func() (string, error)) time.Duration {
		const n = 250
		start := time.Now()
		for range n {
			if _, err := mint(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	var svcTime, rawTime time.Duration
	const rounds = 60
	for range rounds {
		svcTime += timeBatch(service)
		rawTime += timeBatch(raw)
	}
	s, r := rounds*250/svcTime.Seconds(), rounds*250/rawTime.Seconds()
	b.ReportMetric(s, "service-tokens/s")
	b.ReportMetric(r, "go-jose-tokens/s")
	b.ReportMetric(s/r, "ratio")
	verdict := "met"
	if s/r < 0.9 {
		verdict = "NOT met"
	}
	fmt.Printf("tokens: service %.0f/s, raw go-jose HS256 %.0f/s, ratio %.2f (goal >= 0.9: %s)\n", s, r, s/r, verdict)
}

// BenchmarkSessionCreate measures POST /v1/orgs/{slug}/sessions end to end against the
// local cell: authentication, the org's route and keys, the transaction, the room created
// on LiveKit and two tokens minted.
func BenchmarkSessionCreate(b *testing.B) {
	e := newEnv(b)
	key := e.org("bench")
	const n = 200
	lat := make([]time.Duration, 0, n)
	var ids []string
	for range n {
		start := time.Now()
		s := e.createSession("bench", key, part{"dr-ines", "instructor"}, part{"student-17", "trainee"})
		lat = append(lat, time.Since(start))
		ids = append(ids, s.ID)
	}
	for _, id := range ids {
		must(b, e.do("POST", "/v1/orgs/bench/sessions/"+id+"/end", key, nil), 200)
	}
	slices.Sort(lat)
	p50, p99 := lat[n/2], lat[n*99/100]
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	fmt.Printf("session create against the local LiveKit (%d sequential): p50 %s, p99 %s, max %s\n",
		n, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), lat[n-1].Round(10*time.Microsecond))
}
