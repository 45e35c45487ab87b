// Package gcp is the GCP implementation of the cluster contract: a VPC with a subnetwork and
// secondary ranges for pods and services, Cloud NAT for the private nodes, a regional GKE
// cluster with a private endpoint, master authorized networks, Workload Identity and
// application-layer secrets encryption with a Cloud KMS key, node pools system / workers
// (private nodes) and media (public node IPs, tainted, the only target of the RTC firewall
// rule), Memorystore Redis (STANDARD_HA, AUTH, TLS) and the org's hostname in Cloud DNS.
//
// Region comes from the stack (every regional resource names it); the project is the GCP
// provider's (gcp:project), as usual for a Pulumi GCP program.
package gcp

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/compute"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/container"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/dns"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/kms"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/organizations"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/redis"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/internal/cloud"
	"github.com/cellplane/cellplane/infra/spec"
)

// Sizing: machine types per sizing (system, media, workers); bounds from cluster.Bounds.
var machineTypes = map[spec.Sizing][3]string{
	spec.Small:  {"e2-standard-2", "c2-standard-4", "n2-standard-4"},
	spec.Medium: {"e2-standard-4", "c2-standard-8", "n2-standard-8"},
	spec.Large:  {"n2-standard-4", "c2-standard-16", "n2-standard-16"},
}

// Sizes is the GCP sizing table of the node pools.
var Sizes = cloud.PoolTable(machineTypes, [3]int{50, 50, 100})

// RedisMemoryGB is the Memorystore size per sizing.
var RedisMemoryGB = map[spec.Sizing]int{spec.Small: 5, spec.Medium: 10, spec.Large: 25}

const (
	nodesCIDR    = "10.0.0.0/20"
	podsCIDR     = "10.4.0.0/14"
	servicesCIDR = "10.8.0.0/20"
	masterCIDR   = "172.16.0.0/28"
	// MediaTag is the network tag of media nodes: the RTC firewall rule targets it alone.
	MediaTag = "cellplane-media"
	nodesTag = "cellplane-nodes"
)

// nodeRoles are all a node's service account may do: ship logs and metrics, pull images.
var nodeRoles = []string{
	"roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/monitoring.viewer",
	"roles/stackdriver.resourceMetadata.writer", "roles/artifactregistry.reader",
}

// Cluster is a GKE cluster with everything the platform needs around it.
type Cluster struct {
	pulumi.ResourceState

	Outputs     cluster.Outputs
	ClusterName pulumi.StringOutput
	// NodeServiceAccount is the nodes' identity (Workload Identity maps pods to others).
	NodeServiceAccount pulumi.StringOutput
}

// NewCluster is the cluster.Builder for GCP.
func NewCluster(ctx *pulumi.Context, name string, args cluster.Args, opts ...pulumi.ResourceOption) (*cluster.Outputs, error) {
	c, err := New(ctx, name, args, opts...)
	if err != nil {
		return nil, err
	}
	return &c.Outputs, nil
}

