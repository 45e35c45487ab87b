package aws

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/mocktest"
	"github.com/cellplane/cellplane/infra/spec"
)

const (
	tEKS        = "aws:eks/cluster:Cluster"
	tNodeGroup  = "aws:eks/nodeGroup:NodeGroup"
	tLT         = "aws:ec2/launchTemplate:LaunchTemplate"
	tSubnet     = "aws:ec2/subnet:Subnet"
	tSG         = "aws:ec2/securityGroup:SecurityGroup"
	tRouteTable = "aws:ec2/routeTable:RouteTable"
	tKey        = "aws:kms/key:Key"
	tRedis      = "aws:elasticache/replicationGroup:ReplicationGroup"
	tProvider   = "pulumi:providers:aws"
	tK8s        = "pulumi:providers:kubernetes"
	tRecord     = "aws:route53/record:Record"
)

func baseArgs() cluster.Args {
	return cluster.Args{Org: "mercy-health", Region: "us-east-1", Sizing: spec.Medium, PrivateEndpoint: true,
		DNSZone: "cells.cellplane.io", DeletionProtection: true}
}

type result struct {
	m          *mocktest.Mocks
	c          *Cluster
	kubeconfig string
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
	eks := r.m.One(t, tEKS, "cell")
	if v, _ := mocktest.Bool(eks.Inputs, "vpcConfig", "endpointPrivateAccess"); !v {
		t.Error("private endpoint access is off")
	}
	if v, ok := mocktest.Bool(eks.Inputs, "vpcConfig", "endpointPublicAccess"); !ok || v {
		t.Errorf("public endpoint access = %v (set: %v), want explicitly false", v, ok)
	}
	// The control plane's interfaces live in the private subnets only.
	private := subnetIDs(r.m, false)
	if got := mocktest.Strs(eks.Inputs, "vpcConfig", "subnetIds"); !sameSet(got, private) {
		t.Errorf("cluster subnets = %v, want the private ones %v", got, private)
	}
	if !strings.Contains(r.kubeconfig, "https://ABCDEF.gr7.eks.amazonaws.com") || !strings.Contains(r.kubeconfig, `"get-token"`) {
		t.Errorf("kubeconfig does not reach the cluster through aws eks get-token:\n%s", r.kubeconfig)
	}
	prov := r.m.One(t, tK8s, "cell")
	if !mocktest.IsSecret(prov.Inputs, "kubeconfig") {
		t.Error("the Kubernetes provider's kubeconfig is not a secret")
	}
}

func TestAllowedCIDRsAreTheOnlyPublicReach(t *testing.T) {
	args := baseArgs()
	args.AllowedCIDRs = []string{"203.0.113.0/24", "198.51.100.10/32"}
	r := run(t, args)
	eks := r.m.One(t, tEKS, "cell")
	if v, _ := mocktest.Bool(eks.Inputs, "vpcConfig", "endpointPublicAccess"); !v {
		t.Fatal("allowed CIDRs given but no public endpoint for them")
	}
	if got := mocktest.Strs(eks.Inputs, "vpcConfig", "publicAccessCidrs"); !slices.Equal(got, args.AllowedCIDRs) {
		t.Errorf("publicAccessCidrs = %v, want exactly %v", got, args.AllowedCIDRs)
	}
	if v, _ := mocktest.Bool(eks.Inputs, "vpcConfig", "endpointPrivateAccess"); !v {
		t.Error("private endpoint access is off")
	}
}

