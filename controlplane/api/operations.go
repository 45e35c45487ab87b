package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/web"
	"github.com/go-chi/chi/v5"
)

// Org changes answer 202 Accepted with the operation that carries them out; its URL is
// /v1/operations/{id}, its log /v1/operations/{id}/log.

// orgAccepted is the org after a change, with the operation that applies it.
type orgAccepted struct {
	*controlplane.Org
	Placement *controlplane.Placement `json:"placement,omitempty"`
	Operation *controlplane.Operation `json:"operation"`
}

func operationURL(op *controlplane.Operation) string { return "/v1/operations/" + op.ID }

func handleOrgCreateOp(ops controlplane.OperationService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var oc controlplane.OrgCreate
		if err := decode(w, r, &oc); err != nil {
			writeError(w, r, log, err)
			return
		}
		org, placement, op, err := ops.CreateOrg(r.Context(), oc)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Location", "/v1/orgs/"+org.Slug)
		w.Header().Set("Operation-Location", operationURL(op))
		writeJSON(w, http.StatusAccepted, orgAccepted{Org: org, Placement: placement, Operation: op})
	}
}

func handleOrgUpdateOp(ops controlplane.OperationService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var upd controlplane.OrgUpdate
		if err := decode(w, r, &upd); err != nil {
			writeError(w, r, log, err)
			return
		}
		org, op, err := ops.UpdateOrg(r.Context(), chi.URLParam(r, "slug"), upd)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if op == nil {
			writeJSON(w, http.StatusOK, org) // nothing for the engine to do
			return
		}
		w.Header().Set("Operation-Location", operationURL(op))
		writeJSON(w, http.StatusAccepted, orgAccepted{Org: org, Operation: op})
	}
}

func handleOrgDeleteOp(ops controlplane.OperationService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		org, op, err := ops.DeleteOrg(r.Context(), chi.URLParam(r, "slug"))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Operation-Location", operationURL(op))
		writeJSON(w, http.StatusAccepted, orgAccepted{Org: org, Operation: op})
	}
}

// inFlight feeds the fleet page the operations in flight.
type inFlight struct{ ops controlplane.OperationService }

func (f inFlight) OperationsInFlight(ctx context.Context) ([]web.Operation, error) {
	ops, err := f.ops.FindOperationsInFlight(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]web.Operation, len(ops))
	for i, op := range ops {
		out[i] = web.Operation{ID: op.ID, Kind: op.Kind, Stack: op.Stack, Org: op.Org, State: op.State,
			Attempt: op.Attempts, StartedAt: op.CreatedAt, Log: op.LogTail}
		if op.StartedAt != nil {
			out[i].StartedAt = *op.StartedAt
		}
	}
	return out, nil
}

// clusterCreated is a registered cluster; a shared cell with a stack comes with the
// operation that brings its stack up.
type clusterCreated struct {
	*controlplane.Cluster
	Operation *controlplane.Operation `json:"operation,omitempty"`
}

func handleClusterCreateOp(ops controlplane.OperationService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var cc controlplane.ClusterCreate
		if err := decode(w, r, &cc); err != nil {
			writeError(w, r, log, err)
			return
		}
		c, op, err := ops.CreateCell(r.Context(), cc)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Location", "/v1/clusters/"+c.ID)
		if op != nil {
			w.Header().Set("Operation-Location", operationURL(op))
		}
		writeJSON(w, http.StatusCreated, clusterCreated{Cluster: c, Operation: op})
	}
}

func handleOperationGet(ops controlplane.OperationService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, err := ops.FindOperationByID(r.Context(), chi.URLParam(r, "id"))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, op)
	}
}

func handleOperationCancel(ops controlplane.OperationService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, err := ops.CancelOperation(r.Context(), chi.URLParam(r, "id"))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		status := http.StatusAccepted // the worker is stopping the engine
		if controlplane.OpFinal(op.State) {
			status = http.StatusOK
		}
		writeJSON(w, status, op)
	}
}

