package jobs_test

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkOnboarding measures, on the local cell with the real engine: the time from
// POST /v1/orgs to ready for one tier B org, and the throughput of 1 and of 8 workers over
// 40 onboardings submitted at once (CELLPLANE_BENCH_ORGS changes the count), with their
// ratio: the speed-up that parallel stacks give on this machine.
func BenchmarkOnboarding(b *testing.B) {
	n := 40
	if v, err := strconv.Atoi(os.Getenv("CELLPLANE_BENCH_ORGS")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		one := newPlane(b, planeOpts{workers: 1})
		start := time.Now()
		one.mustSucceed(one.createOrg(fmt.Sprintf("bench-single-%d", i), "1.4.5"))
		single := time.Since(start)
		b.ReportMetric(single.Seconds(), "s/onboarding")

		rate1, took1 := onboardMany(b, one, fmt.Sprintf("b1-%d", i), n)
		eight := newPlane(b, planeOpts{workers: 8})
		rate8, took8 := onboardMany(b, eight, fmt.Sprintf("b8-%d", i), n)
		b.ReportMetric(rate1*60, "onboardings/min(1-worker)")
		b.ReportMetric(rate8*60, "onboardings/min(8-workers)")
		b.ReportMetric(rate8/rate1, "speed-up")
		fmt.Printf("onboarding (tier B, local cell, real engine): POST -> ready %s; %d onboardings: 1 worker %s (%.1f/min), 8 workers %s (%.1f/min), speed-up %.2fx\n",
			single.Round(10*time.Millisecond), n, took1.Round(time.Second), rate1*60, took8.Round(time.Second), rate8*60, rate8/rate1)
	}
}

// onboardMany signs n orgs up at once and waits for all of them; it returns onboardings
// per second and the wall time.
func onboardMany(b *testing.B, p *plane, prefix string, n int) (float64, time.Duration) {
	b.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); ids[i] = p.createOrg(fmt.Sprintf("%s-%02d", prefix, i), "1.4.5") }()
	}
	wg.Wait()
	for _, id := range ids {
		p.mustSucceed(id)
	}
	took := time.Since(start)
	return float64(n) / took.Seconds(), took
}
