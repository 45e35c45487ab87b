package jobs

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// logWriter turns the engine's output into the operation's log lines in Postgres, in
// small batches, so that a follower on any instance sees them within a moment.
type logWriter struct {
	store interface {
		AppendLog(ctx context.Context, id string, lines []string) error
	}
	id  string
	log *slog.Logger

	mu      sync.Mutex
	partial []byte
	pending []string
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

const (
	logFlushEvery = 250 * time.Millisecond
	maxLineBytes  = 4096
	maxBatch      = 500
)

func newLogWriter(store interface {
	AppendLog(ctx context.Context, id string, lines []string) error
}, id string, log *slog.Logger) *logWriter {
	w := &logWriter{store: store, id: id, log: log, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// Write takes any chunk of output (stdout and stderr may write at once).
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.add(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > maxLineBytes {
		w.add(string(w.partial))
		w.partial = nil
	}
	full := len(w.pending) >= maxBatch
	w.mu.Unlock()
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// add records one line (w.mu held): carriage-return progress redraws keep their last
// state, terminal colour codes are dropped, and blank lines are skipped.
func (w *logWriter) add(line string) {
	if i := strings.LastIndexByte(strings.TrimRight(line, "\r"), '\r'); i >= 0 {
		line = line[i+1:]
	}
	line = strings.TrimRight(stripANSI(line), " \r\t")
	if strings.TrimSpace(line) == "" {
		return
	}
	if len(line) > maxLineBytes {
		line = line[:maxLineBytes]
		for !utf8.ValidString(line) {
			line = line[:len(line)-1]
		}
	}
	w.pending = append(w.pending, strings.ToValidUTF8(line, "?"))
}

func (w *logWriter) run() {
	defer close(w.done)
	t := time.NewTicker(logFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			w.flush()
			return
		case <-t.C:
		case <-w.kick:
		}
		w.flush()
	}
}

func (w *logWriter) flush() {
	w.mu.Lock()
	lines := w.pending
	w.pending = nil
	w.mu.Unlock()
	for len(lines) > 0 {
		n := min(len(lines), maxBatch)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.store.AppendLog(ctx, w.id, lines[:n])
		cancel()
		if err != nil {
			// The log is best effort; the operation's state and error are what count.
			w.log.Warn("writing operation log", "operation", w.id, "err", err, "lines", n)
		}
		lines = lines[n:]
	}
}

// Close writes what is left, the last partial line too.
func (w *logWriter) Close() {
	w.mu.Lock()
	if len(w.partial) > 0 {
		w.add(string(w.partial))
		w.partial = nil
	}
	w.mu.Unlock()
	close(w.stop)
	<-w.done
}

// stripANSI removes terminal escape sequences (CSI ... letter).
func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