type operationPage struct {
	Operations []*controlplane.Operation `json:"operations"`
	NextCursor string                    `json:"next_cursor,omitempty"`
}

func handleOrgOperations(ops controlplane.OperationService, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var v controlplane.Validation
		f := controlplane.OperationFilter{Limit: pageLimit(q, &v)}
		if c := q.Get("cursor"); c != "" {
			before, ok := decodeOpCursor(c)
			if !ok {
				v.Add("cursor", badCursor)
			}
			f.Before = before
		}
		if err := v.Err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		page, more, err := ops.FindOperations(r.Context(), chi.URLParam(r, "slug"), f)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		res := operationPage{Operations: page}
		if res.Operations == nil {
			res.Operations = []*controlplane.Operation{}
		}
		if more {
			res.NextCursor = base64.RawURLEncoding.EncodeToString([]byte("op:" + strconv.FormatInt(page[len(page)-1].Seq, 10)))
		}
		writeJSON(w, http.StatusOK, res)
	}
}

func decodeOpCursor(c string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	s, ok := strings.CutPrefix(string(b), "op:")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// logPoll is how often a follower reads what was appended. Lines live in Postgres, so a
// follower on any instance sees what any worker writes.
const logPoll = 250 * time.Millisecond

// handleOperationLog answers the operation's log as text, one line per log line. With
// follow=true it keeps the response open, writing lines as they are appended, until the
// operation has finished. With Accept: text/event-stream it answers Server-Sent Events
// (always following): each line an event whose id is its number (a reconnecting client
// resumes after Last-Event-ID), then an `end` event with the final state.
func handleOperationLog(ops controlplane.OperationService, stop <-chan struct{}, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		q := r.URL.Query()
		sse := acceptsEventStream(r)
		var v controlplane.Validation
		var after int64
		if s := q.Get("after"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				v.Add("after", "after must be a line number (0 or more)")
			}
			after = n
		} else if s := r.Header.Get("Last-Event-ID"); sse && s != "" {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
				after = n
			}
		}
		follow := sse
		if s := q.Get("follow"); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				v.Add("follow", "follow must be true or false")
			}
			follow = follow || b
		}
		if err := v.Err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		ctx := r.Context()
		lines, op, err := ops.OperationLog(ctx, id, after, 0)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if sse {
			h.Set("Content-Type", "text/event-stream")
		} else {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		}
		h.Set("X-Operation-State", op.State)
		w.WriteHeader(http.StatusOK)
		flusher, _ := w.(http.Flusher)
		keepAlive := time.Now()
		for {
			for _, l := range lines {
				if sse {
					fmt.Fprintf(w, "id: %d\ndata: %s\n\n", l.Seq, l.Line)
				} else {
					fmt.Fprintf(w, "%s\n", l.Line)
				}
				after = l.Seq
			}
			if !follow || (controlplane.OpFinal(op.State) && len(lines) == 0) {
				break
			}
			if sse && time.Since(keepAlive) > 15*time.Second {
				fmt.Fprint(w, ": keep-alive\n\n")
				keepAlive = time.Now()
			}
			if flusher != nil {
				flusher.Flush()
			}
			if len(lines) == 0 {
				select {
				case <-ctx.Done():
					return
				case <-stop:
					return
				case <-time.After(logPoll):
				}
			}
			if lines, op, err = ops.OperationLog(ctx, id, after, 0); err != nil {
				if ctx.Err() == nil {
					log.WarnContext(ctx, "following an operation log", "operation", id, "err", err)
				}
				return
			}
		}
		if sse {
			end, _ := json.Marshal(map[string]string{"state": op.State, "error": op.Error})
			fmt.Fprintf(w, "event: end\ndata: %s\n\n", end)
		}
	}
}

func acceptsEventStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
			return true
		}
	}
	return false
}
