package program

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/mocktest"
	"github.com/cellplane/cellplane/components/tenant"
	"github.com/cellplane/cellplane/controlplane/localcell"
	"github.com/cellplane/cellplane/infra/spec"
)

const (
	tNS       = "kubernetes:core/v1:Namespace"
	tNetpol   = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	tRelease  = "kubernetes:helm.sh/v3:Release"
	tQuota    = "kubernetes:core/v1:ResourceQuota"
	tLimits   = "kubernetes:core/v1:LimitRange"
	tSA       = "kubernetes:core/v1:ServiceAccount"
	tRole     = "kubernetes:rbac.authorization.k8s.io/v1:Role"
	tBinding  = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
	tSecret   = "kubernetes:core/v1:Secret"
	tProvider = "pulumi:providers:kubernetes"
	tStackRef = "pulumi:pulumi:StackReference"
)

// recorder is a mock monitor that records every resource and answers StackReference reads
// with the outputs of the referenced stacks.
type recorder struct {
	mu        sync.Mutex
	resources []mocktest.Resource
	stacks    map[string]map[string]any // stack reference name -> outputs
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	res := mocktest.Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Provider: args.Provider, Inputs: args.Inputs}
	if rpc := args.RegisterRPC; rpc != nil {
		res.Parent = rpc.GetParent()
		res.DependsOn = rpc.GetDependencies()
	}
	r.mu.Lock()
	r.resources = append(r.resources, res)
	r.mu.Unlock()
	if args.TypeToken == tStackRef {
		name := mocktest.Str(args.Inputs, "name")
		outs, ok := r.stacks[name]
		if !ok {
			return "", nil, fmt.Errorf("unknown stack %q", name)
		}
		// The engine hands a stack's secret outputs over as secrets.
		props := mocktest.Props(outs)
		for _, k := range []string{OutKubeconfig, OutRedisAuth, OutLiveKitAPISecret} {
			props[resource.PropertyKey(k)] = resource.MakeSecret(props[resource.PropertyKey(k)])
		}
		return name, resource.PropertyMap{"name": resource.NewStringProperty(name), "outputs": resource.NewObjectProperty(props)}, nil
	}
	return args.Name + "-id", args.Inputs, nil
}

