package azure

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/azure/native"
	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/mocktest"
	"github.com/cellplane/cellplane/infra/spec"
)

const tK8s = "pulumi:providers:kubernetes"

func baseArgs() cluster.Args {
	return cluster.Args{Org: "nhs-trust", Region: "uksouth", Sizing: spec.Medium, PrivateEndpoint: true,
		DNSZone: "cells.cellplane.io", DeletionProtection: true}
}

type result struct {
	m                     *mocktest.Mocks
	c                     *Cluster
	kubeconfig, redisAuth string
	annotations           map[string]string
}

func run(t *testing.T, args cluster.Args) result {
	t.Helper()
	m := mocktest.Clouds()
	res := result{annotations: map[string]string{}}
	err := m.Run(t, "org-test", nil, func(ctx *pulumi.Context) error {
		c, err := New(ctx, "cell", args)
		if err != nil {
			return err
		}
		res.c = c
		c.Outputs.Kubeconfig.ApplyT(func(s string) string { res.kubeconfig = s; return s })
		c.Outputs.RedisAuth.ApplyT(func(s string) string { res.redisAuth = s; return s })
		c.Outputs.IngressServiceAnnotations.ToStringMapOutput().ApplyT(func(a map[string]string) int {
			res.annotations = a
			return 0
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res.m = m
	return res
}

func TestAPIServerIsPrivate(t *testing.T) {
	r := run(t, baseArgs())
	mc := r.m.One(t, native.TypeManagedCluster, "cell")
	if v, _ := mocktest.Bool(mc.Inputs, "apiServerAccessProfile", "enablePrivateCluster"); !v {
		t.Error("not a private cluster")
	}
	if got := mocktest.Strs(mc.Inputs, "apiServerAccessProfile", "authorizedIPRanges"); len(got) != 0 {
		t.Errorf("authorized ranges %v on a private cluster", got)
	}
	if r.kubeconfig != mocktest.AzureKubeconfig {
		t.Errorf("kubeconfig not decoded from AKS's credentials:\n%s", r.kubeconfig)
	}
	if !mocktest.IsSecret(r.m.One(t, tK8s, "cell").Inputs, "kubeconfig") {
		t.Error("kubeconfig is not a secret")
	}
	if got := mocktest.Str(mc.Inputs, "networkProfile", "networkPolicy"); got != "calico" {
		t.Errorf("network policy %q", got)
	}
	if got := mocktest.Str(mc.Inputs, "identity", "type"); got != "UserAssigned" {
		t.Errorf("identity %q", got)
	}
}

func TestAllowedCIDRsAreTheOnlyPublicReach(t *testing.T) {
	args := baseArgs()
	args.AllowedCIDRs = []string{"203.0.113.0/24"}
	r := run(t, args)
	mc := r.m.One(t, native.TypeManagedCluster, "cell")
	if v, ok := mocktest.Bool(mc.Inputs, "apiServerAccessProfile", "enablePrivateCluster"); !ok || v {
		t.Error("allowed CIDRs given but the API server stays private")
	}
	if got := mocktest.Strs(mc.Inputs, "apiServerAccessProfile", "authorizedIPRanges"); !slices.Equal(got, args.AllowedCIDRs) {
		t.Errorf("authorized ranges %v, want exactly %v", got, args.AllowedCIDRs)
	}
}

// pool returns a pool's properties: the inline system profile or an AgentPool resource.
func pool(t *testing.T, m *mocktest.Mocks, name string) resource.PropertyMap {
	t.Helper()
	if name == cluster.PoolSystem {
		mc := m.One(t, native.TypeManagedCluster, "cell")
		profiles := mocktest.Objs(mc.Inputs, "agentPoolProfiles")
		if len(profiles) != 1 || mocktest.Str(profiles[0], "name") != name || mocktest.Str(profiles[0], "mode") != "System" {
			t.Fatalf("inline pools %v", profiles)
		}
		return profiles[0]
	}
	p := m.One(t, native.TypeAgentPool, "-"+name).Inputs
	if mocktest.Str(p, "agentPoolName") != name || mocktest.Str(p, "mode") != "User" {
		t.Fatalf("agent pool %v", p)
	}
	return p
}

func TestMediaPoolIsPublicTaintedAndTheOnlyOneOpen(t *testing.T) {
	r := run(t, baseArgs())
	mediaNSG := r.m.One(t, native.TypeNetworkSecurityGroup, "-media")
	for _, name := range []string{cluster.PoolSystem, cluster.PoolMedia, cluster.PoolWorkers} {
		p := pool(t, r.m, name)
		public, ok := mocktest.Bool(p, "enableNodePublicIP")
		if !ok {
			t.Errorf("%s: node public IP not set explicitly", name)
		}
		if mocktest.StrMap(p, "nodeLabels")[cluster.PoolLabel] != name {
			t.Errorf("%s: labels %v", name, mocktest.StrMap(p, "nodeLabels"))
		}
		subnet := r.m.One(t, native.TypeSubnet, "-"+name)
		if mocktest.Str(p, "vnetSubnetID") != subnet.Name+"-id" {
			t.Errorf("%s: subnet %q", name, mocktest.Str(p, "vnetSubnetID"))
		}
		nsg := mocktest.Str(subnet.Inputs, "networkSecurityGroup", "id")
		var ports []string
		for _, hp := range mocktest.Objs(p, "networkProfile", "allowedHostPorts") {
			ports = append(ports, mocktest.Str(hp, "protocol")+"/"+strconv.Itoa(mocktest.Num(hp, "portStart"))+"-"+strconv.Itoa(mocktest.Num(hp, "portEnd")))
		}
		if name == cluster.PoolMedia {
			if !public {
				t.Error("media nodes have no public IPs")
			}
			if got := mocktest.Strs(p, "nodeTaints"); !slices.Equal(got, []string{"cellplane.io/media=true:NoSchedule"}) {
				t.Errorf("media taints %v", got)
			}
			if want := []string{"UDP/50000-60000", "TCP/7881-7881", "TCP/5349-5349", "UDP/3478-3478"}; !slices.Equal(ports, want) {
				t.Errorf("media host ports %v, want %v", ports, want)
			}
			if nsg != mediaNSG.Name+"-id" {
				t.Errorf("media subnet security group %q", nsg)
			}
		} else {
			if public || len(mocktest.Strs(p, "nodeTaints")) != 0 || len(ports) != 0 {
				t.Errorf("%s: public %v taints %v host ports %v", name, public, mocktest.Strs(p, "nodeTaints"), ports)
			}
			if nsg != "" {
				t.Errorf("%s subnet carries security group %q", name, nsg)
			}
		}
	}
	var open []string
	for _, rule := range mocktest.Objs(mediaNSG.Inputs, "securityRules") {
		if mocktest.Str(rule, "direction") == "Inbound" && mocktest.Str(rule, "access") == "Allow" && mocktest.Str(rule, "sourceAddressPrefix") == "*" {
			open = append(open, mocktest.Str(rule, "protocol")+"/"+mocktest.Str(rule, "destinationPortRange"))
		}
	}
	if want := []string{"Udp/50000-60000", "Tcp/7881", "Tcp/5349", "Udp/3478"}; !slices.Equal(open, want) {
		t.Errorf("media security group opens %v, want %v", open, want)
	}
	if n := len(r.m.OfType(native.TypeNetworkSecurityGroup)); n != 1 {
		t.Errorf("%d security groups; only media's has rules of ours", n)
	}
}

func TestWorkersBoundsFollowSizing(t *testing.T) {
	for _, z := range spec.Sizings {
		t.Run(string(z), func(t *testing.T) {
			args := baseArgs()
			args.Sizing = z
			r := run(t, args)
			p := pool(t, r.m, cluster.PoolWorkers)
			want := cluster.Bounds[z].Workers
			if v, _ := mocktest.Bool(p, "enableAutoScaling"); !v {
				t.Error("workers do not autoscale")
			}
			if min, max := mocktest.Num(p, "minCount"), mocktest.Num(p, "maxCount"); min != want[0] || max != want[1] {
				t.Errorf("workers %d..%d, want %d..%d", min, max, want[0], want[1])
			}
			if got := mocktest.Str(p, "vmSize"); got != Sizes[z].Workers.InstanceType {
				t.Errorf("vm size %q", got)
			}
			if got := mocktest.Num(r.m.One(t, native.TypeRedis, "-redis").Inputs, "sku", "capacity"); got != RedisCapacity[z] {
				t.Errorf("redis capacity %d", got)
			}
		})
	}
}

func TestSecretsEncryptionUsesTheBYOKKey(t *testing.T) {
	const byok = "https://hospital-keys.vault.azure.net/keys/aks/6f1c2d3e4b5a"
	args := baseArgs()
	args.KMSKeyID = byok
	r := run(t, args)
	mc := r.m.One(t, native.TypeManagedCluster, "cell")
	if got := mocktest.Str(mc.Inputs, "securityProfile", "azureKeyVaultKms", "keyId"); got != byok {
		t.Errorf("KMS key %q", got)
	}
	if v, _ := mocktest.Bool(mc.Inputs, "securityProfile", "azureKeyVaultKms", "enabled"); !v {
		t.Error("KMS off")
	}
	if keys := r.m.OfType(native.TypeKey); len(keys) != 0 {
		t.Error("a key was created although the customer brought one")
	}
}

func TestSecretsEncryptionCreatesAProtectedKeyOtherwise(t *testing.T) {
	r := run(t, baseArgs())
	key := r.m.One(t, native.TypeKey, "-secrets")
	vault := r.m.One(t, native.TypeVault, "-keys")
	if !key.Protect || !vault.Protect {
		t.Error("key material is not protected")
	}
	for _, k := range []string{"enablePurgeProtection", "enableSoftDelete", "enableRbacAuthorization"} {
		if v, _ := mocktest.Bool(vault.Inputs, "properties", k); !v {
			t.Errorf("vault %s off", k)
		}
	}
	if got := mocktest.Str(vault.Inputs, "properties", "tenantId"); got != "tenant-1" {
		t.Errorf("vault tenant %q", got)
	}
	mc := r.m.One(t, native.TypeManagedCluster, "cell")
	if got := mocktest.Str(mc.Inputs, "securityProfile", "azureKeyVaultKms", "keyId"); got != "https://cp-nhs-trust-k3x9q2.vault.azure.net/keys/aks-secrets/0123abcd" {
		t.Errorf("KMS key %q, want the created key's versioned id", got)
	}
	// The control plane's identity may use the key before the cluster is created.
	grant := r.m.One(t, native.TypeRoleAssignment, "-kms")
	if !strings.HasSuffix(mocktest.Str(grant.Inputs, "roleDefinitionId"), roleKeyVaultCryptoUser) ||
		mocktest.Str(grant.Inputs, "scope") != vault.Name+"-id" || mocktest.Str(grant.Inputs, "principalId") != "principal-cell-control-plane" {
		t.Errorf("kms grant %v", grant.Inputs)
	}
	if !slices.Contains(mc.DependsOn, grant.URN) {
		t.Error("the cluster does not wait for its key access")
	}
}

func TestRedisHasTLSAuthAndHA(t *testing.T) {
	r := run(t, baseArgs())
	redis := r.m.One(t, native.TypeRedis, "-redis")
	if v, ok := mocktest.Bool(redis.Inputs, "enableNonSslPort"); !ok || v {
		t.Error("the plaintext port is not explicitly off")
	}
	if got := mocktest.Str(redis.Inputs, "minimumTlsVersion"); got != "1.2" {
		t.Errorf("minimum TLS %q", got)
	}
	if got := mocktest.Str(redis.Inputs, "redisConfiguration", "authnotrequired"); got != "false" {
		t.Errorf("authnotrequired %q", got)
	}
	if mocktest.Str(redis.Inputs, "sku", "name") != "Premium" || mocktest.Num(redis.Inputs, "replicasPerPrimary") < 1 ||
		!slices.Equal(mocktest.Strs(redis.Inputs, "zones"), []string{"1", "2", "3"}) {
		t.Errorf("redis is not zone-redundant Premium with a replica: %v", redis.Inputs)
	}
	if !redis.Protect {
		t.Error("not protected")
	}
	if r.redisAuth != "redis-primary-key" || !r.c.Outputs.RedisTLS {
		t.Errorf("auth %q tls %v", r.redisAuth, r.c.Outputs.RedisTLS)
	}
	args := baseArgs()
	args.DeletionProtection = false
	r = run(t, args)
	for _, typ := range []string{native.TypeRedis, native.TypeKey, native.TypeVault} {
		for _, res := range r.m.OfType(typ) {
			if res.Protect {
				t.Errorf("%s stays protected although the stack turned protection off", res.Name)
			}
		}
	}
}

// taggable maps every Azure type the component may declare to the input holding its tags
// (nil: ARM has no tags for it); unknown types fail the test.
var taggable = map[string][]string{
	native.TypeResourceGroup: {"tags"}, native.TypeVirtualNetwork: {"tags"}, native.TypeNetworkSecurityGroup: {"tags"},
	native.TypeUserAssignedIdentity: {"tags"}, native.TypeVault: {"tags"}, native.TypeKey: {"tags"},
	native.TypeManagedCluster: {"tags"}, native.TypeAgentPool: {"tags"}, native.TypeRedis: {"tags"},
	native.TypePublicIPAddress: {"tags"}, native.TypeRecordSet: {"metadata"},

	native.TypeSubnet: nil, native.TypeRoleAssignment: nil, "random:index/randomString:RandomString": nil, tK8s: nil,
}

func TestEveryTaggableResourceCarriesOrgCloudRegion(t *testing.T) {
	r := run(t, baseArgs())
	want := map[string]string{"cellplane-org": "nhs-trust", "cellplane-cloud": "azure", "cellplane-region": "uksouth"}
	for _, res := range r.m.Resources() {
		if !res.Custom {
			continue
		}
		path, known := taggable[res.Type]
		if !known {
			t.Errorf("%s (%s) is not classified as taggable or not", res.Name, res.Type)
			continue
		}
		if path == nil {
			continue
		}
		tags := mocktest.StrMap(res.Inputs, path...)
		for k, v := range want {
			if tags[k] != v {
				t.Errorf("%s (%s): tag %s = %q, want %q", res.Name, res.Type, k, tags[k], v)
			}
		}
	}
	// The inline system pool's nodes are tagged too.
	if pool(t, r.m, cluster.PoolSystem) != nil && mocktest.StrMap(pool(t, r.m, cluster.PoolSystem), "tags")["cellplane-org"] != "nhs-trust" {
		t.Error("system pool untagged")
	}
}

func TestRegionComesFromArgsAndChildrenAreParented(t *testing.T) {
	args := baseArgs()
	args.Region = "germanywestcentral"
	r := run(t, args)
	for _, res := range r.m.Resources() {
		if loc := mocktest.Str(res.Inputs, "location"); res.Custom && loc != "" && loc != "germanywestcentral" {
			t.Errorf("%s in %q", res.Name, loc)
		}
	}
	for _, typ := range []string{native.TypeResourceGroup, native.TypeManagedCluster, native.TypeRedis, native.TypeVault, native.TypeVirtualNetwork} {
		for _, res := range r.m.OfType(typ) {
			if mocktest.Str(res.Inputs, "location") != "germanywestcentral" {
				t.Errorf("%s has no location from args", res.Name)
			}
		}
	}
	comp := r.m.One(t, "cellplane:azure:Cluster", "cell")
	for _, res := range r.m.Resources() {
		if res.URN != comp.URN && res.Parent != comp.URN {
			t.Errorf("%s (%s) is not parented to the component", res.Name, res.Type)
		}
		if strings.HasPrefix(res.Type, "azure-native:") && res.Version != "2.90.0" {
			t.Errorf("%s asks for plugin %q", res.Name, res.Version)
		}
	}
	// A region without availability zones gets no zone lists (ARM would reject them).
	args.Region = "ukwest"
	r = run(t, args)
	if z := mocktest.Strs(r.m.One(t, native.TypeRedis, "-redis").Inputs, "zones"); len(z) != 0 {
		t.Errorf("zones %v in a zoneless region", z)
	}
}

func TestUnknownRegionIsRejectedBeforeAnythingIsRegistered(t *testing.T) {
	for _, region := range []string{"europe-west3", "uk-south", ""} {
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

func TestTeardownOrderAndIngress(t *testing.T) {
	r := run(t, baseArgs())
	prov := r.m.One(t, tK8s, "cell")
	for _, p := range append(r.m.OfType(native.TypeAgentPool), r.m.One(t, native.TypeManagedCluster, "cell")) {
		if !slices.Contains(prov.DependsOn, p.URN) {
			t.Errorf("the Kubernetes provider does not depend on %s", p.Name)
		}
	}
	// Subnets are written one after another.
	for _, name := range []string{cluster.PoolWorkers, cluster.PoolMedia, "redis"} {
		if !r.m.DependsOnType(r.m.One(t, native.TypeSubnet, "-"+name), native.TypeSubnet) {
			t.Errorf("subnet %s does not wait for the previous one", name)
		}
	}
	rec := r.m.One(t, native.TypeRecordSet, "-ingress")
	if mocktest.Str(rec.Inputs, "relativeRecordSetName") != "nhs-trust" || mocktest.Str(rec.Inputs, "zoneName") != "cells.cellplane.io" ||
		mocktest.Str(rec.Inputs, "resourceGroupName") != DNSResourceGroup || mocktest.Str(rec.Inputs, "aRecords", "0", "ipv4Address") != "20.0.0.5" {
		t.Errorf("ingress record %v", rec.Inputs)
	}
	if r.annotations["service.beta.kubernetes.io/azure-pip-name"] != "cellplane-nhs-trust-ingress" ||
		r.annotations["service.beta.kubernetes.io/azure-load-balancer-resource-group"] != "cellplane-nhs-trust" {
		t.Errorf("ingress annotations %v", r.annotations)
	}
}

func TestValidKeyID(t *testing.T) {
	for id, ok := range map[string]bool{
		"https://hospital-keys.vault.azure.net/keys/aks/6f1c2d3e4b5a": true,
		"https://hospital-keys.vault.azure.net/keys/aks":              false, // AKS needs the version
		"arn:aws:kms:us-east-1:111122223333:key/x":                    false,
		"http://hospital-keys.vault.azure.net/keys/aks/1":             false,
	} {
		if ValidKeyID(id) != ok {
			t.Errorf("ValidKeyID(%q) = %v", id, !ok)
		}
	}
}
