package localcell

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Pool labels and the media taint, as the cloud cluster components set them.
const (
	PoolLabel     = "cellplane.io/pool"
	MediaTaintKey = "cellplane.io/media"
)

// nodePools is the shape of the local cell: how many kwok nodes in each pool.
var nodePools = []struct {
	pool  string
	count int
	cpu   string
	mem   string
}{
	{"system", 1, "4", "16Gi"},
	{"media", 2, "8", "16Gi"},
	// kwok nodes are simulated: room for about a hundred small orgs (1.5 CPU of requests
	// each), so that many onboardings at once (tests, benchmarks) fit.
	{"workers", 3, "64", "256Gi"},
}

type kubeParts struct {
	procs      []*Process
	client     *KubeClient
	kubeconfig string
	server     string
}

// startKube starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok,
// registers the pools' nodes and waits until every node is Ready.
func startKube(ctx context.Context, dir string, tools Tools, apiPort int, logf func(string, ...any)) (*kubeParts, error) {
	kp := &kubeParts{}
	fail := func(err error) (*kubeParts, error) {
		kp.stop()
		return nil, err
	}
	pk, err := ensurePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	tokens, err := ensureTokens(filepath.Join(dir, "pki", "tokens.csv"))
	if err != nil {
		return nil, err
	}
	etcdPort, _ := FreePort()
	etcdPeer, _ := FreePort()
	// etcd keeps its data between starts: a restarted cell still holds what was deployed
	// to it, as the control plane's database and the Pulumi state expect.
	etcdDir := filepath.Join(dir, "etcd")
	logf("starting etcd on 127.0.0.1:%d", etcdPort)
	etcd, err := startProcess("etcd", dir, tools.bin("etcd"), []string{
		"--name", "local", "--data-dir", etcdDir,
		"--listen-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--advertise-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer),
		"--initial-cluster", fmt.Sprintf("local=http://127.0.0.1:%d", etcdPeer),
		"--unsafe-no-fsync", "--log-level", "warn",
	}, nil)
	if err != nil {
		return fail(err)
	}
	kp.procs = append(kp.procs, etcd)
	err = waitFor(ctx, "etcd", 30*time.Second, etcd, func(ctx context.Context) error {
		return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/health", etcdPort))
	})
	if err != nil {
		return fail(err)
	}

	kp.server = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	logf("starting kube-apiserver on %s", kp.server)
	api, err := startProcess("kube-apiserver", dir, tools.bin("kube-apiserver"), []string{
		"--etcd-servers", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(apiPort), "--advertise-address", "127.0.0.1",
		"--tls-cert-file", pk.ServerCert, "--tls-private-key-file", pk.ServerKey,
		"--client-ca-file", pk.CACert, "--token-auth-file", tokens.file,
		"--service-account-key-file", pk.SAPub, "--service-account-signing-key-file", pk.SAKey,
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range", "10.96.0.0/16", "--authorization-mode", "Node,RBAC",
		"--allow-privileged=true", "--endpoint-reconciler-type", "none", "--v", "0",
	}, nil)
	if err != nil {
		return fail(err)
	}
	kp.procs = append(kp.procs, api)
	kp.client, err = NewKubeClient(kp.server, tokens.admin, pk.CACert)
	if err != nil {
		return fail(err)
	}
	err = waitFor(ctx, "kube-apiserver", 60*time.Second, api, func(ctx context.Context) error {
		return kp.client.Do(ctx, http.MethodGet, "/readyz", nil, nil)
	})
	if err != nil {
		return fail(err)
	}
	kp.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(kp.kubeconfig, kp.server, pk.CACert, "admin", tokens.admin); err != nil {
		return fail(err)
	}
	kcmConf := filepath.Join(dir, "pki", "controller-manager.kubeconfig")
	schedConf := filepath.Join(dir, "pki", "scheduler.kubeconfig")
	kwokConf := filepath.Join(dir, "pki", "kwok.kubeconfig")
	for _, c := range []struct{ path, user, token string }{
		{kcmConf, "system:kube-controller-manager", tokens.controllerManager},
		{schedConf, "system:kube-scheduler", tokens.scheduler},
		{kwokConf, "kwok", tokens.kwok},
	} {
		if err := writeKubeconfig(c.path, kp.server, pk.CACert, c.user, c.token); err != nil {
			return fail(err)
		}
	}

	logf("starting kube-controller-manager, kube-scheduler and kwok")
	kcm, err := startProcess("kube-controller-manager", dir, tools.bin("kube-controller-manager"), []string{
		"--kubeconfig", kcmConf, "--authentication-kubeconfig", kcmConf, "--authorization-kubeconfig", kcmConf,
		"--bind-address", "127.0.0.1", "--secure-port", "0", "--leader-elect=false",
		"--service-account-private-key-file", pk.SAKey, "--root-ca-file", pk.CACert,
		"--use-service-account-credentials=true", "--controllers", "*",
		"--concurrent-deployment-syncs", "10", "--concurrent-replicaset-syncs", "10", "--v", "0",
	}, nil)
	if err != nil {
		return fail(err)
	}
	kp.procs = append(kp.procs, kcm)
	schedPort, _ := FreePort()
	sched, err := startProcess("kube-scheduler", dir, tools.bin("kube-scheduler"), []string{
		"--kubeconfig", schedConf, "--authentication-kubeconfig", schedConf, "--authorization-kubeconfig", schedConf,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(schedPort), "--leader-elect=false", "--v", "0",
	}, nil)
	if err != nil {
		return fail(err)
	}
	kp.procs = append(kp.procs, sched)
	kwokPort, _ := FreePort()
	stages, err := joinStages(tools.kwokStages, filepath.Join(dir, "kwok-stages.yaml"))
	if err != nil {
		return fail(err)
	}
	kwok, err := startProcess("kwok", dir, tools.bin("kwok"), []string{
		"--kubeconfig", kwokConf, "--config", stages,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
		"--disregard-status-with-annotation-selector", "kwok.x-k8s.io/status=custom",
		"--cidr", "10.244.0.0/16", "--node-ip", "127.0.0.1",
		// Without node leases the node controller sees no heartbeat and marks the nodes
		// NotReady every 40s, taking every pod's readiness with them.
		"--node-lease-duration-seconds", "40",
		"--server-address", fmt.Sprintf("127.0.0.1:%d", kwokPort),
	}, nil)
	if err != nil {
		return fail(err)
	}
	kp.procs = append(kp.procs, kwok)

	if err := kp.registerNodes(ctx); err != nil {
		return fail(err)
	}
	err = waitFor(ctx, "nodes Ready", 60*time.Second, kwok, func(ctx context.Context) error {
		for _, p := range []*Process{kcm, sched} {
			if !p.Running() {
				return fatal{errors.New(p.exitReason())}
			}
		}
		return kp.nodesReady(ctx)
	})
	if err != nil {
		return fail(err)
	}
	return kp, nil
}