// subnetIDs returns the mock ids of the public or private subnets.
func subnetIDs(m *mocktest.Mocks, public bool) []string {
	var out []string
	for _, s := range m.OfType(tSubnet) {
		if v, _ := mocktest.Bool(s.Inputs, "mapPublicIpOnLaunch"); v == public {
			out = append(out, s.Name+"-id")
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return len(a) > 0 && slices.Equal(a, b)
}

func TestMediaPoolIsPublicTaintedAndTheOnlyOneOpen(t *testing.T) {
	r := run(t, baseArgs())
	public, private := subnetIDs(r.m, true), subnetIDs(r.m, false)
	if len(public) != 3 || len(private) != 3 {
		t.Fatalf("want 3 public and 3 private subnets, got %v / %v", public, private)
	}
	// Public subnets route to the internet gateway, private ones through NAT only.
	for _, rt := range r.m.OfType(tRouteTable) {
		gw, nat := mocktest.Str(rt.Inputs, "routes", "0", "gatewayId"), mocktest.Str(rt.Inputs, "routes", "0", "natGatewayId")
		if strings.HasSuffix(rt.Name, "-public") != (gw != "" && nat == "") {
			t.Errorf("route table %s: gateway %q nat %q", rt.Name, gw, nat)
		}
	}

	var mediaSG string
	for _, p := range []string{cluster.PoolSystem, cluster.PoolMedia, cluster.PoolWorkers} {
		ng := r.m.One(t, tNodeGroup, "-"+p)
		lt := r.m.One(t, tLT, "-"+p)
		if got := mocktest.Str(ng.Inputs, "launchTemplate", "id"); got != lt.Name+"-id" {
			t.Errorf("%s: node group uses launch template %q", p, got)
		}
		labels := mocktest.StrMap(ng.Inputs, "labels")
		if labels[cluster.PoolLabel] != p {
			t.Errorf("%s: label %s=%q", p, cluster.PoolLabel, labels[cluster.PoolLabel])
		}
		taints := mocktest.Objs(ng.Inputs, "taints")
		subnets := mocktest.Strs(ng.Inputs, "subnetIds")
		publicIP := mocktest.Str(lt.Inputs, "networkInterfaces", "0", "associatePublicIpAddress")
		if p == cluster.PoolMedia {
			if !sameSet(subnets, public) {
				t.Errorf("media subnets = %v, want the public ones", subnets)
			}
			if publicIP != "true" {
				t.Errorf("media launch template associatePublicIpAddress = %q", publicIP)
			}
			if len(taints) != 1 || mocktest.Str(taints[0], "key") != cluster.MediaTaintKey ||
				mocktest.Str(taints[0], "value") != "true" || mocktest.Str(taints[0], "effect") != "NO_SCHEDULE" {
				t.Errorf("media taints = %v", taints)
			}
			sgs := mocktest.Strs(lt.Inputs, "networkInterfaces", "0", "securityGroups")
			if !slices.Contains(sgs, "sg-cluster") || len(sgs) != 2 {
				t.Errorf("media interface security groups = %v, want the cluster's and the media one", sgs)
			}
			for _, sg := range sgs {
				if sg != "sg-cluster" {
					mediaSG = sg
				}
			}
		} else {
			if !sameSet(subnets, private) {
				t.Errorf("%s subnets = %v, want the private ones", p, subnets)
			}
			if publicIP != "" || len(mocktest.Objs(lt.Inputs, "networkInterfaces")) != 0 {
				t.Errorf("%s launch template asks for public IPs", p)
			}
			if len(taints) != 0 {
				t.Errorf("%s taints = %v", p, taints)
			}
		}
	}

	// Open to the world: exactly LiveKit's ports, and only on the media security group.
	for _, sg := range r.m.OfType(tSG) {
		var open []string
		for _, in := range mocktest.Objs(sg.Inputs, "ingress") {
			if slices.Contains(mocktest.Strs(in, "cidrBlocks"), "0.0.0.0/0") {
				open = append(open, fmt.Sprintf("%s/%d-%d", mocktest.Str(in, "protocol"), mocktest.Num(in, "fromPort"), mocktest.Num(in, "toPort")))
			}
		}
		if sg.Name+"-id" == mediaSG {
			want := []string{"udp/50000-60000", "tcp/7881-7881", "tcp/5349-5349", "udp/3478-3478"}
			if !slices.Equal(open, want) {
				t.Errorf("media security group opens %v to the world, want %v", open, want)
			}
		} else if len(open) > 0 {
			t.Errorf("security group %s opens %v to the world", sg.Name, open)
		}
	}
	if mediaSG == "" {
		t.Error("no media security group found on the media interface")
	}
}

func TestWorkersBoundsFollowSizing(t *testing.T) {
	for _, z := range spec.Sizings {
		t.Run(string(z), func(t *testing.T) {
			args := baseArgs()
			args.Sizing = z
			r := run(t, args)
			ng := r.m.One(t, tNodeGroup, "-workers")
			want := cluster.Bounds[z].Workers
			if min, max := mocktest.Num(ng.Inputs, "scalingConfig", "minSize"), mocktest.Num(ng.Inputs, "scalingConfig", "maxSize"); min != want[0] || max != want[1] {
				t.Errorf("workers %d..%d, want %d..%d", min, max, want[0], want[1])
			}
			if got := mocktest.Strs(ng.Inputs, "instanceTypes"); !slices.Equal(got, []string{Sizes[z].Workers.InstanceType}) {
				t.Errorf("workers instance types %v, want %s", got, Sizes[z].Workers.InstanceType)
			}
			if !slices.Contains(ng.IgnoreChanges, "scalingConfig.desiredSize") {
				t.Error("desired size is not left to the autoscaler")
			}
			redis := r.m.One(t, tRedis, "-redis")
			if got := mocktest.Str(redis.Inputs, "nodeType"); got != RedisNodeTypes[z] {
				t.Errorf("redis node type %q, want %q", got, RedisNodeTypes[z])
			}
		})
	}
}

func TestSecretsEncryptionUsesTheBYOKKey(t *testing.T) {
	const byok = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	args := baseArgs()
	args.KMSKeyID = byok
	r := run(t, args)
	eks := r.m.One(t, tEKS, "cell")
	if got := mocktest.Str(eks.Inputs, "encryptionConfig", "provider", "keyArn"); got != byok {
		t.Errorf("secrets encrypted with %q, want the customer's key", got)
	}
	if got := mocktest.Strs(eks.Inputs, "encryptionConfig", "resources"); !slices.Equal(got, []string{"secrets"}) {
		t.Errorf("encrypted resources = %v", got)
	}
	if keys := r.m.OfType(tKey); len(keys) != 0 {
		t.Errorf("a key was created although the customer brought one: %v", keys[0].Name)
	}
	if got := mocktest.Str(r.m.One(t, tRedis, "-redis").Inputs, "kmsKeyId"); got != byok {
		t.Errorf("redis at rest uses %q", got)
	}
}

func TestSecretsEncryptionCreatesAProtectedKeyOtherwise(t *testing.T) {
	r := run(t, baseArgs())
	key := r.m.One(t, tKey, "-secrets")
	if v, _ := mocktest.Bool(key.Inputs, "enableKeyRotation"); !v {
		t.Error("key rotation is off")
	}
	if !key.Protect {
		t.Error("the created key is not protected from deletion")
	}
	eks := r.m.One(t, tEKS, "cell")
	if got := mocktest.Str(eks.Inputs, "encryptionConfig", "provider", "keyArn"); got != "arn:aws:service:us-east-1:123456789012:"+key.Name {
		t.Errorf("secrets encrypted with %q, want the created key", got)
	}
}

func TestRedisHasTLSAuthAndHA(t *testing.T) {
	r := run(t, baseArgs())
	redis := r.m.One(t, tRedis, "-redis")
	for _, k := range []string{"transitEncryptionEnabled", "atRestEncryptionEnabled", "automaticFailoverEnabled", "multiAzEnabled"} {
		if v, _ := mocktest.Bool(redis.Inputs, k); !v {
			t.Errorf("redis %s is not on", k)
		}
	}
	if n := mocktest.Num(redis.Inputs, "numCacheClusters"); n < 2 {
		t.Errorf("redis has %d nodes; HA needs a replica", n)
	}
	if len(mocktest.Str(redis.Inputs, "authToken")) < 32 || !mocktest.IsSecret(redis.Inputs, "authToken") {
		t.Error("redis AUTH token missing, short or not secret")
	}
	if !redis.Protect {
		t.Error("redis is not protected from deletion")
	}
	if !r.c.Outputs.RedisTLS {
		t.Error("outputs say Redis is not TLS")
	}
	// The stack may turn protection off (e.g. a throwaway cell).
	args := baseArgs()
	args.DeletionProtection = false
	r = run(t, args)
	if r.m.One(t, tRedis, "-redis").Protect || r.m.One(t, tKey, "-secrets").Protect {
		t.Error("protection stays on although the stack turned it off")
	}
}

// taggable lists every AWS resource type the component may declare and whether AWS lets it
// carry tags; a type missing here fails the test, so a new resource must be classified.
var taggable = map[string]bool{
	"aws:ec2/vpc:Vpc": true, "aws:ec2/internetGateway:InternetGateway": true, tRouteTable: true, tSubnet: true,
	"aws:ec2/eip:Eip": true, "aws:ec2/natGateway:NatGateway": true, tSG: true, tLT: true,
	"aws:kms/key:Key": true, "aws:iam/role:Role": true, "aws:iam/policy:Policy": true,
	"aws:iam/openIdConnectProvider:OpenIdConnectProvider": true, "aws:cloudwatch/logGroup:LogGroup": true,
	tEKS: true, tNodeGroup: true, "aws:elasticache/subnetGroup:SubnetGroup": true, tRedis: true,
	"aws:acm/certificate:Certificate": true,

	"aws:ec2/routeTableAssociation:RouteTableAssociation": false, "aws:kms/alias:Alias": false,
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": false, "aws:iam/rolePolicy:RolePolicy": false,
	tRecord: false, "aws:acm/certificateValidation:CertificateValidation": false,
	"random:index/randomPassword:RandomPassword": false, tProvider: false, tK8s: false,
}

func TestEveryTaggableResourceCarriesOrgCloudRegion(t *testing.T) {
	r := run(t, baseArgs())
	want := map[string]string{"cellplane-org": "mercy-health", "cellplane-cloud": "aws", "cellplane-region": "us-east-1"}
	for _, res := range r.m.Resources() {
		if !res.Custom {
			continue
		}
		tagged, known := taggable[res.Type]
		if !known {
			t.Errorf("%s (%s) is not classified as taggable or not", res.Name, res.Type)
			continue
		}
		if !tagged {
			continue
		}
		tags := mocktest.StrMap(res.Inputs, "tags")
		for k, v := range want {
			if tags[k] != v {
				t.Errorf("%s (%s): tag %s = %q, want %q", res.Name, res.Type, k, tags[k], v)
			}
		}
	}
	// What node groups launch is tagged too (EKS does not copy node group tags to instances).
	for _, lt := range r.m.OfType(tLT) {
		for _, ts := range mocktest.Objs(lt.Inputs, "tagSpecifications") {
			if mocktest.StrMap(ts, "tags")["cellplane-org"] != "mercy-health" {
				t.Errorf("%s: %s launched untagged", lt.Name, mocktest.Str(ts, "resourceType"))
			}
		}
	}
}

func TestRegionComesFromArgsAndChildrenAreParented(t *testing.T) {
	args := baseArgs()
	args.Region = "eu-central-1"
	r := run(t, args)
	prov := r.m.One(t, tProvider, "cell")
	if got := mocktest.Str(prov.Inputs, "region"); got != "eu-central-1" {
		t.Errorf("provider region %q", got)
	}
	comp := r.m.One(t, "cellplane:aws:Cluster", "cell")
	for _, res := range r.m.Resources() {
		if res.URN == comp.URN {
			continue
		}
		if res.Parent != comp.URN {
			t.Errorf("%s (%s) is not parented to the component", res.Name, res.Type)
		}
		if res.Custom && strings.HasPrefix(res.Type, "aws:") && res.Provider == "" {
			t.Errorf("%s does not use the region-pinned provider", res.Name)
		}
	}
}

func TestUnknownRegionIsRejectedBeforeAnythingIsRegistered(t *testing.T) {
	for _, region := range []string{"uksouth", "mars-north-1", ""} {
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
			t.Errorf("region %q: %d resources registered before the rejection", region, n)
		}
	}
}

func TestTeardownOrder(t *testing.T) {
	r := run(t, baseArgs())
	prov := r.m.One(t, tK8s, "cell")
	var groups []string
	for _, ng := range r.m.OfType(tNodeGroup) {
		groups = append(groups, ng.URN)
		// Nodes in private subnets need their NAT route to join; on teardown the NAT stays
		// until the nodes are gone.
		if !r.m.DependsOnType(ng, "aws:ec2/routeTableAssociation:RouteTableAssociation") {
			t.Errorf("%s does not wait for the private routes", ng.Name)
		}
	}
	for _, g := range groups {
		if !slices.Contains(prov.DependsOn, g) {
			t.Errorf("the Kubernetes provider does not depend on %s: platform load balancers could outlive the nodes", g)
		}
	}
	eks := r.m.One(t, tEKS, "cell")
	if !r.m.DependsOnType(eks, tSubnet) {
		t.Error("the cluster does not depend on its subnets (the VPC could go first)")
	}
	// The ingress DNS record points at addresses the load balancer will use.
	rec := r.m.One(t, tRecord, "-ingress")
	if got := mocktest.Strs(rec.Inputs, "records"); len(got) != 3 || mocktest.Str(rec.Inputs, "name") != "mercy-health.cells.cellplane.io" {
		t.Errorf("ingress record %s -> %v", mocktest.Str(rec.Inputs, "name"), got)
	}
	// The hostname's ACM certificate is validated through the same zone.
	cert := r.m.One(t, "aws:acm/certificate:Certificate", "-ingress")
	if mocktest.Str(cert.Inputs, "domainName") != "mercy-health.cells.cellplane.io" || mocktest.Str(cert.Inputs, "validationMethod") != "DNS" {
		t.Errorf("certificate %v", cert.Inputs)
	}
	vrec := r.m.One(t, tRecord, "-ingress-validation")
	if mocktest.Str(vrec.Inputs, "zoneId") != "Z123" || mocktest.Str(vrec.Inputs, "name") != "_x.mercy-health.cells.cellplane.io" {
		t.Errorf("validation record %v", vrec.Inputs)
	}
	valid := r.m.One(t, "aws:acm/certificateValidation:CertificateValidation", "-ingress")
	if got := mocktest.Strs(valid.Inputs, "validationRecordFqdns"); len(got) != 1 || got[0] != "_x.mercy-health.cells.cellplane.io" {
		t.Errorf("validation waits for %v", got)
	}
}
