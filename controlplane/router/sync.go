package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/jackc/pgx/v5"
)

// Channel is the NOTIFY channel route changes are announced on (see migrations).
const Channel = "cellplane_routes"

// Syncer keeps a Table in step with the database: a full load at start and after every
// reconnect, and the changed routes on each notification.
type Syncer struct {
	Table  *Table
	Routes controlplane.RouteService
	// Connect opens the dedicated connection that LISTENs (not a pool connection: it is
	// held for the life of the process).
	Connect func(ctx context.Context) (*pgx.Conn, error)
	Log     *slog.Logger
	// MaxBatch is the number of changed slugs above which one full reload is cheaper than
	// fetching each (default 32).
	MaxBatch int

	mu        sync.Mutex
	listening bool
	lastErr   error
	lastSync  time.Time
}

// Load does a full load of the table.
func (s *Syncer) Load(ctx context.Context) error {
	routes, err := s.Routes.Routes(ctx)
	if err != nil {
		return fmt.Errorf("load routes: %w", err)
	}
	s.Table.Replace(routes)
	s.mu.Lock()
	s.lastSync = time.Now()
	s.mu.Unlock()
	return nil
}

// Check reports whether the table is being kept fresh: nil when loaded and listening,
// otherwise why not (the table still answers, from its last good state).
func (s *Syncer) Check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.Table.Loaded():
		return errors.New("routing table not loaded yet")
	case !s.listening && s.lastErr != nil:
		return fmt.Errorf("not receiving route changes (serving the table as of %s): %v", s.lastSync.UTC().Format(time.RFC3339), s.lastErr)
	case !s.listening:
		return errors.New("not receiving route changes yet")
	}
	return nil
}

func (s *Syncer) setState(listening bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listening, s.lastErr = listening, err
}

// Run listens for changes until ctx ends, reconnecting with backoff. After a reconnect it
// reloads everything, since notifications sent while it was away are lost.
func (s *Syncer) Run(ctx context.Context) {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	const first, most = 100 * time.Millisecond, 2 * time.Second
	backoff := first
	for ctx.Err() == nil {
		connected, err := s.listen(ctx)
		if ctx.Err() != nil {
			break
		}
		if connected {
			backoff = first // it worked for a while: retry soon
		}
		s.setState(false, err)
		log.Warn("route listener lost; serving the last loaded table", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, most)
	}
	s.setState(false, ctx.Err())
}

// listen holds one LISTEN connection until it fails; connected says whether it got as far
// as receiving changes.
func (s *Syncer) listen(ctx context.Context) (connected bool, err error) {
	conn, err := s.Connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return false, err
	}
	// LISTEN first, then load: a change committed in between is both loaded and
	// notified, never missed.
	if err := s.Load(ctx); err != nil {
		return false, err
	}
	s.setState(true, nil)
	if s.Log != nil {
		s.Log.Info("route listener connected", "routes", s.Table.Len())
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		batch := map[string]bool{n.Payload: true}
		// Gather what arrives right behind it, so a burst of changes costs one swap.
		for len(batch) <= s.maxBatch() {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
			n, err := conn.WaitForNotification(wctx)
			cancel()
			if err != nil {
				if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
					return true, err
				}
				break
			}
			batch[n.Payload] = true
		}
		if err := s.apply(ctx, batch); err != nil {
			return true, err
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func (s *Syncer) maxBatch() int {
	if s.MaxBatch > 0 {
		return s.MaxBatch
	}
	return 32
}

func (s *Syncer) apply(ctx context.Context, batch map[string]bool) error {
	if batch["*"] || len(batch) > s.maxBatch() {
		return s.Load(ctx)
	}
	var set []controlplane.Route
	var remove []string
	for slug := range batch {
		r, err := s.Routes.RouteBySlug(ctx, slug)
		switch {
		case controlplane.ErrorCode(err) == controlplane.ENOTFOUND:
			remove = append(remove, slug)
		case err != nil:
			return err
		default:
			set = append(set, *r)
		}
	}
	s.Table.Apply(set, remove)
	s.mu.Lock()
	s.lastSync = time.Now()
	s.mu.Unlock()
	return nil
}
