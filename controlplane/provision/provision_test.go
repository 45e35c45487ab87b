package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/redis/go-redis/v9"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/tenant"
	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/controlplane/localcell"
	"github.com/cellplane/cellplane/infra/spec"
)

func TestMain(m *testing.M) { harness.Main(m) }

var (
	setupOnce sync.Once
	runner    *Runner
	stacksDir string
	setupErr  error
)

// setup starts (once per test binary) the local cell, a runner on a state directory beside
// it, and brings the cell stack up. Every test shares them: one cell, one backend.
func setup(t testing.TB) (*localcell.Running, *Runner, string) {
	t.Helper()
	cell := harness.Cell(t)
	setupOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			setupErr = err
			return
		}
		stacksDir = filepath.Join(root, "stacks")
		runner, setupErr = New(Options{StateDir: cell.Dir + "-provision", LocalCellDir: cell.Dir})
		if setupErr != nil {
			return
		}
		cfg, err := LoadStackConfig(stacksDir, "cell-local-local-1")
		if err != nil {
			setupErr = err
			return
		}
		var log strings.Builder
		res, err := runner.Up(context.Background(), controlplane.StackRun{Stack: "cell-local-local-1", Config: cfg, Log: &log})
		if err != nil {
			setupErr = fmt.Errorf("up cell-local-local-1: %w\n%s", err, tail(log.String(), 60))
			return
		}
		if got := res.Outputs["livekitUrl"].Value; got != cell.LiveKitURL() {
			setupErr = fmt.Errorf("cell livekitUrl = %v, want %s", got, cell.LiveKitURL())
		}
		if api := res.Outputs["apiUrl"]; api.Value != cell.APIServer || api.Secret {
			setupErr = fmt.Errorf("cell apiUrl = %+v, want %s in clear", api, cell.APIServer)
			return
		}
		if !res.Outputs["kubeconfig"].Secret || !res.Outputs["redisAuth"].Secret || !res.Outputs["livekitApiSecret"].Secret {
			setupErr = errors.New("the cell's kubeconfig, Redis auth and LiveKit secret must be secret outputs")
		}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return cell, runner, stacksDir
}

