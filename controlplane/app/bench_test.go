package app_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/migrations"
	"github.com/jackc/pgx/v5"
)

const benchOrgs = 10000

// BenchmarkRouterLookups loads GET /v1/route/{slug} of a real instance holding 10,000
// orgs, and in the same run a bare net/http handler writing a constant body of the same
// size, from a Go load generator on loopback. It prints both rates, their ratio (the goal
// is >= 0.8: the router costs little beyond net/http itself) and the router's p99.
// CELLPLANE_BENCH_SECONDS sets the length of each round (default 3).
func BenchmarkRouterLookups(b *testing.B) {
	ctx := context.Background()
	url := harness.Postgres(b)
	if err := migrations.ApplyURL(ctx, url, nil); err != nil {
		b.Fatal(err)
	}
	seed(b, url)
	in := serve(b, url)
	if n := in.App.Table.Len(); n != benchOrgs {
		b.Fatalf("router holds %d routes, want %d", n, benchOrgs)
	}
	_, sample := in.route("org-1")
	body := []byte(fmt.Sprintf(`{"slug":%q,"cloud":"local","region":"local","api_url":%q,"livekit_url":%q,"status":%q}`+"\n",
		sample["slug"], sample["api_url"], sample["livekit_url"], sample["status"]))
	bare := bareServer(b, body)

	round := 3 * time.Second
	if s, err := strconv.Atoi(os.Getenv("CELLPLANE_BENCH_SECONDS")); err == nil && s > 0 {
		round = time.Duration(s) * time.Second
	}
	const workers = 16
	b.ResetTimer()
	var baseline, routed result
	// Alternate, so drift in the machine's load hits both alike.
	for range 2 {
		baseline.add(load(b, bare+"/v1/route/", workers, round))
		routed.add(load(b, in.URL+"/v1/route/", workers, round))
	}
	b.StopTimer()
	ratio := routed.rate() / baseline.rate()
	p50, p99 := routed.percentile(0.50), routed.percentile(0.99)
	b.ReportMetric(routed.rate(), "router-req/s")
	b.ReportMetric(baseline.rate(), "bare-req/s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(float64(p99.Microseconds()), "router-p99-µs")
	fmt.Printf("router lookups (%d orgs, %d connections, %s x2): router %.0f req/s, bare net/http %.0f req/s, ratio %.2f (goal >= 0.80); router p50 %s p99 %s; bare p99 %s\n",
		benchOrgs, workers, round, routed.rate(), baseline.rate(), ratio, p50, p99, baseline.percentile(0.99))
}

// seed inserts benchOrgs orgs on one shared cluster in one statement.
func seed(b *testing.B, url string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `INSERT INTO clusters (id, name, cloud, region, kind, api_url, livekit_url, capacity, status)
		VALUES ('00000000-0000-0000-0000-00000000000a', 'bench-cell', 'local', 'local', 'shared', 'http://127.0.0.1:8080', 'ws://127.0.0.1:7880', 100000, 'active')`)
	if err != nil {
		b.Fatal(err)
	}
	_, err = conn.Exec(ctx, `INSERT INTO orgs (id, slug, name, tier, cloud, region, version, sizing, status, cluster_id)
		SELECT gen_random_uuid(), 'org-' || i, 'Org ' || i, 'shared', 'local', 'local', '1.0.0', 'small', 'ready', '00000000-0000-0000-0000-00000000000a'
		FROM generate_series(1, $1::int) AS i`, benchOrgs)
	if err != nil {
		b.Fatal(err)
	}
}

func bareServer(b *testing.B, body []byte) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	length := strconv.Itoa(len(body))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", length)
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String()
}

type result struct {
	requests  int
	elapsed   time.Duration
	latencies []time.Duration
}

func (r *result) add(o result) {
	r.requests += o.requests
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
}

func (r *result) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r *result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	slices.Sort(r.latencies)
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

// load sends GETs of base+org-<random> from workers keep-alive connections for d, and
// fails on any answer but 200.
func load(b *testing.B, base string, workers int, d time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	per := make([][]time.Duration, workers)
	errs := make(chan error, workers)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<16)
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for time.Now().Before(deadline) {
				t0 := time.Now()
				res, err := client.Get(base + "org-" + strconv.Itoa(1+rng.IntN(benchOrgs)))
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("status %d", res.StatusCode)
					return
				}
				lat = append(lat, time.Since(t0))
			}
			per[w] = lat
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	var r result
	r.elapsed = elapsed
	for _, l := range per {
		r.requests += len(l)
		r.latencies = append(r.latencies, l...)
	}
	return r
}
