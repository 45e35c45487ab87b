package gcp

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/mocktest"
	"github.com/cellplane/cellplane/infra/spec"
)

const (
	tGKE       = "gcp:container/cluster:Cluster"
	tNodePool  = "gcp:container/nodePool:NodePool"
	tFirewall  = "gcp:compute/firewall:Firewall"
	tCryptoKey = "gcp:kms/cryptoKey:CryptoKey"
	tKeyRing   = "gcp:kms/keyRing:KeyRing"
	tKeyIAM    = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
	tRedis     = "gcp:redis/instance:Instance"
	tRecordSet = "gcp:dns/recordSet:RecordSet"
	tK8s       = "pulumi:providers:kubernetes"
)

func baseArgs() cluster.Args {
	return cluster.Args{Org: "charite-berlin", Region: "europe-west3", Sizing: spec.Medium, PrivateEndpoint: true,
		DNSZone: "cells.cellplane.io", DeletionProtection: true}
}

type result struct {
	m          *mocktest.Mocks
	c          *Cluster
	kubeconfig string
	redisAuth  string
}

func run(t *testing.T, args cluster.Args) result {
	t.Helper()
	m := mocktest.Clouds()
	var res result
	err := m.Run(t, "org-test", nil, func(ctx *pulumi.Context) error {
		c, err := New(ctx, "cell", args)
		if err != nil {
			return err
		}
		res.c = c
		c.Outputs.Kubeconfig.ApplyT(func(s string) string { res.kubeconfig = s; return s })
		c.Outputs.RedisAuth.ApplyT(func(s string) string { res.redisAuth = s; return s })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res.m = m
	return res
}

func TestAPIEndpointIsPrivate(t *testing.T) {
	r := run(t, baseArgs())
	gke := r.m.One(t, tGKE, "cell")
	if v, _ := mocktest.Bool(gke.Inputs, "privateClusterConfig", "enablePrivateEndpoint"); !v {
		t.Error("private endpoint is off")
	}
	if v, _ := mocktest.Bool(gke.Inputs, "privateClusterConfig", "enablePrivateNodes"); !v {
		t.Error("private nodes are off at the cluster level")
	}
	if got := mocktest.Objs(gke.Inputs, "masterAuthorizedNetworksConfig", "cidrBlocks"); len(got) != 0 {
		t.Errorf("authorized networks %v, want none besides the VPC", got)
	}
	if v, ok := mocktest.Bool(gke.Inputs, "masterAuthorizedNetworksConfig", "gcpPublicCidrsAccessEnabled"); !ok || v {
		t.Error("Google's public ranges may reach the control plane")
	}
	if !strings.Contains(r.kubeconfig, "https://172.16.0.2") || !strings.Contains(r.kubeconfig, "gke-gcloud-auth-plugin") {
		t.Errorf("kubeconfig:\n%s", r.kubeconfig)
	}
	if !mocktest.IsSecret(r.m.One(t, tK8s, "cell").Inputs, "kubeconfig") {
		t.Error("kubeconfig is not a secret")
	}
	if got := mocktest.Str(gke.Inputs, "workloadIdentityConfig", "workloadPool"); got != "charite-prod.svc.id.goog" {
		t.Errorf("workload pool %q", got)
	}
}

func TestAllowedCIDRsAreTheOnlyPublicReach(t *testing.T) {
	args := baseArgs()
	args.AllowedCIDRs = []string{"203.0.113.0/24"}
	r := run(t, args)
	gke := r.m.One(t, tGKE, "cell")
	if v, ok := mocktest.Bool(gke.Inputs, "privateClusterConfig", "enablePrivateEndpoint"); !ok || v {
		t.Error("allowed CIDRs given but the endpoint has no public side")
	}
	var got []string
	for _, b := range mocktest.Objs(gke.Inputs, "masterAuthorizedNetworksConfig", "cidrBlocks") {
		got = append(got, mocktest.Str(b, "cidrBlock"))
	}
	if !slices.Equal(got, args.AllowedCIDRs) {
		t.Errorf("authorized networks %v, want exactly %v", got, args.AllowedCIDRs)
	}
}

func TestMediaPoolIsPublicTaintedAndTheOnlyOneOpen(t *testing.T) {
	r := run(t, baseArgs())
	for _, p := range []string{cluster.PoolSystem, cluster.PoolMedia, cluster.PoolWorkers} {
		np := r.m.One(t, tNodePool, "-"+p)
		private, ok := mocktest.Bool(np.Inputs, "networkConfig", "enablePrivateNodes")
		if !ok {
			t.Errorf("%s: private nodes not set explicitly", p)
		}
		labels := mocktest.StrMap(np.Inputs, "nodeConfig", "labels")
		if labels[cluster.PoolLabel] != p {
			t.Errorf("%s: label %q", p, labels[cluster.PoolLabel])
		}
		taints := mocktest.Objs(np.Inputs, "nodeConfig", "taints")
		tags := mocktest.Strs(np.Inputs, "nodeConfig", "tags")
		if p == cluster.PoolMedia {
			if private {
				t.Error("media nodes are private: LiveKit needs their public IPs")
			}
			if len(taints) != 1 || mocktest.Str(taints[0], "key") != cluster.MediaTaintKey ||
				mocktest.Str(taints[0], "value") != "true" || mocktest.Str(taints[0], "effect") != "NO_SCHEDULE" {
				t.Errorf("media taints %v", taints)
			}
			if !slices.Contains(tags, MediaTag) {
				t.Errorf("media network tags %v lack %s", tags, MediaTag)
			}
		} else {
			if !private {
				t.Errorf("%s nodes have public IPs", p)
			}
			if len(taints) != 0 || slices.Contains(tags, MediaTag) {
				t.Errorf("%s: taints %v tags %v", p, taints, tags)
			}
		}
	}
	// Exactly one rule opens anything to the world: the RTC ports, to media nodes only.
	var fws []mocktest.Resource
	for _, fw := range r.m.OfType(tFirewall) {
		if slices.Contains(mocktest.Strs(fw.Inputs, "sourceRanges"), "0.0.0.0/0") {
			fws = append(fws, fw)
		} else if src := mocktest.Strs(fw.Inputs, "sourceRanges"); !slices.Equal(src, []string{masterCIDR}) {
			t.Errorf("rule %s admits %v", fw.Name, src)
		}
	}
	if len(fws) != 1 {
		t.Fatalf("want one rule open to the world, got %d", len(fws))
	}
	fw := fws[0]
	if !slices.Equal(mocktest.Strs(fw.Inputs, "sourceRanges"), []string{"0.0.0.0/0"}) ||
		!slices.Equal(mocktest.Strs(fw.Inputs, "targetTags"), []string{MediaTag}) {
		t.Errorf("rtc rule from %v to %v", mocktest.Strs(fw.Inputs, "sourceRanges"), mocktest.Strs(fw.Inputs, "targetTags"))
	}
	var open []string
	for _, a := range mocktest.Objs(fw.Inputs, "allows") {
		for _, port := range mocktest.Strs(a, "ports") {
			open = append(open, mocktest.Str(a, "protocol")+"/"+port)
		}
	}
	if want := []string{"udp/50000-60000", "tcp/7881", "tcp/5349", "udp/3478"}; !slices.Equal(open, want) {
		t.Errorf("rtc rule opens %v, want %v", open, want)
	}
}

func TestWorkersBoundsFollowSizing(t *testing.T) {
	for _, z := range spec.Sizings {
		t.Run(string(z), func(t *testing.T) {
			args := baseArgs()
			args.Sizing = z
			r := run(t, args)
			np := r.m.One(t, tNodePool, "-workers")
			want := cluster.Bounds[z].Workers
			min, max := mocktest.Num(np.Inputs, "autoscaling", "totalMinNodeCount"), mocktest.Num(np.Inputs, "autoscaling", "totalMaxNodeCount")
			if min != want[0] || max != want[1] {
				t.Errorf("workers %d..%d, want %d..%d", min, max, want[0], want[1])
			}
			if got := mocktest.Str(np.Inputs, "nodeConfig", "machineType"); got != Sizes[z].Workers.InstanceType {
				t.Errorf("machine type %q", got)
			}
			if got := mocktest.Num(r.m.One(t, tRedis, "-redis").Inputs, "memorySizeGb"); got != RedisMemoryGB[z] {
				t.Errorf("redis %d GB", got)
			}
		})
	}
}

func TestSecretsEncryptionUsesTheBYOKKey(t *testing.T) {
	const byok = "projects/charite-kms/locations/europe-west3/keyRings/hospital/cryptoKeys/gke-secrets"
	args := baseArgs()
	args.KMSKeyID = byok
	r := run(t, args)
	gke := r.m.One(t, tGKE, "cell")
	if got := mocktest.Str(gke.Inputs, "databaseEncryption", "keyName"); got != byok {
		t.Errorf("secrets encrypted with %q", got)
	}
	if got := mocktest.Str(gke.Inputs, "databaseEncryption", "state"); got != "ENCRYPTED" {
		t.Errorf("database encryption state %q", got)
	}
	if n := len(r.m.OfType(tCryptoKey)) + len(r.m.OfType(tKeyRing)); n != 0 {
		t.Errorf("%d key resources created although the customer brought a key", n)
	}
}

func TestSecretsEncryptionCreatesAProtectedKeyOtherwise(t *testing.T) {
	r := run(t, baseArgs())
	key := r.m.One(t, tCryptoKey, "-secrets")
	ring := r.m.One(t, tKeyRing, "-keys")
	if !key.Protect || !ring.Protect {
		t.Error("created key material is not protected")
	}
	if got := mocktest.Str(ring.Inputs, "location"); got != "europe-west3" {
		t.Errorf("key ring in %q, want the cluster's region", got)
	}
	if mocktest.Str(key.Inputs, "rotationPeriod") == "" {
		t.Error("no rotation")
	}
	gke := r.m.One(t, tGKE, "cell")
	if got := mocktest.Str(gke.Inputs, "databaseEncryption", "keyName"); got != key.Name+"-id" {
		t.Errorf("secrets encrypted with %q, want the created key", got)
	}
	grant := r.m.One(t, tKeyIAM, "-secrets-gke")
	if mocktest.Str(grant.Inputs, "member") != "serviceAccount:service-123456789012@container-engine-robot.iam.gserviceaccount.com" ||
		mocktest.Str(grant.Inputs, "role") != "roles/cloudkms.cryptoKeyEncrypterDecrypter" {
		t.Errorf("GKE agent grant %v", grant.Inputs)
	}
	if !slices.Contains(gke.DependsOn, grant.URN) {
		t.Error("the cluster may be created before GKE can use its key")
	}
}

func TestRedisHasTLSAuthAndHA(t *testing.T) {
	r := run(t, baseArgs())
	redis := r.m.One(t, tRedis, "-redis")
	if got := mocktest.Str(redis.Inputs, "tier"); got != "STANDARD_HA" {
		t.Errorf("tier %q", got)
	}
	if v, _ := mocktest.Bool(redis.Inputs, "authEnabled"); !v {
		t.Error("AUTH off")
	}
	if got := mocktest.Str(redis.Inputs, "transitEncryptionMode"); got != "SERVER_AUTHENTICATION" {
		t.Errorf("transit encryption %q", got)
	}
	if !redis.Protect {
		t.Error("not protected")
	}
	if mocktest.Str(redis.Inputs, "authorizedNetwork") != r.m.One(t, "gcp:compute/network:Network", "-vpc").Name+"-id" {
		t.Error("redis is not on the cell's network")
	}
	if r.redisAuth != "redis-auth-string" || !r.c.Outputs.RedisTLS {
		t.Errorf("outputs: auth %q tls %v", r.redisAuth, r.c.Outputs.RedisTLS)
	}
	args := baseArgs()
	args.DeletionProtection = false
	r = run(t, args)
	if r.m.One(t, tRedis, "-redis").Protect || r.m.One(t, tCryptoKey, "-secrets").Protect {
		t.Error("protection stays on although the stack turned it off")
	}
}

// labelled lists every GCP type the component may declare and the input holding its labels
// ("" when the type has none); unknown types fail the test.
var labelled = map[string][]string{
	tGKE: {"resourceLabels"}, tNodePool: {"nodeConfig", "resourceLabels"}, tCryptoKey: {"labels"},
	tRedis: {"labels"}, "gcp:compute/address:Address": {"labels"},

	"gcp:compute/network:Network": nil, "gcp:compute/subnetwork:Subnetwork": nil, "gcp:compute/router:Router": nil,
	"gcp:compute/routerNat:RouterNat": nil, tFirewall: nil, tKeyRing: nil, tKeyIAM: nil,
	"gcp:serviceaccount/account:Account": nil, "gcp:projects/iAMMember:IAMMember": nil, tRecordSet: nil, tK8s: nil,
}

func TestEveryLabelledResourceCarriesOrgCloudRegion(t *testing.T) {
	r := run(t, baseArgs())
	want := map[string]string{"cellplane-org": "charite-berlin", "cellplane-cloud": "gcp", "cellplane-region": "europe-west3"}
	for _, res := range r.m.Resources() {
		if !res.Custom {
			continue
		}
		path, known := labelled[res.Type]
		if !known {
			t.Errorf("%s (%s) is not classified as labelled or not", res.Name, res.Type)
			continue
		}
		if path == nil {
			continue
		}
		labels := mocktest.StrMap(res.Inputs, path...)
		for k, v := range want {
			if labels[k] != v {
				t.Errorf("%s (%s): label %s = %q, want %q", res.Name, res.Type, k, labels[k], v)
			}
		}
	}
}

func TestRegionComesFromArgsAndChildrenAreParented(t *testing.T) {
	args := baseArgs()
	args.Region = "us-east4"
	r := run(t, args)
	for _, c := range []struct{ typ, suffix, key string }{
		{tGKE, "cell", "location"}, {tNodePool, "-workers", "location"}, {"gcp:compute/subnetwork:Subnetwork", "-nodes", "region"},
		{tRedis, "-redis", "region"}, {"gcp:compute/address:Address", "-ingress", "region"}, {tKeyRing, "-keys", "location"},
		{"gcp:compute/router:Router", "-router", "region"},
	} {
		if got := mocktest.Str(r.m.One(t, c.typ, c.suffix).Inputs, c.key); got != "us-east4" {
			t.Errorf("%s %s = %q", c.typ, c.key, got)
		}
	}
	comp := r.m.One(t, "cellplane:gcp:Cluster", "cell")
	for _, res := range r.m.Resources() {
		if res.URN != comp.URN && res.Parent != comp.URN {
			t.Errorf("%s (%s) is not parented to the component", res.Name, res.Type)
		}
	}
}

func TestUnknownRegionIsRejectedBeforeAnythingIsRegistered(t *testing.T) {
	for _, region := range []string{"us-east-1", "europe-west99", ""} {
		m := mocktest.Clouds()
		args := baseArgs()
		args.Region = region
		err := m.Run(t, "org-test", nil, func(ctx *pulumi.Context) error {
			_, err := New(ctx, "cell", args)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "region") {
			t.Errorf("region %q: err = %v", region, err)
		}
		if n := len(m.Resources()); n != 0 {
			t.Errorf("region %q: %d resources registered", region, n)
		}
	}
}

func TestPinnedVersionHoldsControlPlaneAndNodes(t *testing.T) {
	args := baseArgs()
	args.KubernetesVersion = "1.30"
	r := run(t, args)
	gke := r.m.One(t, tGKE, "cell")
	if mocktest.Str(gke.Inputs, "minMasterVersion") != "1.30" || mocktest.Str(gke.Inputs, "releaseChannel", "channel") != "UNSPECIFIED" {
		t.Errorf("control plane version %q channel %q", mocktest.Str(gke.Inputs, "minMasterVersion"), mocktest.Str(gke.Inputs, "releaseChannel", "channel"))
	}
	for _, np := range r.m.OfType(tNodePool) {
		if got := mocktest.Str(np.Inputs, "version"); got != "1.30.5-gke.1014001" {
			t.Errorf("%s version %q, want the control plane's", np.Name, got)
		}
		if v, _ := mocktest.Bool(np.Inputs, "management", "autoUpgrade"); v {
			t.Errorf("%s auto-upgrades past the pin", np.Name)
		}
	}
}

func TestTeardownOrder(t *testing.T) {
	r := run(t, baseArgs())
	prov := r.m.One(t, tK8s, "cell")
	for _, np := range r.m.OfType(tNodePool) {
		if !slices.Contains(prov.DependsOn, np.URN) {
			t.Errorf("the Kubernetes provider does not depend on %s", np.Name)
		}
		if !r.m.DependsOnType(np, "gcp:compute/routerNat:RouterNat") {
			t.Errorf("%s does not wait for NAT (private nodes need egress to join)", np.Name)
		}
	}
	rec := r.m.One(t, tRecordSet, "-ingress")
	if mocktest.Str(rec.Inputs, "name") != "charite-berlin.cells.cellplane.io." || mocktest.Str(rec.Inputs, "managedZone") != "cells-cellplane-io" ||
		!slices.Equal(mocktest.Strs(rec.Inputs, "rrdatas"), []string{"203.0.113.9"}) {
		t.Errorf("ingress record %v", rec.Inputs)
	}
}