// up runs `up` on a stack of stacks/, with config overrides.
func up(t testing.TB, r *Runner, stacks, stack string, override map[string]string) *controlplane.StackResult {
	t.Helper()
	res, err := tryUp(r, stacks, stack, override)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func tryUp(r *Runner, stacks, stack string, override map[string]string) (*controlplane.StackResult, error) {
	cfg, err := LoadStackConfig(stacks, stack)
	if err != nil {
		return nil, err
	}
	maps.Copy(cfg, override)
	var log strings.Builder
	res, err := r.Up(context.Background(), controlplane.StackRun{Stack: stack, Config: cfg, Log: &log})
	if err != nil {
		return nil, fmt.Errorf("up %s: %w\n%s", stack, err, tail(log.String(), 60))
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "up %s %v: %v\n", stack, override, res.Summary)
	}
	return res, nil
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The whole ladder on the real engine and the local cell's real Kubernetes API: the cell
// stack, two tenants on different versions, an upgrade of one, a no-op, a destroy.
func TestLocalCellAndTwoTenantsForReal(t *testing.T) {
	cell, r, stacks := setup(t)
	ctx := context.Background()
	k := cell.Kube

	// Two tenants at once: each stack has its own workspace.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []string{"tenant-local-alpha", "tenant-local-beta"} {
		wg.Go(func() { _, errs[i] = tryUp(r, stacks, s, nil) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	pools := nodePools(t, k)

	for _, ns := range []string{"media", "workers", "observability", "org-local-alpha", "org-local-beta"} {
		assertDefaultDeny(t, k, ns)
	}
	for org, version := range map[string]string{"local-alpha": "1.4.5", "local-beta": "1.4.9"} {
		ns := tenant.Namespace(org)
		assertQuotaAndRBAC(t, k, ns, tenant.Sizes[spec.Small])
		assertWorkloads(t, k, ns, version, pools)
	}
	// The media plane is recorded, not deployed: the ConfigMap names both livekit-server nodes.
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := k.Do(ctx, "GET", "/api/v1/namespaces/media/configmaps/livekit-nodes", nil, &cm); err != nil {
		t.Fatal(err)
	}
	for _, n := range cell.LiveKit {
		if !strings.Contains(cm.Data["nodes.json"], n.URL) {
			t.Errorf("livekit node %s not recorded: %s", n.URL, cm.Data["nodes.json"])
		}
	}

	// Grafana's dashboards are loaded as labelled ConfigMaps.
	var dash struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Data map[string]string `json:"data"`
	}
	if err := k.Do(ctx, "GET", "/api/v1/namespaces/observability/configmaps/dashboard-livekit", nil, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.Metadata.Labels["grafana_dashboard"] != "1" || !strings.Contains(dash.Data["livekit.json"], "livekit_") {
		t.Errorf("dashboard ConfigMap: labels %v", dash.Metadata.Labels)
	}

	// Redis ACL users: each org reaches its own prefix and nothing else.
	assertRedisACL(t, cell, "local-alpha", "local-beta")

	// Upgrade alpha: only alpha's Deployments roll; nothing of beta changes.
	betaBefore := resourceVersions(t, k, "org-local-beta")
	alphaBefore := resourceVersions(t, k, "org-local-alpha")
	res := up(t, r, stacks, "tenant-local-alpha", map[string]string{"cellplane:version": "1.4.6"})
	if res.Summary["update"] == 0 {
		t.Errorf("upgrade summary %v: want the release updated", res.Summary)
	}
	assertWorkloads(t, k, "org-local-alpha", "1.4.6", pools)
	assertWorkloads(t, k, "org-local-beta", "1.4.9", pools)
	if after := resourceVersions(t, k, "org-local-beta"); !maps.Equal(after, betaBefore) {
		t.Errorf("beta's objects changed on alpha's upgrade:\nbefore %v\nafter  %v", betaBefore, after)
	}
	alphaAfter := resourceVersions(t, k, "org-local-alpha")
	for _, d := range []string{"Deployment/sim-engine", "Deployment/agent-worker"} {
		if alphaAfter[d] == alphaBefore[d] {
			t.Errorf("alpha's %s did not roll", d)
		}
	}
	for obj, rv := range alphaBefore {
		if strings.HasPrefix(obj, "ResourceQuota/") || strings.HasPrefix(obj, "NetworkPolicy/") || strings.HasPrefix(obj, "Role") {
			if alphaAfter[obj] != rv {
				t.Errorf("alpha's %s changed on a version upgrade", obj)
			}
		}
	}

	// A second up with no change is a no-op.
	res = up(t, r, stacks, "tenant-local-alpha", map[string]string{"cellplane:version": "1.4.6"})
	for op, n := range res.Summary {
		if op != "same" && n > 0 {
			t.Errorf("no-op up changed things: %v", res.Summary)
		}
	}
	if after := resourceVersions(t, k, "org-local-alpha"); !maps.Equal(after, alphaAfter) {
		t.Errorf("a no-op up touched alpha's objects")
	}

	// Destroy leaves nothing of the tenant: no namespace, no Redis user. Beta is untouched.
	cfg, _ := LoadStackConfig(stacks, "tenant-local-alpha")
	var log strings.Builder
	if _, err := r.Destroy(ctx, controlplane.StackRun{Stack: "tenant-local-alpha", Config: cfg, Log: &log}); err != nil {
		t.Fatalf("destroy: %v\n%s", err, tail(log.String(), 40))
	}
	if err := k.Do(ctx, "GET", "/api/v1/namespaces/org-local-alpha", nil, nil); !localcell.IsNotFound(err) {
		t.Errorf("namespace org-local-alpha after destroy: %v", err)
	}
	admin := redis.NewClient(&redis.Options{Addr: cell.Redis.Addr, Password: cell.Redis.Password})
	defer admin.Close()
	if users, err := admin.Do(ctx, "ACL", "USERS").StringSlice(); err != nil || slices.Contains(users, "org-local-alpha") || !slices.Contains(users, "org-local-beta") {
		t.Errorf("ACL users after destroying alpha: %v %v", users, err)
	}
	if after := resourceVersions(t, k, "org-local-beta"); !maps.Equal(after, betaBefore) {
		t.Error("destroying alpha changed beta")
	}
	// Destroying a stack that no longer exists is a no-op.
	if _, err := r.Destroy(ctx, controlplane.StackRun{Stack: "tenant-local-alpha", Config: cfg}); err != nil {
		t.Errorf("second destroy: %v", err)
	}
}

// A tenant whose cell stack was never brought up fails clearly, registering nothing.
func TestTenantOfAMissingCellFails(t *testing.T) {
	_, r, stacks := setup(t)
	cfg, _ := LoadStackConfig(stacks, "tenant-local-beta")
	cfg["cellplane:cell"] = "cell-local-local-9"
	var log strings.Builder
	_, err := r.Up(context.Background(), controlplane.StackRun{Stack: "tenant-local-nowhere", Config: cfg, Log: &log})
	if err == nil || !strings.Contains(log.String()+err.Error(), "cell-local-local-9") {
		t.Fatalf("err = %v\n%s", err, tail(log.String(), 20))
	}
}

// Bad config fails before the engine touches anything, naming the key.
func TestBadConfigFailsTheUpBeforeAnyResource(t *testing.T) {
	_, r, stacks := setup(t)
	cfg, _ := LoadStackConfig(stacks, "tenant-local-beta")
	cfg["cellplane:sizing"] = "gigantic"
	var log strings.Builder
	_, err := r.Up(context.Background(), controlplane.StackRun{Stack: "tenant-local-bad", Config: cfg, Log: &log})
	if err == nil || !strings.Contains(err.Error()+log.String(), `cellplane:sizing = "gigantic"`) {
		t.Fatalf("err = %v\n%s", err, tail(log.String(), 20))
	}
	outs, err := r.Outputs(context.Background(), controlplane.StackRun{Stack: "tenant-local-bad", Config: cfg})
	if err != nil || len(outs) != 0 {
		t.Errorf("outputs after a failed config: %v %v", outs, err)
	}
}

func TestLoadStackConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(stack, body string) {
		if err := os.WriteFile(filepath.Join(dir, "Pulumi."+stack+".yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("org-acme", "config:\n  cellplane:role: org\n  sizing: large\n  cellplane:allowedCidrs: [10.0.0.0/8, 192.168.0.0/16]\n  cellplane:privateEndpoint: false\n")
	cfg, err := LoadStackConfig(dir, "org-acme")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cellplane:role": "org", "cellplane:sizing": "large",
		"cellplane:allowedCidrs": `["10.0.0.0/8","192.168.0.0/16"]`, "cellplane:privateEndpoint": "false"}
	if !maps.Equal(cfg, want) {
		t.Errorf("config = %v", cfg)
	}
	write("org-secret", "config:\n  cellplane:livekitApiSecret:\n    secure: AAABAJ==\n")
	if _, err := LoadStackConfig(dir, "org-secret"); err == nil || !strings.Contains(err.Error(), "cellplane:livekitApiSecret") {
		t.Errorf("secure value accepted: %v", err)
	}
	if _, err := LoadStackConfig(dir, "org-none"); err == nil || !strings.Contains(err.Error(), `no stack "org-none"`) {
		t.Errorf("missing stack: %v", err)
	}
	if _, err := LoadStackConfig(dir, "../etc"); err == nil {
		t.Error("a stack name with a path was accepted")
	}
}

type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name            string            `json:"name"`
		Namespace       string            `json:"namespace"`
		ResourceVersion string            `json:"resourceVersion"`
		Labels          map[string]string `json:"labels"`
		OwnerReferences []any             `json:"ownerReferences"`
	} `json:"metadata"`
}

type list[T any] struct {
	Items []T `json:"items"`
}

func nodePools(t *testing.T, k *localcell.KubeClient) map[string]string {
	t.Helper()
	var nodes list[object]
	if err := k.Do(context.Background(), "GET", "/api/v1/nodes", nil, &nodes); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range nodes.Items {
		out[n.Metadata.Name] = n.Metadata.Labels[cluster.PoolLabel]
	}
	return out
}

func assertDefaultDeny(t *testing.T, k *localcell.KubeClient, ns string) {
	t.Helper()
	var p struct {
		Spec struct {
			PodSelector map[string]any   `json:"podSelector"`
			PolicyTypes []string         `json:"policyTypes"`
			Ingress     []map[string]any `json:"ingress"`
			Egress      []map[string]any `json:"egress"`
		} `json:"spec"`
	}
	if err := k.Do(context.Background(), "GET", "/apis/networking.k8s.io/v1/namespaces/"+ns+"/networkpolicies/default-deny", nil, &p); err != nil {
		t.Errorf("namespace %s: %v", ns, err)
		return
	}
	if len(p.Spec.PodSelector) != 0 || !slices.Equal(p.Spec.PolicyTypes, []string{"Ingress", "Egress"}) || len(p.Spec.Ingress)+len(p.Spec.Egress) != 0 {
		t.Errorf("namespace %s: default-deny is %+v", ns, p.Spec)
	}
}

func assertQuotaAndRBAC(t *testing.T, k *localcell.KubeClient, ns string, size tenant.Size) {
	t.Helper()
	ctx := context.Background()
	var q struct {
		Spec struct {
			Hard map[string]string `json:"hard"`
		} `json:"spec"`
	}
	if err := k.Do(ctx, "GET", "/api/v1/namespaces/"+ns+"/resourcequotas/"+tenant.QuotaName, nil, &q); err != nil {
		t.Fatalf("%s quota: %v", ns, err)
	}
	if q.Spec.Hard["requests.cpu"] != size.RequestsCPU || q.Spec.Hard["limits.memory"] != size.LimitsMemory || q.Spec.Hard["pods"] != fmt.Sprint(size.Pods) {
		t.Errorf("%s quota %v", ns, q.Spec.Hard)
	}
	for _, path := range []string{
		"/api/v1/namespaces/" + ns + "/limitranges/" + tenant.LimitRangeName,
		"/api/v1/namespaces/" + ns + "/serviceaccounts/" + tenant.ServiceAccount,
		"/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/roles/" + tenant.ServiceAccount,
		"/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/rolebindings/" + tenant.ServiceAccount,
		"/api/v1/namespaces/" + ns + "/secrets/" + tenant.LiveKitSecret,
		"/api/v1/namespaces/" + ns + "/secrets/" + tenant.RedisSecret,
	} {
		if err := k.Do(ctx, "GET", path, nil, nil); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	// The org's service account may read its own credentials and no other secret.
	review := func(name string) bool {
		var out struct {
			Status struct {
				Allowed bool `json:"allowed"`
			} `json:"status"`
		}
		body := map[string]any{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": map[string]any{
			"user": "system:serviceaccount:" + ns + ":" + tenant.ServiceAccount, "groups": []string{"system:serviceaccounts", "system:serviceaccounts:" + ns},
			"resourceAttributes": map[string]any{"namespace": ns, "verb": "get", "resource": "secrets", "name": name}}}
		if err := k.Do(ctx, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body, &out); err != nil {
			t.Fatal(err)
		}
		return out.Status.Allowed
	}
	if !review(tenant.RedisSecret) || review("sh.helm.release.v1.sim-platform.v1") {
		t.Errorf("%s: the service account's access to secrets is not limited to its own credentials", ns)
	}
}

// assertWorkloads checks the org's Deployments: at version, on the workers pool, hardened,
// the long grace period, and every pod Running on a workers node.
func assertWorkloads(t *testing.T, k *localcell.KubeClient, ns, version string, pools map[string]string) {
	t.Helper()
	ctx := context.Background()
	type podSpec struct {
		NodeSelector                  map[string]string `json:"nodeSelector"`
		NodeName                      string            `json:"nodeName"`
		TerminationGracePeriodSeconds int               `json:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot bool `json:"runAsNonRoot"`
		} `json:"securityContext"`
		Containers []struct {
			Image           string `json:"image"`
			SecurityContext struct {
				ReadOnlyRootFilesystem   bool `json:"readOnlyRootFilesystem"`
				AllowPrivilegeEscalation bool `json:"allowPrivilegeEscalation"`
			} `json:"securityContext"`
		} `json:"containers"`
	}
	var deps list[struct {
		object
		Spec struct {
			Template struct {
				Spec podSpec `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
		Status struct {
			ReadyReplicas int `json:"readyReplicas"`
			Replicas      int `json:"replicas"`
		} `json:"status"`
	}]
	if err := k.Do(ctx, "GET", "/apis/apps/v1/namespaces/"+ns+"/deployments", nil, &deps); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range deps.Items {
		names = append(names, d.Metadata.Name)
		s := d.Spec.Template.Spec
		if s.NodeSelector[cluster.PoolLabel] != cluster.PoolWorkers {
			t.Errorf("%s/%s nodeSelector %v", ns, d.Metadata.Name, s.NodeSelector)
		}
		if s.TerminationGracePeriodSeconds != tenant.GracePeriod || !s.SecurityContext.RunAsNonRoot {
			t.Errorf("%s/%s grace %d runAsNonRoot %v", ns, d.Metadata.Name, s.TerminationGracePeriodSeconds, s.SecurityContext.RunAsNonRoot)
		}
		for _, c := range s.Containers {
			if !strings.HasSuffix(c.Image, ":"+version) || !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation {
				t.Errorf("%s/%s container %s (read-only root %v)", ns, d.Metadata.Name, c.Image, c.SecurityContext.ReadOnlyRootFilesystem)
			}
		}
		if d.Status.ReadyReplicas < 2 {
			t.Errorf("%s/%s ready %d", ns, d.Metadata.Name, d.Status.ReadyReplicas)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"agent-worker", "sim-engine"}) {
		t.Errorf("%s deployments %v", ns, names)
	}
	// Pods of the current version are Running on workers nodes (old ones may still drain).
	deadline := time.Now().Add(60 * time.Second)
	for {
		var pods list[struct {
			object
			Spec   podSpec `json:"spec"`
			Status struct {
				Phase string `json:"phase"`
			} `json:"status"`
		}]
		if err := k.Do(ctx, "GET", "/api/v1/namespaces/"+ns+"/pods", nil, &pods); err != nil {
			t.Fatal(err)
		}
		running, problems := 0, []string{}
		for _, p := range pods.Items {
			if p.Metadata.Labels["app.kubernetes.io/version"] != version {
				continue
			}
			if p.Status.Phase == "Running" && pools[p.Spec.NodeName] == cluster.PoolWorkers {
				running++
			} else {
				problems = append(problems, fmt.Sprintf("%s %s on %s (%s)", p.Metadata.Name, p.Status.Phase, p.Spec.NodeName, pools[p.Spec.NodeName]))
			}
		}
		if running >= 4 && len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %d pods of %s Running on workers; others: %v", ns, running, version, problems)
			return
		}
		time.Sleep(time.Second)
	}
}

