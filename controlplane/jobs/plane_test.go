package jobs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/app"
	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/controlplane/jobs"
	"github.com/cellplane/cellplane/controlplane/localcell"
	"github.com/cellplane/cellplane/controlplane/provision"
	"github.com/cellplane/cellplane/controlplane/secrets"
)

func TestMain(m *testing.M) { harness.Main(m) }

const adminKey = "test-admin-key-0123456789abcdef"

// cellStack is the local cell's stack, as `make dev` registers it.
const cellStack = "cell-local-local-1"

var (
	runnerOnce sync.Once
	runner     *provision.Runner
	runnerErr  error
	stateRoot  string
)

// stackRunner is the stack runner every control plane of this test binary uses: one
// backend, so the local cell's stack is brought up once and every tenant reads it.
func stackRunner(t testing.TB, cell *localcell.Running) *provision.Runner {
	t.Helper()
	runnerOnce.Do(func() {
		stateRoot = harness.StateDir(t, "pulumi")
		runner, runnerErr = provision.New(provision.Options{StateDir: stateRoot, LocalCellDir: cell.Dir})
	})
	if runnerErr != nil {
		t.Fatalf("stack runner: %v", runnerErr)
	}
	return runner
}

// plane is a control plane with provisioning workers, on a fresh database, with the
// local cell registered as the shared cluster of local/local (its cell stack up).
type plane struct {
	t       testing.TB
	URL     string
	DBURL   string
	App     *app.App
	Cell    *localcell.Running
	Kube    *localcell.KubeClient
	logFile string

	mu    sync.Mutex
	slugs []string // orgs created, whose namespaces go at the end of the test
}

type planeOpts struct {
	workers int
	prov    controlplane.Provisioner // default: the real runner
}

func newPlane(t testing.TB, o planeOpts) *plane {
	t.Helper()
	cell := harness.Cell(t)
	if o.prov == nil {
		o.prov = stackRunner(t, cell)
	}
	if o.workers == 0 {
		o.workers = 4
	}
	kube, err := localcell.AdminClient(cell.Dir)
	if err != nil {
		t.Fatal(err)
	}
	p := &plane{t: t, DBURL: harness.Postgres(t), Cell: cell, Kube: kube}
	p.logFile = filepath.Join(harness.StateDir(t, "logs"), strings.ReplaceAll(t.Name(), "/", "_")+".log")
	lf, err := os.Create(p.logFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{DatabaseURL: p.DBURL, AdminKey: adminKey, MasterKey: secrets.GenerateMasterKey(),
		Log: slog.New(slog.NewTextHandler(lf, &slog.HandlerOptions{Level: slog.LevelDebug})), JobsGrace: 30 * time.Second,
		Jobs: jobs.Config{Workers: o.workers, Provisioner: o.prov, RetryBase: time.Second, RetryMax: 5 * time.Second,
			WaitPoll: 500 * time.Millisecond, CancelPoll: 300 * time.Millisecond, ResumeEvery: 2 * time.Second}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, l) }()
	p.App, p.URL = a, "http://"+l.Addr().String()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
		lf.Close()
		if t.Failed() {
			t.Logf("control plane log: %s", p.logFile)
		}
	})
	p.registerCell()
	// The cell outlives the test: free its workers pool of this test's orgs.
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, slug := range p.slugs {
			_ = p.Kube.Do(context.Background(), "DELETE", "/api/v1/namespaces/org-"+slug, nil, nil)
		}
	})
	return p
}

// registerCell registers the local cell with its stack and waits for the cell operation.
func (p *plane) registerCell() {
	p.t.Helper()
	c := p.Cell
	s, m := p.do("POST", "/v1/clusters", adminKey, map[string]any{
		"name": cellStack, "cloud": "local", "region": "local", "kind": "shared", "api_url": p.URL,
		"livekit_url": c.LiveKitURL(), "livekit_api_key": c.APIKey, "livekit_api_secret": c.APISecret,
		"capacity": 200, "stack": cellStack,
	})
	if s != 201 || m["operation"] == nil {
		p.t.Fatalf("register the cell: %d %v", s, m)
	}
	op := p.waitOp(m["operation"].(map[string]any)["id"].(string), 5*time.Minute)
	if op.State != controlplane.OpSucceeded {
		p.t.Fatalf("cell operation %s: %s", op.State, op.Error)
	}
}