func (kp *kubeParts) stop() {
	for i := len(kp.procs) - 1; i >= 0; i-- {
		_ = kp.procs[i].Stop(10 * time.Second)
	}
}

// registerNodes creates the kwok nodes of every pool, labelled and tainted as the cloud
// components label and taint their node pools.
func (kp *kubeParts) registerNodes(ctx context.Context) error {
	for _, p := range nodePools {
		for i := 1; i <= p.count; i++ {
			name := fmt.Sprintf("%s-%d", p.pool, i)
			var taints []map[string]string
			if p.pool == "media" {
				taints = append(taints, map[string]string{"key": MediaTaintKey, "value": "true", "effect": "NoSchedule"})
			}
			node := map[string]any{
				"apiVersion": "v1", "kind": "Node",
				"metadata": map[string]any{
					"name":        name,
					"annotations": map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
					"labels": map[string]string{
						PoolLabel: p.pool, "type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
						"kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "local-" + p.pool,
						"topology.kubernetes.io/region": "local", "topology.kubernetes.io/zone": "local-a",
					},
				},
				"spec": map[string]any{"taints": taints},
				"status": map[string]any{
					"allocatable": map[string]string{"cpu": p.cpu, "memory": p.mem, "pods": "110"},
					"capacity":    map[string]string{"cpu": p.cpu, "memory": p.mem, "pods": "110"},
					"nodeInfo":    map[string]string{"kubeletVersion": "fake", "kubeProxyVersion": "fake", "operatingSystem": "linux", "architecture": "amd64"},
				},
			}
			err := kp.client.Do(ctx, http.MethodPost, "/api/v1/nodes", node, nil)
			if e, ok := err.(*APIError); ok && e.Code == http.StatusConflict {
				continue // registered by an earlier start of this cell
			}
			if err != nil {
				return fmt.Errorf("register node %s: %w", name, err)
			}
		}
	}
	return nil
}

