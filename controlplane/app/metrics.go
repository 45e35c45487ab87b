package app

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports the pgxpool's statistics at scrape time.
type poolCollector struct {
	pool *pgxpool.Pool
	desc map[string]*prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("cellplane_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{pool: pool, desc: map[string]*prometheus.Desc{
		"acquired":         d("acquired_conns", "Connections in use."),
		"idle":             d("idle_conns", "Idle connections."),
		"total":            d("total_conns", "Open connections."),
		"max":              d("max_conns", "Most connections the pool opens."),
		"acquires":         d("acquires_total", "Connections acquired from the pool."),
		"empty":            d("empty_acquires_total", "Acquires that had to wait for a connection."),
		"canceled":         d("canceled_acquires_total", "Acquires cancelled by their context."),
		"acquire_duration": d("acquire_seconds_total", "Time spent acquiring connections."),
	}}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.desc {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	g := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.desc[k], prometheus.GaugeValue, v) }
	n := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.desc[k], prometheus.CounterValue, v) }
	g("acquired", float64(s.AcquiredConns()))
	g("idle", float64(s.IdleConns()))
	g("total", float64(s.TotalConns()))
	g("max", float64(s.MaxConns()))
	n("acquires", float64(s.AcquireCount()))
	n("empty", float64(s.EmptyAcquireCount()))
	n("canceled", float64(s.CanceledAcquireCount()))
	n("acquire_duration", s.AcquireDuration().Seconds())
}