// resourceVersions maps every object the program manages in ns ("Kind/name") to its
// resourceVersion.
func resourceVersions(t *testing.T, k *localcell.KubeClient, ns string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for kind, path := range map[string]string{
		"Namespace":      "/api/v1/namespaces?fieldSelector=metadata.name=" + ns,
		"Deployment":     "/apis/apps/v1/namespaces/" + ns + "/deployments",
		"ResourceQuota":  "/api/v1/namespaces/" + ns + "/resourcequotas",
		"LimitRange":     "/api/v1/namespaces/" + ns + "/limitranges",
		"NetworkPolicy":  "/apis/networking.k8s.io/v1/namespaces/" + ns + "/networkpolicies",
		"Role":           "/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/roles",
		"RoleBinding":    "/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/rolebindings",
		"ServiceAccount": "/api/v1/namespaces/" + ns + "/serviceaccounts",
		"Service":        "/api/v1/namespaces/" + ns + "/services",
		"HPA":            "/apis/autoscaling/v2/namespaces/" + ns + "/horizontalpodautoscalers",
		"PDB":            "/apis/policy/v1/namespaces/" + ns + "/poddisruptionbudgets",
		"Secret":         "/api/v1/namespaces/" + ns + "/secrets",
	} {
		var l list[object]
		if err := k.Do(context.Background(), "GET", path, nil, &l); err != nil {
			t.Fatal(err)
		}
		for _, o := range l.Items {
			// Status-only writers (the HPA controller, quota usage) are not the program's doing.
			if kind == "HPA" || kind == "ResourceQuota" || kind == "PDB" {
				continue
			}
			out[kind+"/"+o.Metadata.Name] = o.Metadata.ResourceVersion
		}
	}
	return out
}