func (kp *kubeParts) nodesReady(ctx context.Context) error {
	return NodesReady(ctx, kp.client)
}

// NodesReady checks that every pool has its nodes and all are Ready.
func NodesReady(ctx context.Context, k *KubeClient) error {
	var nodes List
	if err := k.Do(ctx, http.MethodGet, "/api/v1/nodes", nil, &nodes); err != nil {
		return err
	}
	want := 0
	for _, p := range nodePools {
		want += p.count
	}
	var notReady []string
	for _, n := range nodes.Items {
		var st NodeStatus
		_ = jsonUnmarshal(n.Status, &st)
		ready := false
		for _, c := range st.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				ready = true
			}
		}
		if !ready {
			notReady = append(notReady, n.Metadata.Name)
		}
	}
	if len(nodes.Items) < want || len(notReady) > 0 {
		return fmt.Errorf("%d of %d nodes registered, not Ready: %s", len(nodes.Items), want, strings.Join(notReady, ", "))
	}
	return nil
}

type tokens struct {
	file                                      string
	admin, controllerManager, scheduler, kwok string
}

// readTokens parses the static token file of the API server (token,user,uid[,groups]).
func readTokens(path string) (*tokens, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t := &tokens{file: path}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		switch f[2] {
		case "admin":
			t.admin = f[0]
		case "system:kube-controller-manager":
			t.controllerManager = f[0]
		case "system:kube-scheduler":
			t.scheduler = f[0]
		case "kwok":
			t.kwok = f[0]
		}
	}
	return t, nil
}

// ensureTokens writes the static token file of the API server, unless a complete one is
// there: an admin (system:masters), the controller manager and scheduler under their
// built-in identities, and kwok.
func ensureTokens(path string) (*tokens, error) {
	if t, err := readTokens(path); err == nil && t.admin != "" && t.controllerManager != "" && t.scheduler != "" && t.kwok != "" {
		return t, nil
	}
	t := &tokens{file: path, admin: randomToken(24), controllerManager: randomToken(24), scheduler: randomToken(24), kwok: randomToken(24)}
	content := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n%s,system:kube-controller-manager,system:kube-controller-manager\n%s,system:kube-scheduler,system:kube-scheduler\n%s,kwok,kwok,\"system:masters\"\n",
		t.admin, t.controllerManager, t.scheduler, t.kwok)
	return t, os.WriteFile(path, []byte(content), 0o600)
}

func writeKubeconfig(path, server, caFile, user, token string) error {
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: cellplane-local
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: %s
  user:
    token: %s
contexts:
- name: cellplane-local
  context:
    cluster: cellplane-local
    user: %s
current-context: cellplane-local
`, server, caFile, user, token, user)
	return os.WriteFile(path, []byte(content), 0o600)
}

// joinStages writes kwok's stage files (node initialise and heartbeat, pod ready, complete
// and delete) as one multi-document config.
func joinStages(stagesDir, out string) (string, error) {
	files, err := filepath.Glob(filepath.Join(stagesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("no kwok stages in %s; rebuild with: deploy/local/tools.sh kwok", stagesDir)
	}
	var b strings.Builder
	b.WriteString(podReadyAgainStage)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		b.WriteString("---\n")
		b.Write(data)
		b.WriteString("\n")
	}
	return out, os.WriteFile(out, []byte(b.String()), 0o644)
}

// podReadyAgainStage brings a running pod back to Ready after the node controller marked
// it unready (nodes unreachable while the cell was stopped), as a kubelet would once its
// probes pass again; kwok's own stages only make Pending pods ready.
const podReadyAgainStage = `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: cellplane-pod-ready-again
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Running']
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'In'
      values: ['False']
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: PodScheduled
`