func (p *plane) do(method, path, key string, body any) (int, map[string]any) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.URL+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return res.StatusCode, m
}

// createOrg signs a tier B org up on the local cell and returns its onboard operation id.
func (p *plane) createOrg(slug, version string) string {
	p.t.Helper()
	s, m := p.do("POST", "/v1/orgs", adminKey, map[string]any{"slug": slug, "name": "Org " + slug, "tier": "shared",
		"cloud": "local", "region": "local", "version": version, "sizing": "small"})
	if s != 202 {
		p.t.Fatalf("create %s: %d %v", slug, s, m)
	}
	p.mu.Lock()
	p.slugs = append(p.slugs, slug)
	p.mu.Unlock()
	op := m["operation"].(map[string]any)
	if op["kind"] != "onboard" || op["state"] != "queued" || op["stack"] != "tenant-"+slug {
		p.t.Fatalf("onboard operation %v", op)
	}
	return op["id"].(string)
}

// patch changes an org and returns its operation id.
func (p *plane) patch(slug string, body map[string]any) string {
	p.t.Helper()
	s, m := p.do("PATCH", "/v1/orgs/"+slug, adminKey, body)
	if s != 202 {
		p.t.Fatalf("patch %s: %d %v", slug, s, m)
	}
	return m["operation"].(map[string]any)["id"].(string)
}

func (p *plane) op(id string) *controlplane.Operation {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.URL+"/v1/operations/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		p.t.Fatalf("operation %s: %d %s", id, res.StatusCode, b)
	}
	var op controlplane.Operation
	if err := json.NewDecoder(res.Body).Decode(&op); err != nil {
		p.t.Fatal(err)
	}
	return &op
}