func (r *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// registered returns the resources the program registered (the stack itself aside).
func (r *recorder) registered() []mocktest.Resource {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []mocktest.Resource
	for _, res := range r.resources {
		if res.Type != "pulumi:pulumi:Stack" {
			out = append(out, res)
		}
	}
	return out
}

func (r *recorder) ofType(token string) []mocktest.Resource {
	var out []mocktest.Resource
	for _, res := range r.registered() {
		if res.Type == token {
			out = append(out, res)
		}
	}
	return out
}

func (r *recorder) one(t *testing.T, token, suffix string) mocktest.Resource {
	t.Helper()
	var found []mocktest.Resource
	for _, res := range r.ofType(token) {
		if strings.HasSuffix(res.Name, suffix) {
			found = append(found, res)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s *%s, found %d", token, suffix, len(found))
	}
	return found[0]
}

// run runs program.Run under mocks with cfg (keys without the "cellplane:" prefix).
func run(t *testing.T, stack string, cfg map[string]string, stacks map[string]map[string]any) (*recorder, error) {
	t.Helper()
	full := map[string]string{}
	for k, v := range cfg {
		full[ns+k] = v
	}
	b, _ := json.Marshal(full)
	t.Setenv("PULUMI_CONFIG", string(b))
	t.Setenv("CELLPLANE_LOCAL_CELL", "")
	rec := &recorder{stacks: stacks}
	err := pulumi.RunErr(Run, pulumi.WithMocksWithOrganization("organization", "cellplane", stack, rec))
	return rec, err
}

// fakeCell writes a local cell description (as `cellplane local up` does) into a temp dir.
func fakeCell(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	kc := filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := localcell.Cell{Dir: dir, Kubeconfig: kc, APIServer: "https://127.0.0.1:6443",
		Redis:  localcell.Redis{Addr: "127.0.0.1:6390", Password: "cell-redis-password"},
		APIKey: "devkey", APISecret: strings.Repeat("s", 40),
		LiveKit: []localcell.LiveKitNode{
			{Name: "livekit-1", URL: "http://127.0.0.1:7880", Port: 7880, RTCPortStart: 40000, RTCPortEnd: 40099, PrometheusPort: 6789},
			{Name: "livekit-2", URL: "http://127.0.0.1:7890", Port: 7890, RTCPortStart: 40100, RTCPortEnd: 40199, PrometheusPort: 6790},
		}}
	b, _ := json.Marshal(c)
	if err := os.WriteFile(localcell.DescriptionFile(dir), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBadConfigNamesKeyValueAndAllowedAndRegistersNothing(t *testing.T) {
	cell := fakeCell(t)
	secret := strings.Repeat("k", 40)
	cases := []struct {
		name string
		cfg  map[string]string
		want []string
	}{
		{"unknown cloud", map[string]string{"role": "cell", "cloud": "mars", "region": "x"},
			[]string{`cellplane:cloud = "mars"`, "allowed: aws, gcp, azure, local"}},
		{"region of another cloud", map[string]string{"role": "org", "org": "acme", "cloud": "aws", "region": "europe-west3", "version": "1.4.5", "livekitApiSecret": secret},
			[]string{`cellplane:region = "europe-west3"`, "not a aws region", "us-east-1", "eu-central-1"}},
		{"version not semver", map[string]string{"role": "tenant", "org": "acme", "cloud": "local", "version": "1.4", "cell": "cell-local-local-1"},
			[]string{`cellplane:version = "1.4"`, "MAJOR.MINOR.PATCH"}},
		{"tenant without its cell", map[string]string{"role": "tenant", "org": "acme", "cloud": "local", "version": "1.4.5"},
			[]string{`cellplane:cell = ""`, "required for role tenant"}},
		{"sizing out of range", map[string]string{"role": "cell", "cloud": "local", "sizing": "xxl", "localCellDir": cell},
			[]string{`cellplane:sizing = "xxl"`, "allowed: small, medium, large"}},
		{"unknown role", map[string]string{"role": "shard", "cloud": "local"},
			[]string{`cellplane:role = "shard"`, "allowed: org, cell, tenant"}},
		{"no role", map[string]string{"cloud": "local"},
			[]string{`cellplane:role = ""`, "required; allowed: org, cell, tenant"}},
		{"org slug", map[string]string{"role": "org", "org": "Mercy Health", "cloud": "local", "version": "1.4.5"},
			[]string{`cellplane:org = "Mercy Health"`, "lowercase letters, digits or '-'"}},
		{"tier contradicts role", map[string]string{"role": "org", "tier": "shared", "org": "acme", "cloud": "local", "version": "1.4.5"},
			[]string{`cellplane:tier = "shared"`, "allowed: dedicated"}},
		{"cidr", map[string]string{"role": "cell", "cloud": "local", "allowedCidrs": `["10.0.0.0/8","nope"]`},
			[]string{`cellplane:allowedCidrs = "nope"`, "not a CIDR"}},
		{"kubernetes version", map[string]string{"role": "cell", "cloud": "local", "kubernetesVersion": "v1.33"},
			[]string{`cellplane:kubernetesVersion = "v1.33"`, "MAJOR.MINOR"}},
		{"cloud cluster without LiveKit secret", map[string]string{"role": "cell", "cloud": "gcp", "region": "europe-west3"},
			[]string{`cellplane:livekitApiSecret = ""`, "required (secret)"}},
		{"cell on a tenant-only key", map[string]string{"role": "cell", "cloud": "local", "cell": "other"},
			[]string{`cellplane:cell = "other"`, "only a tenant lives in a cell"}},
		{"every problem at once", map[string]string{"role": "tenant", "org": "acme", "cloud": "aws", "region": "mars-1", "version": "one", "sizing": "huge"},
			[]string{"cellplane:cell", "cellplane:region", "cellplane:sizing", "cellplane:version"}},
		{"no local cell", map[string]string{"role": "cell", "cloud": "local", "localCellDir": t.TempDir()},
			[]string{"no local cell in", "cellplane local up"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec, err := run(t, "cell-local-local-1", c.cfg, nil)
			if err == nil {
				t.Fatal("config accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n does not mention %q", err, w)
				}
			}
			if n := len(rec.registered()); n != 0 {
				t.Errorf("%d resources registered before the config error", n)
			}
		})
	}
}

// Tier A and tier B clusters on every cloud: the whole program under mocks puts the platform
// (LiveKit on the media pool, default-deny everywhere) on the cloud's cluster, and an org
// stack also its release at the pinned version.
func TestClusterRolesOnEveryCloud(t *testing.T) {
	for _, c := range []spec.Cloud{spec.AWS, spec.GCP, spec.Azure} {
		region := spec.Regions(c)[0]
		for _, role := range []spec.Role{spec.RoleOrg, spec.RoleCell} {
			t.Run(string(c)+"/"+string(role), func(t *testing.T) {
				stack := "org-acme"
				cfg := map[string]string{"role": string(role), "cloud": string(c), "region": region,
					"sizing": "medium", "livekitApiSecret": strings.Repeat("k", 40)}
				if role == spec.RoleOrg {
					cfg["org"], cfg["version"] = "acme", "1.4.5"
				} else {
					stack = fmt.Sprintf("cell-%s-%s-1", c, region)
				}
				full := map[string]string{}
				for k, v := range cfg {
					full[ns+k] = v
				}
				m := mocktest.Clouds()
				if err := m.Run(t, stack, full, Run); err != nil {
					t.Fatal(err)
				}
				rec := &recorder{resources: m.Resources()}
				assertDefaultDenyEverywhere(t, rec)
				lk := rec.one(t, tRelease, "-livekit")
				if v, _ := mocktest.Bool(lk.Inputs, "values", "podHostNetwork"); !v {
					t.Error("LiveKit without host networking")
				}
				if mocktest.Num(lk.Inputs, "values", "terminationGracePeriodSeconds") != 18000 {
					t.Error("LiveKit grace period")
				}
				if sel := mocktest.StrMap(lk.Inputs, "values", "nodeSelector"); sel[cluster.PoolLabel] != cluster.PoolMedia {
					t.Errorf("LiveKit nodeSelector %v", sel)
				}
				if tol := mocktest.Objs(lk.Inputs, "values", "tolerations"); len(tol) != 1 || mocktest.Str(tol[0], "key") != cluster.MediaTaintKey {
					t.Errorf("LiveKit tolerations %v", tol)
				}
				// LiveKit's Redis is the cloud's Redis (TLS on every cloud).
				if tls, _ := mocktest.Bool(lk.Inputs, "values", "livekit", "redis", "use_tls"); !tls {
					t.Error("LiveKit must reach the cloud Redis over TLS")
				}
				releases := 0
				for _, r := range rec.ofType(tRelease) {
					if strings.HasSuffix(r.Name, "-release") {
						releases++
					}
				}
				if role == spec.RoleOrg {
					assertRelease(t, rec, "acme", "1.4.5", spec.Medium, spec.Dedicated)
				} else if releases != 0 {
					t.Errorf("a cell stack released %d orgs", releases)
				}
			})
		}
	}
}

// cellOutputs are what a cell stack of cloud/region exports.
func cellOutputs(cloud spec.Cloud, region string) map[string]any {
	return map[string]any{OutCloud: string(cloud), OutRegion: region, OutKubeconfig: "apiVersion: v1\nkind: Config\n",
		OutRedisEndpoint: "redis.cell:6380", OutRedisAuth: "cell-redis-auth", OutRedisTLS: cloud != spec.Local,
		OutLiveKitURL: "wss://cell.example", OutLiveKitAPIKey: "cellplane", OutLiveKitAPISecret: strings.Repeat("l", 40)}
}

func TestTenantOnEveryCloud(t *testing.T) {
	for _, cloud := range spec.Clouds {
		region := spec.Regions(cloud)[0]
		cellStack := fmt.Sprintf("cell-%s-%s-1", cloud, region)
		for _, sizing := range spec.Sizings {
			t.Run(string(cloud)+"/"+string(sizing), func(t *testing.T) {
				rec, err := run(t, "tenant-acme", map[string]string{"role": "tenant", "org": "acme", "cloud": string(cloud),
					"region": region, "version": "1.4.9", "sizing": string(sizing), "cell": cellStack},
					map[string]map[string]any{"organization/cellplane/" + cellStack: cellOutputs(cloud, region)})
				if err != nil {
					t.Fatal(err)
				}
				assertRelease(t, rec, "acme", "1.4.9", sizing, spec.Shared)
				// Everything in the cluster goes through the provider built from the cell's kubeconfig.
				prov := rec.one(t, tProvider, cellStack)
				if !mocktest.IsSecret(prov.Inputs, "kubeconfig") || mocktest.Str(prov.Inputs, "kubeconfig") == "" {
					t.Error("the cell's kubeconfig must reach the provider as a secret")
				}
				for _, r := range rec.registered() {
					if r.Custom && strings.HasPrefix(r.Type, "kubernetes:") && !strings.Contains(r.Provider, "::"+cellStack+"::") {
						t.Errorf("%s uses provider %q", r.Name, r.Provider)
					}
				}
			})
		}
	}
}

func TestTenantInAnotherRegionsCellIsRefused(t *testing.T) {
	rec, err := run(t, "tenant-acme", map[string]string{"role": "tenant", "org": "acme", "cloud": "aws", "region": "us-east-1",
		"version": "1.4.9", "cell": "cell-aws-eu-west-1-1"},
		map[string]map[string]any{"organization/cellplane/cell-aws-eu-west-1-1": cellOutputs(spec.AWS, "eu-west-1")})
	if err == nil || !strings.Contains(err.Error(), `cellplane:cell = "cell-aws-eu-west-1-1"`) || !strings.Contains(err.Error(), "aws/eu-west-1") {
		t.Fatalf("err = %v", err)
	}
	for _, r := range rec.registered() {
		if r.Type != tStackRef {
			t.Errorf("registered %s %s", r.Type, r.Name)
		}
	}
}

func TestLocalCellStack(t *testing.T) {
	cell := fakeCell(t)
	rec, err := run(t, "cell-local-local-1", map[string]string{"role": "cell", "cloud": "local", "localCellDir": cell}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rec.ofType(tRelease)); n != 0 {
		t.Errorf("%d Helm releases on the local cell", n)
	}
	if n := len(rec.ofType(tQuota)); n != 0 {
		t.Errorf("a cell stack deploys no org release, found %d quotas", n)
	}
	var names []string
	for _, n := range rec.ofType(tNS) {
		names = append(names, mocktest.Str(n.Inputs, "metadata", "name"))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"media", "observability", "workers"}) {
		t.Errorf("namespaces = %v", names)
	}
	assertDefaultDenyEverywhere(t, rec)
	comp := rec.one(t, "cellplane:local:Cluster", "cell-local-local-1")
	if comp.Custom {
		t.Error("the local cluster is a component")
	}
	cm := rec.one(t, "kubernetes:core/v1:ConfigMap", "-livekit-nodes")
	if s := mocktest.Str(cm.Inputs, "data", "nodes.json"); !strings.Contains(s, "127.0.0.1:7890") {
		t.Errorf("media nodes: %s", s)
	}
}

func TestLocalOrgStackBuildsClusterPlatformAndRelease(t *testing.T) {
	cell := fakeCell(t)
	rec, err := run(t, "org-acme", map[string]string{"role": "org", "org": "acme", "cloud": "local", "version": "2.0.0-rc.1",
		"sizing": "large", "localCellDir": cell}, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertRelease(t, rec, "acme", "2.0.0-rc.1", spec.Large, spec.Dedicated)
	assertDefaultDenyEverywhere(t, rec)
	prov := rec.one(t, tProvider, "acme")
	if !mocktest.IsSecret(prov.Inputs, "kubeconfig") {
		t.Error("kubeconfig must be secret")
	}
}

// assertDefaultDenyEverywhere checks that every namespace the program creates has a
// default-deny policy and the DNS allow.
func assertDefaultDenyEverywhere(t *testing.T, rec *recorder) {
	t.Helper()
	for _, n := range rec.ofType(tNS) {
		name := mocktest.Str(n.Inputs, "metadata", "name")
		var deny bool
		for _, p := range rec.ofType(tNetpol) {
			if mocktest.Str(p.Inputs, "metadata", "namespace") == name && mocktest.Str(p.Inputs, "metadata", "name") == "default-deny" {
				deny = slices.Equal(mocktest.Strs(p.Inputs, "spec", "policyTypes"), []string{"Ingress", "Egress"}) &&
					mocktest.Path(p.Inputs, "spec", "ingress").IsNull() && mocktest.Path(p.Inputs, "spec", "egress").IsNull()
			}
		}
		if !deny {
			t.Errorf("namespace %s has no default-deny policy", name)
		}
	}
}

// assertRelease checks an org's release: namespace, quota and limits by sizing, policies,
// RBAC, scoped secrets, and the chart pinned to version on the workers pool.
func assertRelease(t *testing.T, rec *recorder, org, version string, sizing spec.Sizing, tier spec.Tier) {
	t.Helper()
	size := tenant.Sizes[sizing]
	nsName := "org-" + org
	ns := rec.one(t, tNS, org+"-release-ns")
	if got := mocktest.Str(ns.Inputs, "metadata", "name"); got != nsName {
		t.Fatalf("namespace %q", got)
	}
	if l := mocktest.StrMap(ns.Inputs, "metadata", "labels"); l["pod-security.kubernetes.io/enforce"] != "restricted" || l["cellplane.io/tier"] != string(tier) {
		t.Errorf("namespace labels %v", l)
	}
	q := rec.one(t, tQuota, "-quota")
	hard := mocktest.StrMap(q.Inputs, "spec", "hard")
	if hard["requests.cpu"] != size.RequestsCPU || hard["limits.memory"] != size.LimitsMemory || hard["pods"] != fmt.Sprint(size.Pods) {
		t.Errorf("quota for %s = %v", sizing, hard)
	}
	if mocktest.Str(q.Inputs, "metadata", "namespace") != nsName {
		t.Error("quota in the wrong namespace")
	}
	lr := rec.one(t, tLimits, "-limits")
	if mocktest.Str(lr.Inputs, "spec", "limits", "0", "type") != "Container" || mocktest.Str(lr.Inputs, "spec", "limits", "0", "defaultRequest", "cpu") == "" {
		t.Error("limit range defaults missing")
	}
	var policies []string
	for _, p := range rec.ofType(tNetpol) {
		if mocktest.Str(p.Inputs, "metadata", "namespace") == nsName {
			policies = append(policies, mocktest.Str(p.Inputs, "metadata", "name"))
		}
	}
	for _, want := range []string{"default-deny", "allow-dns", "allow-redis", "allow-livekit", "allow-ingress", "allow-scrape"} {
		if !slices.Contains(policies, want) {
			t.Errorf("policy %s missing in %s (have %v)", want, nsName, policies)
		}
	}
	rec.one(t, tSA, "-sa")
	role := rec.one(t, tRole, "-role")
	for _, rule := range mocktest.Objs(role.Inputs, "rules") {
		if slices.Contains(mocktest.Strs(rule, "resources"), "secrets") {
			if names := mocktest.Strs(rule, "resourceNames"); !slices.Equal(names, []string{tenant.LiveKitSecret, tenant.RedisSecret}) {
				t.Errorf("the role may read secrets %v; want only the org's own", names)
			}
		}
		if slices.Contains(mocktest.Strs(rule, "verbs"), "*") {
			t.Error("wildcard verb in the org's role")
		}
	}
	rb := rec.one(t, tBinding, "-rolebinding")
	if mocktest.Str(rb.Inputs, "subjects", "0", "namespace") != nsName || mocktest.Str(rb.Inputs, "roleRef", "name") != tenant.ServiceAccount {
		t.Error("role binding")
	}
	redis := rec.one(t, tSecret, "-redis")
	if !mocktest.IsSecret(redis.Inputs, "stringData") {
		t.Error("the Redis password must be secret")
	}
	wantUser := "default"
	if tier == spec.Shared {
		wantUser = nsName
	}
	if u := mocktest.Str(redis.Inputs, "stringData", "username"); u != wantUser {
		t.Errorf("redis user = %q, want %q", u, wantUser)
	}
	if p := mocktest.Str(redis.Inputs, "stringData", "keyPrefix"); p != nsName+":" {
		t.Errorf("key prefix %q", p)
	}
	lk := rec.one(t, tSecret, "-livekit")
	if !mocktest.IsSecret(lk.Inputs, "stringData") {
		t.Error("the LiveKit secret must be secret")
	}

	rel := rec.one(t, tRelease, "-release")
	in := rel.Inputs
	if mocktest.Str(in, "namespace") != nsName || !strings.Contains(mocktest.Str(in, "chart"), "sim-platform") {
		t.Errorf("release %s in %s", mocktest.Str(in, "chart"), mocktest.Str(in, "namespace"))
	}
	if _, err := os.Stat(filepath.Join(mocktest.Str(in, "chart"), "Chart.yaml")); err != nil {
		t.Errorf("chart dir: %v", err)
	}
	if v := mocktest.Str(in, "values", "version"); v != version {
		t.Errorf("image version %q, want %q", v, version)
	}
	if g := mocktest.Num(in, "values", "terminationGracePeriodSeconds"); g != 18000 {
		t.Errorf("grace %d", g)
	}
	if sel := mocktest.StrMap(in, "values", "nodeSelector"); len(sel) != 1 || sel[cluster.PoolLabel] != cluster.PoolWorkers {
		t.Errorf("nodeSelector %v", sel)
	}
	if mocktest.Num(in, "values", "simEngine", "autoscaling", "minReplicas") != size.SimEngineMin ||
		mocktest.Num(in, "values", "simEngine", "autoscaling", "maxReplicas") != size.SimEngineMax ||
		mocktest.Num(in, "values", "agentWorker", "autoscaling", "maxReplicas") != size.AgentMax {
		t.Errorf("HPA bounds for %s", sizing)
	}
	if !rec.dependsOn(rel, tQuota) || !rec.dependsOn(rel, tLimits) || !rec.dependsOn(rel, tSecret) {
		t.Error("the release must wait for quota, limits and secrets")
	}
}

func (r *recorder) dependsOn(res mocktest.Resource, token string) bool {
	for _, d := range res.DependsOn {
		for _, o := range r.registered() {
			if o.Type == token && strings.HasSuffix(d, "::"+o.Name) {
				return true
			}
		}
	}
	return false
}