func assertRedisACL(t *testing.T, cell *localcell.Running, org, other string) {
	t.Helper()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: cell.Redis.Addr, Username: tenant.Namespace(org), Password: tenant.DerivePassword(cell.Redis.Password, org)})
	defer c.Close()
	if err := c.Set(ctx, tenant.KeyPrefix(org)+"session:1", "x", time.Minute).Err(); err != nil {
		t.Fatalf("org %s cannot write its own prefix: %v", org, err)
	}
	err := c.Set(ctx, tenant.KeyPrefix(other)+"session:1", "x", time.Minute).Err()
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("org %s wrote into %s's prefix: %v", org, other, err)
	}
	if err := c.Do(ctx, "FLUSHALL").Err(); err == nil {
		t.Errorf("org %s may FLUSHALL", org)
	}
	if err := c.Get(ctx, "livekit:rooms").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("org %s read LiveKit's keys: %v", org, err)
	}
}

// Benchmark: a tenant's first up on the local cell (wall and engine time), and a no-op up
// as a ratio of it.
func BenchmarkTenantUp(b *testing.B) {
	_, r, stacks := setup(b)
	var mu sync.Mutex
	engine := map[string]time.Duration{}
	r.o.Timings = func(stack string, op Op, d time.Duration) {
		mu.Lock()
		engine[stack] = d
		mu.Unlock()
	}
	for i := 0; i < b.N; i++ {
		stack := fmt.Sprintf("tenant-bench-%d", i)
		cfg, err := LoadStackConfig(stacks, "tenant-local-beta")
		if err != nil {
			b.Fatal(err)
		}
		cfg["cellplane:org"] = fmt.Sprintf("bench-%d", i)
		run := controlplane.StackRun{Stack: stack, Config: cfg}
		start := time.Now()
		if _, err := r.Up(context.Background(), run); err != nil {
			b.Fatal(err)
		}
		first := time.Since(start)
		firstEngine := engine[stack]
		start = time.Now()
		res, err := r.Up(context.Background(), run)
		if err != nil {
			b.Fatal(err)
		}
		noop := time.Since(start)
		if res.Summary["create"]+res.Summary["update"] != 0 {
			b.Errorf("second up was not a no-op: %v", res.Summary)
		}
		b.ReportMetric(first.Seconds(), "first-up-s")
		b.ReportMetric(firstEngine.Seconds(), "first-up-engine-s")
		b.ReportMetric(noop.Seconds(), "noop-up-s")
		b.ReportMetric(noop.Seconds()/first.Seconds(), "noop/first")
		b.StopTimer()
		if _, err := r.Destroy(context.Background(), run); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// A run that died mid-create leaves a lock and a pending create behind; the next up
// recovers: the lock goes, a refresh settles the pending create, and the object that had
// been created in the cluster is adopted rather than created twice.
func TestUpRecoversFromAnInterruptedRun(t *testing.T) {
	cell, r, stacks := setup(t)
	ctx := context.Background()
	cfg, err := LoadStackConfig(stacks, "tenant-local-beta")
	if err != nil {
		t.Fatal(err)
	}
	cfg["cellplane:org"] = "local-gamma"
	run := controlplane.StackRun{Stack: "tenant-local-gamma", Config: cfg}
	if _, err := r.Up(ctx, run); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = r.Destroy(context.Background(), run) })

	// Rewrite the state as a crash would have left it: the allow-otlp policy's create was in
	// flight (the object exists in the cluster, the state records only the pending create).
	// `stack import` clears pending operations, so the backend's state file is edited.
	var stateFile string
	backendDir := strings.TrimPrefix(r.Backend(), "file://")
	_ = filepath.WalkDir(backendDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == run.Stack+".json" && strings.Contains(p, string(filepath.Separator)+"stacks"+string(filepath.Separator)) {
			stateFile = p
		}
		return nil
	})
	raw, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	latest := file["checkpoint"].(map[string]any)["latest"].(map[string]any)
	var kept, pending []any
	for _, res := range latest["resources"].([]any) {
		if u, _ := res.(map[string]any)["urn"].(string); strings.HasSuffix(u, "::local-gamma-release-allow-otlp") {
			pending = append(pending, map[string]any{"resource": res, "type": "creating"})
			continue
		}
		kept = append(kept, res)
	}
	if len(pending) != 1 {
		t.Fatalf("allow-otlp not found in the state")
	}
	latest["resources"], latest["pending_operations"] = kept, pending
	raw, _ = json.Marshal(file)
	if err := os.WriteFile(stateFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ws, err := r.workspace(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	st, err := auto.SelectStack(ctx, run.Stack, ws)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := pendingOperations(ctx, st); n != 1 || err != nil {
		t.Fatalf("the crafted state has %d pending operations (%v)", n, err)
	}
	lockDir := filepath.Join(strings.TrimPrefix(r.Backend(), "file://"), ".pulumi", "locks", "organization", "cellplane", run.Stack)
	if err := os.MkdirAll(lockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(lockDir, "0b9d6c1e-dead-4bad-8bad-000000000000.json")
	if err := os.WriteFile(lock, []byte(`{"pid":999999,"username":"root","hostname":"gone","timestamp":"2026-01-01T00:00:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}

	var log strings.Builder
	run.Log = &log
	res, err := r.Up(ctx, run)
	if err != nil {
		t.Fatalf("up after the crash: %v\n%s", err, tail(log.String(), 40))
	}
	for _, want := range []string{"stale lock", "operations pending"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("recovery did not report %q:\n%s", want, tail(log.String(), 40))
		}
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Errorf("stale lock still there: %v", err)
	}
	// The lost policy is in the state again (adopted by the up, or imported by the recovery),
	// and nothing else was created or replaced.
	if res.Summary["create"] > 1 || res.Summary["replace"] > 0 || res.Summary["delete"] > 0 {
		t.Errorf("summary %v", res.Summary)
	}
	after, err := st.Export(ctx)
	if err != nil || !strings.Contains(string(after.Deployment), "::local-gamma-release-allow-otlp") {
		t.Errorf("the interrupted create is not in the state after recovery (%v)", err)
	}
	if n, err := pendingOperations(ctx, st); err != nil || n != 0 {
		t.Errorf("%d operations still pending (%v)", n, err)
	}
	if err := cell.Kube.Do(ctx, "GET", "/apis/networking.k8s.io/v1/namespaces/org-local-gamma/networkpolicies/allow-otlp", nil, nil); err != nil {
		t.Error(err)
	}
}