// waitOp waits for the operation to finish.
func (p *plane) waitOp(id string, within time.Duration) *controlplane.Operation {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		op := p.op(id)
		if controlplane.OpFinal(op.State) {
			return op
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("operation %s (%s of %s) still %s after %s; log:\n%s", id, op.Kind, op.Stack, op.State, within, p.log(id))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitState waits until the operation reaches state (or fails the test when it finishes
// in another).
func (p *plane) waitState(id, state string, within time.Duration) *controlplane.Operation {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		op := p.op(id)
		if op.State == state {
			return op
		}
		if controlplane.OpFinal(op.State) || time.Now().After(deadline) {
			p.t.Fatalf("operation %s is %s, waited for %s; log:\n%s", id, op.State, state, p.log(id))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mustSucceed waits for the operation and fails the test, with its log, unless it succeeded.
func (p *plane) mustSucceed(id string) *controlplane.Operation {
	p.t.Helper()
	op := p.waitOp(id, 10*time.Minute)
	if op.State != controlplane.OpSucceeded {
		p.t.Fatalf("operation %s (%s of %s) %s: %s\nlog:\n%s", id, op.Kind, op.Stack, op.State, op.Error, p.log(id))
	}
	return op
}

// log returns an operation's whole log.
func (p *plane) log(id string) string {
	req, _ := http.NewRequest("GET", p.URL+"/v1/operations/"+id+"/log", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func (p *plane) org(slug string) map[string]any {
	p.t.Helper()
	s, m := p.do("GET", "/v1/orgs/"+slug, adminKey, nil)
	if s != 200 {
		p.t.Fatalf("org %s: %d %v", slug, s, m)
	}
	return m
}

// route reads the org's route from the router (public).
func (p *plane) route(slug string) (int, map[string]any) {
	p.t.Helper()
	return p.do("GET", "/v1/route/"+slug, "", nil)
}

func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deployment is what the tests read of a Deployment.
type deployment struct {
	Name, Image, ResourceVersion string
	Replicas, Ready              int
	NodeSelector                 map[string]string
}

func (p *plane) deployments(ns string) map[string]deployment {
	p.t.Helper()
	var list struct {
		Items []struct {
			Metadata struct {
				Name            string `json:"name"`
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
			Spec struct {
				Replicas int `json:"replicas"`
				Template struct {
					Spec struct {
						NodeSelector map[string]string `json:"nodeSelector"`
						Containers   []struct {
							Image string `json:"image"`
						} `json:"containers"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
			Status struct {
				ReadyReplicas int `json:"readyReplicas"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := p.Kube.Do(context.Background(), "GET", "/apis/apps/v1/namespaces/"+ns+"/deployments", nil, &list); err != nil {
		p.t.Fatal(err)
	}
	out := map[string]deployment{}
	for _, d := range list.Items {
		dep := deployment{Name: d.Metadata.Name, ResourceVersion: d.Metadata.ResourceVersion, Replicas: d.Spec.Replicas,
			Ready: d.Status.ReadyReplicas, NodeSelector: d.Spec.Template.Spec.NodeSelector}
		if len(d.Spec.Template.Spec.Containers) > 0 {
			dep.Image = d.Spec.Template.Spec.Containers[0].Image
		}
		out[d.Metadata.Name] = dep
	}
	return out
}

// namespaces returns the namespaces labelled for the org.
func (p *plane) namespaces(slug string) []localcell.Object {
	p.t.Helper()
	var list localcell.List
	if err := p.Kube.Do(context.Background(), "GET", "/api/v1/namespaces?labelSelector=cellplane.io%2Forg%3D"+slug, nil, &list); err != nil {
		p.t.Fatal(err)
	}
	var live []localcell.Object
	for _, ns := range list.Items {
		if ns.Metadata.DeletionTime == nil {
			live = append(live, ns)
		}
	}
	return live
}

// objectsIn counts the objects of a kind in a namespace (api: "/api/v1" or "/apis/apps/v1").
func (p *plane) objectsIn(api, ns, kind string) int {
	p.t.Helper()
	var list localcell.List
	err := p.Kube.Do(context.Background(), "GET", api+"/namespaces/"+ns+"/"+kind, nil, &list)
	if localcell.IsNotFound(err) {
		return 0
	} else if err != nil {
		p.t.Fatal(err)
	}
	return len(list.Items)
}

// checkRelease asserts the org's release: its namespace, and the sim-engine and agent
// Deployments at version, on the workers pool, ready.
func (p *plane) checkRelease(slug, version string) map[string]deployment {
	p.t.Helper()
	if ns := p.namespaces(slug); len(ns) != 1 || ns[0].Metadata.Name != "org-"+slug {
		p.t.Fatalf("namespaces of %s: %v", slug, ns)
	}
	var deps map[string]deployment
	eventually(p.t, 2*time.Minute, slug+" Deployments ready", func() bool {
		deps = p.deployments("org-" + slug)
		if len(deps) != 2 {
			return false
		}
		for _, d := range deps {
			if d.Ready < d.Replicas {
				return false
			}
		}
		return true
	})
	for name, d := range deps {
		if !strings.HasSuffix(d.Image, ":"+version) || d.NodeSelector[localcell.PoolLabel] != "workers" || d.Replicas < 1 {
			p.t.Fatalf("%s/%s: image %s, nodeSelector %v, replicas %d (want version %s on workers)", slug, name, d.Image, d.NodeSelector, d.Replicas, version)
		}
	}
	return deps
}

// followLog reads the operation's log as Server-Sent Events until the end event.
func (p *plane) followLog(id string) (lines []string, end map[string]string, err error) {
	req, _ := http.NewRequest("GET", p.URL+"/v1/operations/"+id+"/log", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
		return nil, nil, fmt.Errorf("log: %d %s", res.StatusCode, ct)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "end":
			_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &end)
			return lines, end, nil
		case strings.HasPrefix(line, "data: "):
			lines = append(lines, strings.TrimPrefix(line, "data: "))
		case line == "":
			event = ""
		}
	}
	return lines, end, fmt.Errorf("the stream ended without an end event: %v", sc.Err())
}