// New declares the cluster. Args are validated (region, pools, ports) before anything is
// registered; missing pools come from Sizes by sizing.
func New(ctx *pulumi.Context, name string, args cluster.Args, opts ...pulumi.ResourceOption) (*Cluster, error) {
	args, err := cloud.Prepare(spec.GCP, args, Sizes)
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource("cellplane:gcp:Cluster", name, c, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, name: name, args: args, c: c, labels: Labels(args.Tags),
		clusterName: cloud.ShortName("cellplane", args.Org, "-", 40)}
	for _, step := range []func() error{b.project, b.vpc, b.key, b.nodeIdentity, b.gke, b.pools, b.memorystore, b.dns, b.outputs} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

type builder struct {
	ctx         *pulumi.Context
	name        string
	args        cluster.Args
	c           *Cluster
	labels      pulumi.StringMap
	clusterName string

	projectID, projectNumber string
	network                  *compute.Network
	subnet                   *compute.Subnetwork
	nat                      *compute.RouterNat
	keyName                  pulumi.StringInput
	keyAccess                []pulumi.Resource
	nodeSA                   *serviceaccount.Account
	nodeSADeps               []pulumi.Resource
	gkeCluster               *container.Cluster
	nodePools                []pulumi.Resource
	redisInstance            *redis.Instance
	address                  *compute.Address
	hostname                 pulumi.StringOutput
}

func (b *builder) opts(more ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append([]pulumi.ResourceOption{pulumi.Parent(b.c)}, more...)
}

var labelBad = regexp.MustCompile(`[^a-z0-9_-]`)

// Labels turns tags into GCP labels (lowercase letters, digits, '_' and '-'; at most 63).
func Labels(tags map[string]string) pulumi.StringMap {
	clean := func(s string) string {
		s = labelBad.ReplaceAllString(strings.ToLower(s), "_")
		return s[:min(len(s), 63)]
	}
	m := pulumi.StringMap{}
	for k, v := range tags {
		m[clean(k)] = pulumi.String(clean(v))
	}
	return m
}

// project reads the provider's project: its id names the Workload Identity pool, its number
// the GKE service agent that must use the KMS key.
func (b *builder) project() error {
	p, err := organizations.LookupProject(b.ctx, nil)
	if err != nil {
		return err
	}
	if p.ProjectId == nil || p.Number == "" {
		return fmt.Errorf("gcp cluster: the provider's project is unknown (set gcp:project)")
	}
	b.projectID, b.projectNumber = *p.ProjectId, p.Number
	return nil
}

func (b *builder) vpc() error {
	ctx, n, region := b.ctx, b.name, pulumi.String(b.args.Region)
	var err error
	b.network, err = compute.NewNetwork(ctx, n+"-vpc", &compute.NetworkArgs{
		AutoCreateSubnetworks: pulumi.Bool(false), RoutingMode: pulumi.String("REGIONAL"),
		Description: pulumi.Sprintf("cellplane %s", b.args.Org),
	}, b.opts()...)
	if err != nil {
		return err
	}
	b.subnet, err = compute.NewSubnetwork(ctx, n+"-nodes", &compute.SubnetworkArgs{
		Network: b.network.ID(), Region: region, IpCidrRange: pulumi.String(nodesCIDR),
		PrivateIpGoogleAccess: pulumi.Bool(true),
		SecondaryIpRanges: compute.SubnetworkSecondaryIpRangeArray{
			compute.SubnetworkSecondaryIpRangeArgs{RangeName: pulumi.String("pods"), IpCidrRange: pulumi.String(podsCIDR)},
			compute.SubnetworkSecondaryIpRangeArgs{RangeName: pulumi.String("services"), IpCidrRange: pulumi.String(servicesCIDR)},
		},
	}, b.opts()...)
	if err != nil {
		return err
	}
	router, err := compute.NewRouter(ctx, n+"-router", &compute.RouterArgs{Network: b.network.ID(), Region: region}, b.opts()...)
	if err != nil {
		return err
	}
	// Egress for the private nodes; media nodes have their own public IPs and bypass it.
	b.nat, err = compute.NewRouterNat(ctx, n+"-nat", &compute.RouterNatArgs{
		Router: router.Name, Region: region,
		NatIpAllocateOption:           pulumi.String("AUTO_ONLY"),
		SourceSubnetworkIpRangesToNat: pulumi.String("ALL_SUBNETWORKS_ALL_IP_RANGES"),
		LogConfig:                     compute.RouterNatLogConfigArgs{Enable: pulumi.Bool(true), Filter: pulumi.String("ERRORS_ONLY")},
	}, b.opts()...)
	if err != nil {
		return err
	}
	// The one rule open to the world: LiveKit's RTC ports, on media nodes only.
	var allows compute.FirewallAllowArray
	for _, p := range cloud.RTCPorts(b.args) {
		ports := fmt.Sprint(p.From)
		if p.To != p.From {
			ports = fmt.Sprintf("%d-%d", p.From, p.To)
		}
		allows = append(allows, compute.FirewallAllowArgs{Protocol: pulumi.String(p.Protocol), Ports: pulumi.StringArray{pulumi.String(ports)}})
	}
	_, err = compute.NewFirewall(ctx, n+"-media-rtc", &compute.FirewallArgs{
		Network: b.network.ID(), Direction: pulumi.String("INGRESS"), Priority: pulumi.Int(1000),
		Description:  pulumi.String("LiveKit RTC from anywhere to the media nodes' public IPs"),
		SourceRanges: pulumi.StringArray{pulumi.String("0.0.0.0/0")},
		TargetTags:   pulumi.StringArray{pulumi.String(MediaTag)},
		Allows:       allows,
	}, b.opts()...)
	if err != nil {
		return err
	}
	// A private cluster's control plane reaches nodes on 443 and 10250 only; admission
	// webhooks of the platform's controllers (ingress-nginx 8443, others 9443) need these.
	_, err = compute.NewFirewall(ctx, n+"-master-webhooks", &compute.FirewallArgs{
		Network: b.network.ID(), Direction: pulumi.String("INGRESS"), Priority: pulumi.Int(1000),
		Description:  pulumi.String("GKE control plane to admission webhooks on the nodes"),
		SourceRanges: pulumi.StringArray{pulumi.String(masterCIDR)},
		TargetTags:   pulumi.StringArray{pulumi.String(nodesTag)},
		Allows: compute.FirewallAllowArray{compute.FirewallAllowArgs{Protocol: pulumi.String("tcp"),
			Ports: pulumi.ToStringArray([]string{"8443", "9443"})}},
	}, b.opts()...)
	return err
}

// key is the Cloud KMS key for application-layer secrets encryption: the customer's (BYOK)
// when the stack names one, else a key ring and key created here (regional, like the
// cluster), rotated every 90 days, protected. The GKE service agent may use the created key;
// a BYOK key's owner grants that themselves.
func (b *builder) key() error {
	if b.args.KMSKeyID != "" {
		b.keyName = pulumi.String(b.args.KMSKeyID)
		return nil
	}
	protect := pulumi.Protect(b.args.DeletionProtection)
	// Key rings cannot be deleted in GCP; names are generated so a re-created stack never
	// collides with a ring left behind by an earlier one.
	ring, err := kms.NewKeyRing(b.ctx, b.name+"-keys", &kms.KeyRingArgs{Location: pulumi.String(b.args.Region)},
		b.opts(protect)...)
	if err != nil {
		return err
	}
	key, err := kms.NewCryptoKey(b.ctx, b.name+"-secrets", &kms.CryptoKeyArgs{
		KeyRing: ring.ID(), Purpose: pulumi.String("ENCRYPT_DECRYPT"),
		RotationPeriod: pulumi.String("7776000s"), DestroyScheduledDuration: pulumi.String("2592000s"),
		Labels: b.labels,
	}, b.opts(protect)...)
	if err != nil {
		return err
	}
	grant, err := kms.NewCryptoKeyIAMMember(b.ctx, b.name+"-secrets-gke", &kms.CryptoKeyIAMMemberArgs{
		CryptoKeyId: key.ID(), Role: pulumi.String("roles/cloudkms.cryptoKeyEncrypterDecrypter"),
		Member: pulumi.String("serviceAccount:service-" + b.projectNumber + "@container-engine-robot.iam.gserviceaccount.com"),
	}, b.opts()...)
	if err != nil {
		return err
	}
	b.keyName, b.keyAccess = key.ID(), []pulumi.Resource{grant}
	return nil
}

func (b *builder) nodeIdentity() error {
	var err error
	b.nodeSA, err = serviceaccount.NewAccount(b.ctx, b.name+"-nodes", &serviceaccount.AccountArgs{
		AccountId:   pulumi.String(cloud.ShortName("cp-nodes", b.args.Org, "-", 30)),
		DisplayName: pulumi.Sprintf("cellplane %s nodes", b.args.Org),
	}, b.opts()...)
	if err != nil {
		return err
	}
	for _, role := range nodeRoles {
		m, err := projects.NewIAMMember(b.ctx, b.name+"-nodes-"+strings.TrimPrefix(role, "roles/"), &projects.IAMMemberArgs{
			Project: pulumi.String(b.projectID), Role: pulumi.String(role),
			Member: pulumi.Sprintf("serviceAccount:%s", b.nodeSA.Email),
		}, b.opts()...)
		if err != nil {
			return err
		}
		b.nodeSADeps = append(b.nodeSADeps, m)
	}
	b.c.NodeServiceAccount = b.nodeSA.Email
	return nil
}

func (b *builder) pinned() bool { return b.args.KubernetesVersion != "" }

func (b *builder) gke() error {
	ep := cloud.APIEndpoint(b.args)
	var authorized container.ClusterMasterAuthorizedNetworksConfigCidrBlockArray
	for _, c := range ep.CIDRs {
		authorized = append(authorized, container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs{
			CidrBlock: pulumi.String(c), DisplayName: pulumi.String("allowed " + c),
		})
	}
	// A pinned version holds the cluster there (no release channel); otherwise the REGULAR
	// channel keeps it patched.
	channel := "REGULAR"
	var version pulumi.StringPtrInput
	if b.pinned() {
		channel, version = "UNSPECIFIED", pulumi.String(b.args.KubernetesVersion)
	}
	var err error
	b.gkeCluster, err = container.NewCluster(b.ctx, b.name, &container.ClusterArgs{
		Name:       pulumi.String(b.clusterName),
		Location:   pulumi.String(b.args.Region), // regional: control plane and nodes in 3 zones
		Network:    b.network.ID(),
		Subnetwork: b.subnet.ID(),
		// Node pools are separate resources; the default pool is created and removed.
		RemoveDefaultNodePool: pulumi.Bool(true),
		InitialNodeCount:      pulumi.Int(1),
		MinMasterVersion:      version,
		ReleaseChannel:        container.ClusterReleaseChannelArgs{Channel: pulumi.String(channel)},
		IpAllocationPolicy: container.ClusterIpAllocationPolicyArgs{
			ClusterSecondaryRangeName: pulumi.String("pods"), ServicesSecondaryRangeName: pulumi.String("services"),
		},
		PrivateClusterConfig: container.ClusterPrivateClusterConfigArgs{
			EnablePrivateNodes:    pulumi.Bool(true),
			EnablePrivateEndpoint: pulumi.Bool(!ep.Public),
			MasterIpv4CidrBlock:   pulumi.String(masterCIDR),
		},
		MasterAuthorizedNetworksConfig: container.ClusterMasterAuthorizedNetworksConfigArgs{
			CidrBlocks: authorized, GcpPublicCidrsAccessEnabled: pulumi.Bool(false),
		},
		DatabaseEncryption: container.ClusterDatabaseEncryptionArgs{
			State: pulumi.String("ENCRYPTED"), KeyName: b.keyName,
		},
		WorkloadIdentityConfig: container.ClusterWorkloadIdentityConfigArgs{
			WorkloadPool: pulumi.String(b.projectID + ".svc.id.goog"),
		},
		// Dataplane V2 enforces NetworkPolicy (the platform's default-deny) natively.
		DatapathProvider: pulumi.String("ADVANCED_DATAPATH"),
		ResourceLabels:   b.labels,
		// The cluster holds no data of its own (Redis and the key are what protection
		// guards); a teardown must be able to remove it.
		DeletionProtection: pulumi.Bool(false),
	}, b.opts(pulumi.DependsOn(b.keyAccess), pulumi.IgnoreChanges([]string{"initialNodeCount"}))...)
	if err != nil {
		return err
	}
	b.c.ClusterName = b.gkeCluster.Name
	return nil
}

func (b *builder) pools() error {
	var version pulumi.StringPtrInput
	if b.pinned() {
		version = b.gkeCluster.MasterVersion // nodes at exactly the control plane's version
	}
	deps := append([]pulumi.Resource{b.nat}, b.nodeSADeps...)
	for _, p := range b.args.Pools.All() {
		var taints container.NodePoolNodeConfigTaintArray
		for _, t := range p.Taints {
			taints = append(taints, container.NodePoolNodeConfigTaintArgs{
				Key: pulumi.String(t.Key), Value: pulumi.String(t.Value), Effect: pulumi.String(cloud.TaintEffect(t.Effect)),
			})
		}
		tags := pulumi.StringArray{pulumi.String(nodesTag)}
		if p.PublicIPs {
			tags = append(tags, pulumi.String(MediaTag))
		}
		np, err := container.NewNodePool(b.ctx, b.name+"-"+p.Name, &container.NodePoolArgs{
			Cluster:          b.gkeCluster.Name,
			Location:         pulumi.String(b.args.Region),
			Version:          version,
			InitialNodeCount: pulumi.Int(1), // per zone; the autoscaler then keeps the totals
			Autoscaling: container.NodePoolAutoscalingArgs{
				TotalMinNodeCount: pulumi.Int(p.Min), TotalMaxNodeCount: pulumi.Int(p.Max),
				LocationPolicy: pulumi.String("BALANCED"),
			},
			Management: container.NodePoolManagementArgs{AutoRepair: pulumi.Bool(true), AutoUpgrade: pulumi.Bool(!b.pinned())},
			// Private nodes except media: LiveKit needs the node's own public address.
			NetworkConfig: container.NodePoolNetworkConfigArgs{EnablePrivateNodes: pulumi.Bool(!p.PublicIPs)},
			NodeConfig: container.NodePoolNodeConfigArgs{
				MachineType:    pulumi.String(p.InstanceType),
				DiskSizeGb:     pulumi.Int(p.DiskSizeGB),
				DiskType:       pulumi.String("pd-balanced"),
				Labels:         pulumi.ToStringMap(p.Labels),
				Taints:         taints,
				Tags:           tags,
				ResourceLabels: b.labels,
				ServiceAccount: b.nodeSA.Email,
				OauthScopes:    pulumi.StringArray{pulumi.String("https://www.googleapis.com/auth/cloud-platform")},
				WorkloadMetadataConfig: container.NodePoolNodeConfigWorkloadMetadataConfigArgs{
					Mode: pulumi.String("GKE_METADATA"),
				},
				ShieldedInstanceConfig: container.NodePoolNodeConfigShieldedInstanceConfigArgs{
					EnableSecureBoot: pulumi.Bool(true), EnableIntegrityMonitoring: pulumi.Bool(true),
				},
			},
		}, b.opts(pulumi.DependsOn(deps), pulumi.IgnoreChanges([]string{"initialNodeCount"}))...)
		if err != nil {
			return err
		}
		b.nodePools = append(b.nodePools, np)
	}
	return nil
}

func (b *builder) memorystore() error {
	replicas := 1
	if b.args.Sizing == spec.Large {
		replicas = 2
	}
	var err error
	b.redisInstance, err = redis.NewInstance(b.ctx, b.name+"-redis", &redis.InstanceArgs{
		Name:                  pulumi.String(cloud.ShortName("cp", b.args.Org, "-", 40)),
		DisplayName:           pulumi.Sprintf("cellplane %s", b.args.Org),
		Region:                pulumi.String(b.args.Region),
		Tier:                  pulumi.String("STANDARD_HA"), // primary + replica in another zone, automatic failover
		ReplicaCount:          pulumi.Int(replicas),
		ReadReplicasMode:      pulumi.String("READ_REPLICAS_ENABLED"),
		MemorySizeGb:          pulumi.Int(RedisMemoryGB[b.args.Sizing]),
		RedisVersion:          pulumi.String("REDIS_7_0"),
		AuthorizedNetwork:     b.network.ID(),
		ConnectMode:           pulumi.String("DIRECT_PEERING"),
		AuthEnabled:           pulumi.Bool(true),
		TransitEncryptionMode: pulumi.String("SERVER_AUTHENTICATION"),
		Labels:                b.labels,
	}, b.opts(pulumi.Protect(b.args.DeletionProtection))...)
	return err
}

// ManagedZoneName is the Cloud DNS managed zone holding dnsZone: by convention its DNS name
// with dots as dashes ("cells.cellplane.io" -> "cells-cellplane-io").
func ManagedZoneName(dnsZone string) string {
	return strings.ReplaceAll(strings.TrimSuffix(dnsZone, "."), ".", "-")
}

// dns reserves the ingress's regional address and publishes the hostname at it.
func (b *builder) dns() error {
	var err error
	b.address, err = compute.NewAddress(b.ctx, b.name+"-ingress", &compute.AddressArgs{
		Region: pulumi.String(b.args.Region), AddressType: pulumi.String("EXTERNAL"),
		NetworkTier: pulumi.String("PREMIUM"), Labels: b.labels,
	}, b.opts()...)
	if err != nil {
		return err
	}
	rec, err := dns.NewRecordSet(b.ctx, b.name+"-ingress", &dns.RecordSetArgs{
		ManagedZone: pulumi.String(ManagedZoneName(b.args.DNSZone)),
		Name:        pulumi.String(b.args.Hostname + "."), Type: pulumi.String("A"), Ttl: pulumi.Int(300),
		Rrdatas: pulumi.StringArray{b.address.Address},
	}, b.opts()...)
	if err != nil {
		return err
	}
	b.hostname = rec.Name.ApplyT(func(n string) string { return strings.TrimSuffix(n, ".") }).(pulumi.StringOutput)
	return nil
}

func (b *builder) outputs() error {
	kubeconfig := pulumi.All(b.gkeCluster.Name, b.gkeCluster.Endpoint, b.gkeCluster.MasterAuth.ClusterCaCertificate().Elem()).ApplyT(
		func(v []any) string {
			return cloud.ExecKubeconfig(v[0].(string), "https://"+v[1].(string), v[2].(string), "gke-gcloud-auth-plugin", nil)
		}).(pulumi.StringOutput)
	kubeconfig = pulumi.ToSecret(kubeconfig).(pulumi.StringOutput)
	// Platform resources depend on the node pools through this provider: they are torn
	// down first, while nodes and controllers can still release load balancers and disks.
	prov, err := kubernetes.NewProvider(b.ctx, b.name, &kubernetes.ProviderArgs{Kubeconfig: kubeconfig},
		pulumi.Parent(b.c), pulumi.DependsOn(b.nodePools))
	if err != nil {
		return err
	}
	b.c.Outputs = cluster.Outputs{
		Kubeconfig:      kubeconfig,
		Provider:        prov,
		RedisEndpoint:   pulumi.Sprintf("%s:%d", b.redisInstance.Host, b.redisInstance.Port),
		RedisAuth:       pulumi.ToSecret(b.redisInstance.AuthString).(pulumi.StringOutput),
		RedisTLS:        true,
		IngressHostname: b.hostname,
		DNSZone:         pulumi.String(b.args.DNSZone).ToStringOutput(),
		IngressServiceAnnotations: pulumi.StringMap{
			// Backend-service based external passthrough load balancer on the reserved address.
			"cloud.google.com/l4-rbs":                      pulumi.String("enabled"),
			"networking.gke.io/load-balancer-ip-addresses": b.address.Name,
		},
		MediaSelector:   cluster.MediaSelector(),
		MediaToleration: cluster.MediaTaint,
		LiveKitURL:      pulumi.Sprintf("wss://%s", b.hostname),
	}
	return b.ctx.RegisterResourceOutputs(b.c, pulumi.Map{
		"clusterName":     b.gkeCluster.Name,
		"kubeconfig":      kubeconfig,
		"redisEndpoint":   b.c.Outputs.RedisEndpoint,
		"ingressHostname": b.hostname,
	})
}
