package platform

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/mocktest"
	"github.com/cellplane/cellplane/infra/spec"
)

const (
	tNS      = "kubernetes:core/v1:Namespace"
	tNetpol  = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	tRelease = "kubernetes:helm.sh/v3:Release"
	tCM      = "kubernetes:core/v1:ConfigMap"
	tSecret  = "kubernetes:core/v1:Secret"
	tIngress = "kubernetes:networking.k8s.io/v1:Ingress"
	tCR      = "kubernetes:cert-manager.io/v1:Certificate"
)

// run deploys the platform on a synthetic cluster of cloud under mocks.
func run(t *testing.T, cloud spec.Cloud) *mocktest.Mocks {
	t.Helper()
	m := mocktest.New()
	err := m.Run(t, "cell-"+string(cloud)+"-1", nil, func(ctx *pulumi.Context) error {
		prov, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{Kubeconfig: pulumi.ToSecret(pulumi.String("kc")).(pulumi.StringOutput)})
		if err != nil {
			return err
		}
		out := &cluster.Outputs{
			Provider: prov, Kubeconfig: pulumi.String("kc").ToStringOutput(),
			RedisEndpoint: pulumi.String("redis.internal:6380").ToStringOutput(),
			RedisAuth:     pulumi.ToSecret(pulumi.String("redis-auth-token")).(pulumi.StringOutput), RedisTLS: true,
			IngressHostname: pulumi.String("acme.cells.example.org").ToStringOutput(),
			MediaSelector:   cluster.MediaSelector(), MediaToleration: cluster.MediaTaint,
			LiveKitURL: pulumi.String("wss://acme.cells.example.org").ToStringOutput(),
		}
		if cloud == spec.Local {
			out.ExternalMedia = &cluster.ExternalMedia{APIKey: "devkey", APISecret: pulumi.ToSecret(pulumi.String("s")).(pulumi.StringOutput),
				Nodes: []cluster.MediaNode{{Name: "livekit-1", URL: "http://127.0.0.1:7880", PrometheusPort: 6789}, {Name: "livekit-2", URL: "http://127.0.0.1:7890", PrometheusPort: 6790}}}
		}
		_, err = New(ctx, "acme-platform", &Args{
			Name: "acme", Cloud: cloud, Region: "r", Sizing: spec.Medium, Cluster: out,
			LiveKitAPIKey: "cellplane", LiveKitAPISecret: pulumi.ToSecret(pulumi.String(strings.Repeat("x", 40))).(pulumi.StringOutput),
			MediaReplicas: 3, RTCPortStart: 50000, RTCPortEnd: 60000, RTCTCPPort: 7881, TURNTLSPort: 5349,
			Hostname: "acme.cells.example.org", ACMEEmail: "certs@example.org",
			Dashboards: map[string][]byte{"livekit.json": []byte(`{"title":"x"}`)},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEveryPlaneNamespaceHasDefaultDenyAndAllowsDNS(t *testing.T) {
	for _, cloud := range spec.Clouds {
		t.Run(string(cloud), func(t *testing.T) {
			m := run(t, cloud)
			namespaces := m.OfType(tNS)
			want := []string{NamespaceMedia, NamespaceWorkers, NamespaceObservability}
			if cloud != spec.Local {
				want = append(want, NamespaceIngress, NamespaceCertManager)
			}
			if len(namespaces) != len(want) {
				t.Fatalf("namespaces = %d, want %v", len(namespaces), want)
			}
			for _, ns := range namespaces {
				name := mocktest.Str(ns.Inputs, "metadata", "name")
				if !slices.Contains(want, name) {
					t.Errorf("unexpected namespace %q", name)
				}
				var deny, dns bool
				for _, p := range m.OfType(tNetpol) {
					if mocktest.Str(p.Inputs, "metadata", "namespace") != name {
						continue
					}
					switch mocktest.Str(p.Inputs, "metadata", "name") {
					case "default-deny":
						deny = len(mocktest.Path(p.Inputs, "spec", "podSelector").ObjectValue()) == 0 &&
							slices.Equal(mocktest.Strs(p.Inputs, "spec", "policyTypes"), []string{"Ingress", "Egress"}) &&
							mocktest.Path(p.Inputs, "spec", "ingress").IsNull() && mocktest.Path(p.Inputs, "spec", "egress").IsNull()
					case "allow-dns":
						dns = mocktest.Num(p.Inputs, "spec", "egress", "0", "ports", "0", "port") == 53
					}
					if !p.Custom || p.Parent == "" {
						t.Errorf("policy %s is not a parented resource", p.Name)
					}
				}
				if !deny || !dns {
					t.Errorf("namespace %s: default-deny %v, allow-dns %v", name, deny, dns)
				}
			}
		})
	}
}

func TestLiveKitChartValuesOnClouds(t *testing.T) {
	for _, cloud := range []spec.Cloud{spec.AWS, spec.GCP, spec.Azure} {
		t.Run(string(cloud), func(t *testing.T) {
			m := run(t, cloud)
			lk := m.One(t, tRelease, "-livekit")
			in := lk.Inputs
			if got := mocktest.Str(in, "chart"); got != LiveKitChart.Name {
				t.Errorf("chart = %q", got)
			}
			if mocktest.Str(in, "version") != LiveKitChart.Version || mocktest.Str(in, "repositoryOpts", "repo") != LiveKitChart.Repo {
				t.Errorf("chart not pinned: %v %v", mocktest.Str(in, "version"), mocktest.Str(in, "repositoryOpts", "repo"))
			}
			if v, _ := mocktest.Bool(in, "values", "podHostNetwork"); !v {
				t.Error("LiveKit must run with host networking")
			}
			if got := mocktest.Num(in, "values", "terminationGracePeriodSeconds"); got != 18000 {
				t.Errorf("grace = %d, want 18000", got)
			}
			if got := mocktest.StrMap(in, "values", "nodeSelector"); got[cluster.PoolLabel] != cluster.PoolMedia || len(got) != 1 {
				t.Errorf("nodeSelector = %v", got)
			}
			tol := mocktest.Objs(in, "values", "tolerations")
			if len(tol) != 1 || mocktest.Str(tol[0], "key") != cluster.MediaTaintKey || mocktest.Str(tol[0], "value") != "true" || mocktest.Str(tol[0], "effect") != "NoSchedule" {
				t.Errorf("tolerations = %v", tol)
			}
			if mocktest.Str(in, "values", "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "0", "topologyKey") != "kubernetes.io/hostname" {
				t.Error("one LiveKit pod per node: anti-affinity on hostname missing")
			}
			if mocktest.Num(in, "values", "replicaCount") != 3 {
				t.Errorf("replicas = %d, want the media pool minimum 3", mocktest.Num(in, "values", "replicaCount"))
			}
			if mocktest.Str(in, "values", "livekit", "redis", "address") != "redis.internal:6380" {
				t.Error("LiveKit must route through the cluster's Redis")
			}
			if tls, _ := mocktest.Bool(in, "values", "livekit", "redis", "use_tls"); !tls {
				t.Error("Redis TLS not passed to LiveKit")
			}
			if !mocktest.IsSecret(in, "values") {
				t.Error("values carrying the Redis password must be secret")
			}
			if mocktest.Str(in, "values", "storeKeysInSecret", "existingSecret") != LiveKitKeysSecret {
				t.Error("keys must come from the livekit-keys Secret")
			}
			if mocktest.Str(in, "values", "livekit", "turn", "secretName") != LiveKitTURNSecret {
				t.Error("TURN/TLS certificate secret missing")
			}
			if mocktest.Num(in, "values", "livekit", "prometheus_port") != LiveKitPrometheusPort {
				t.Error("prometheus port missing")
			}
			if mocktest.Num(in, "values", "livekit", "rtc", "port_range_start") != 50000 || mocktest.Num(in, "values", "livekit", "rtc", "port_range_end") != 60000 {
				t.Error("RTC port range not passed")
			}
			if mocktest.Str(in, "values", "image", "tag") != LiveKitVersion {
				t.Error("LiveKit image not pinned")
			}
			keys := m.One(t, tSecret, "-"+LiveKitKeysSecret)
			if !mocktest.IsSecret(keys.Inputs, "stringData") {
				t.Error("LiveKit keys Secret data must be secret in state")
			}
			// The signal connection: TLS ingress for the cluster's hostname, to the LiveKit service.
			ing := m.One(t, tIngress, "-livekit-signal")
			if h := mocktest.Str(ing.Inputs, "spec", "tls", "0", "hosts", "0"); h != "acme.cells.example.org" {
				t.Errorf("ingress TLS host = %q", h)
			}
			if s := mocktest.Str(ing.Inputs, "spec", "rules", "0", "http", "paths", "0", "backend", "service", "name"); s != LiveKitRelease {
				t.Errorf("ingress backend = %q", s)
			}
			if m.One(t, tCR, "-turn-cert").Type != tCR {
				t.Error("TURN certificate missing")
			}
			for _, c := range []Chart{IngressNginxChart, CertManagerChart, KubePrometheusStackChart, OTelCollectorChart} {
				found := false
				for _, r := range m.OfType(tRelease) {
					if mocktest.Str(r.Inputs, "chart") == c.Name && mocktest.Str(r.Inputs, "version") == c.Version && mocktest.Str(r.Inputs, "repositoryOpts", "repo") == c.Repo {
						found = true
					}
				}
				if !found {
					t.Errorf("chart %s %s not declared", c.Name, c.Version)
				}
			}
			// Grafana loads dashboards from labelled ConfigMaps.
			prom := m.One(t, tRelease, "-kube-prometheus-stack")
			if mocktest.Str(prom.Inputs, "values", "grafana", "sidecar", "dashboards", "label") != DashboardLabel {
				t.Error("grafana dashboard sidecar label")
			}
			dash := m.One(t, tCM, "-dashboard-livekit")
			if mocktest.StrMap(dash.Inputs, "metadata", "labels")[DashboardLabel] != "1" || mocktest.Str(dash.Inputs, "data", "livekit.json") == "" {
				t.Error("dashboard ConfigMap")
			}
		})
	}
}

func TestLocalRecordsTheCellsLiveKitAndDeploysNoOutsideChart(t *testing.T) {
	m := run(t, spec.Local)
	if n := len(m.OfType(tRelease)); n != 0 {
		t.Fatalf("%d Helm releases on local; outside charts cannot be deployed there", n)
	}
	cm := m.One(t, tCM, "-"+MediaNodesConfigMap)
	nodes := mocktest.Str(cm.Inputs, "data", "nodes.json")
	if !strings.Contains(nodes, "http://127.0.0.1:7880") || !strings.Contains(nodes, "http://127.0.0.1:7890") {
		t.Errorf("media nodes not recorded: %s", nodes)
	}
	scrape := m.One(t, tCM, "-"+ScrapeConfigMap)
	if s := mocktest.Str(scrape.Inputs, "data", "scrape.yaml"); !strings.Contains(s, `"127.0.0.1:6789", "127.0.0.1:6790"`) {
		t.Errorf("scrape targets: %s", s)
	}
	m.One(t, tCM, "-dashboard-livekit")
}

func TestEveryChildUsesTheClustersProvider(t *testing.T) {
	m := run(t, spec.AWS)
	for _, r := range m.Resources() {
		if r.Custom && strings.HasPrefix(r.Type, "kubernetes:") && !strings.Contains(r.Provider, "::k8s::") {
			t.Errorf("%s %s uses provider %q", r.Type, r.Name, r.Provider)
		}
	}
}
