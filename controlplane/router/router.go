// Package router answers "where does this org live?" for web clients from memory. The
// table is an immutable map swapped atomically on every change, so lookups take no lock
// and never touch the database; a Syncer keeps it fresh from Postgres LISTEN/NOTIFY and
// keeps the last good table when Postgres goes away.
package router

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/cellplane/cellplane/controlplane"
)

// Entry is one org's route with its response body and ETag computed once, at load time.
type Entry struct {
	Route controlplane.Route
	Body  []byte
	ETag  string
}

func newEntry(r controlplane.Route) *Entry {
	body, _ := json.Marshal(r) // a struct of strings always marshals
	body = append(body, '\n')
	sum := sha256.Sum256(body)
	return &Entry{Route: r, Body: body, ETag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// Table is the in-memory routing table.
type Table struct {
	snap   atomic.Pointer[map[string]*Entry]
	loaded atomic.Bool
	mu     sync.Mutex // serialises writers; readers never take it
}

// NewTable returns an empty table (not yet loaded).
func NewTable() *Table {
	t := &Table{}
	empty := map[string]*Entry{}
	t.snap.Store(&empty)
	return t
}

// Lookup returns the entry of slug. It is safe for any number of concurrent callers.
func (t *Table) Lookup(slug string) (*Entry, bool) {
	e, ok := (*t.snap.Load())[slug]
	return e, ok
}

// Len returns the number of routes.
func (t *Table) Len() int { return len(*t.snap.Load()) }

// Loaded reports whether a full load has succeeded at least once.
func (t *Table) Loaded() bool { return t.loaded.Load() }

// Replace swaps in a table of exactly routes.
func (t *Table) Replace(routes []controlplane.Route) {
	m := make(map[string]*Entry, len(routes))
	for _, r := range routes {
		m[r.Slug] = newEntry(r)
	}
	t.mu.Lock()
	t.snap.Store(&m)
	t.mu.Unlock()
	t.loaded.Store(true)
}

// Apply sets the given routes and removes the given slugs in one swap (copy on write:
// cheap next to the database round trip that produced the change).
func (t *Table) Apply(set []controlplane.Route, remove []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := maps.Clone(*t.snap.Load())
	for _, r := range set {
		m[r.Slug] = newEntry(r)
	}
	for _, s := range remove {
		delete(m, s)
	}
	t.snap.Store(&m)
}
