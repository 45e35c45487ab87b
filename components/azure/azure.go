// Package azure is the Azure implementation of the cluster contract: a resource group, a
// VNet with subnets per pool, AKS as a private cluster (Azure CNI overlay with Calico network
// policy, a user-assigned control-plane identity, Key Vault KMS encryption of secrets,
// Workload Identity), agent pools system / workers (private) and media (node public IPs,
// tainted, the only pool with RTC ports open), Azure Cache for Redis (Premium, TLS only,
// AUTH, zone-redundant replica), a Key Vault for the cell's and the customer's keys, and the
// org's hostname in the Azure DNS zone.
//
// Resources are declared through package native (typed declarations registered by their
// azure-native tokens; see there why).
package azure

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/azure/native"
	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/internal/cloud"
	"github.com/cellplane/cellplane/infra/spec"
)

// Sizing: VM sizes per sizing (system, media, workers); bounds from cluster.Bounds. Media
// runs on compute-optimised F-series.
var vmSizes = map[spec.Sizing][3]string{
	spec.Small:  {"Standard_D2s_v5", "Standard_F4s_v2", "Standard_D4s_v5"},
	spec.Medium: {"Standard_D4s_v5", "Standard_F8s_v2", "Standard_D8s_v5"},
	spec.Large:  {"Standard_D4s_v5", "Standard_F16s_v2", "Standard_D16s_v5"},
}

// Sizes is the Azure sizing table of the node pools.
var Sizes = cloud.PoolTable(vmSizes, [3]int{64, 64, 128})

// RedisCapacity is the Premium (P) Redis size per sizing: P1, P2, P3.
var RedisCapacity = map[spec.Sizing]int{spec.Small: 1, spec.Medium: 2, spec.Large: 3}

// DNSResourceGroup is the resource group holding the Azure DNS zones cells publish in
// (by convention, like the zone itself it outlives every cell).
const DNSResourceGroup = "cellplane-dns"

// Built-in role definition ids.
const (
	roleKeyVaultCryptoUser = "12338af0-0e69-4776-bea7-57ae8d297424"
	roleNetworkContributor = "4d97b98b-1d4f-4787-a291-c67834d212e7"
)

// zoneless regions offer no availability zones; everything else is spread over 1, 2, 3.
var zoneless = map[string]bool{"ukwest": true}

const (
	vnetCIDR    = "10.0.0.0/16"
	podCIDR     = "192.168.0.0/16" // overlay: pods do not use VNet addresses
	serviceCIDR = "10.1.0.0/16"
	dnsIP       = "10.1.0.10"
)

var subnetCIDRs = map[string]string{
	cluster.PoolSystem: "10.0.0.0/22", cluster.PoolWorkers: "10.0.4.0/22", cluster.PoolMedia: "10.0.8.0/24", "redis": "10.0.9.0/24",
}

// Cluster is an AKS cluster with everything the platform needs around it.
type Cluster struct {
	pulumi.ResourceState

	Outputs       cluster.Outputs
	ClusterName   pulumi.StringOutput
	ResourceGroup pulumi.StringOutput
	// KeyVault holds the cell's key and is where a customer imports theirs.
	KeyVault pulumi.StringOutput
}

// NewCluster is the cluster.Builder for Azure.
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
	args, err := cloud.Prepare(spec.Azure, args, Sizes)
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource("cellplane:azure:Cluster", name, c, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, name: name, args: args, c: c, tags: pulumi.ToStringMap(args.Tags),
		base: cloud.ShortName("cellplane", args.Org, "-", 50), location: pulumi.String(args.Region)}
	if !zoneless[args.Region] {
		b.zones = pulumi.ToStringArray([]string{"1", "2", "3"})
	}
	for _, step := range []func() error{b.group, b.network, b.controlPlaneIdentity, b.keyVault, b.aks, b.redisCache, b.dns, b.outputs} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

type builder struct {
	ctx      *pulumi.Context
	name     string
	args     cluster.Args
	c        *Cluster
	tags     pulumi.StringMap
	base     string // cellplane-<org>
	location pulumi.String
	zones    pulumi.StringArray

	client     native.ClientConfigOutput
	suffix     pulumi.StringOutput // random, for globally unique names
	rg         *native.ResourceGroup
	vnetName   pulumi.StringOutput
	subnets    map[string]*native.Subnet
	identity   *native.UserAssignedIdentity
	grants     []pulumi.Resource
	keyID      pulumi.StringInput
	vaultName  pulumi.StringOutput
	mc         *native.ManagedCluster
	pools      []pulumi.Resource
	cache      *native.Redis
	ingressPIP *native.PublicIPAddress
	hostname   pulumi.StringOutput
}

func (b *builder) opts(more ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append([]pulumi.ResourceOption{pulumi.Parent(b.c)}, more...)
}

func (b *builder) role(def string) pulumi.StringOutput {
	return pulumi.Sprintf("/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s", b.client.SubscriptionId(), def)
}

func (b *builder) group() error {
	b.client = native.GetClientConfig(b.ctx)
	suffix, err := random.NewRandomString(b.ctx, b.name+"-suffix", &random.RandomStringArgs{
		Length: pulumi.Int(6), Special: pulumi.Bool(false), Upper: pulumi.Bool(false),
	}, b.opts()...)
	if err != nil {
		return err
	}
	b.suffix = suffix.Result
	b.rg, err = native.NewResourceGroup(b.ctx, b.name, &native.ResourceGroupArgs{
		ResourceGroupName: pulumi.String(b.base), Location: b.location, Tags: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	b.c.ResourceGroup = b.rg.Name
	return nil
}

func (b *builder) network() error {
	vnet, err := native.NewVirtualNetwork(b.ctx, b.name+"-vnet", &native.VirtualNetworkArgs{
		VirtualNetworkName: pulumi.String(b.base), ResourceGroupName: b.rg.Name, Location: b.location,
		AddressSpace: &native.AddressSpace{AddressPrefixes: pulumi.ToStringArray([]string{vnetCIDR})},
		Tags:         b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	b.vnetName = vnet.Name
	// The one security group with rules of ours: LiveKit's RTC ports from anywhere, on the
	// media subnet. (AKS opens the same ports on its node security group through the media
	// pool's allowedHostPorts; both must allow.)
	var rules []native.SecurityRule
	for i, p := range cloud.RTCPorts(b.args) {
		ports := fmt.Sprint(p.From)
		if p.To != p.From {
			ports = fmt.Sprintf("%d-%d", p.From, p.To)
		}
		rules = append(rules, native.SecurityRule{
			Name: pulumi.Sprintf("rtc-%s-%d", p.Protocol, p.From), Priority: pulumi.Int(100 + 10*i),
			Direction: pulumi.String("Inbound"), Access: pulumi.String("Allow"),
			Protocol:            pulumi.String(strings.ToUpper(p.Protocol[:1]) + p.Protocol[1:]), // Udp | Tcp
			SourceAddressPrefix: pulumi.String("*"), SourcePortRange: pulumi.String("*"),
			DestinationAddressPrefix: pulumi.String("*"), DestinationPortRange: pulumi.String(ports),
			Description: pulumi.String(p.What)})
	}
	mediaNSG, err := native.NewNetworkSecurityGroup(b.ctx, b.name+"-media", &native.NetworkSecurityGroupArgs{
		NetworkSecurityGroupName: pulumi.String(b.base + "-media"), ResourceGroupName: b.rg.Name, Location: b.location,
		SecurityRules: rules, Tags: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	// Subnets of one VNet are changed one at a time (ARM rejects concurrent subnet writes).
	b.subnets = map[string]*native.Subnet{}
	var prev []pulumi.Resource
	for _, name := range []string{cluster.PoolSystem, cluster.PoolWorkers, cluster.PoolMedia, "redis"} {
		args := &native.SubnetArgs{
			SubnetName: pulumi.String(name), ResourceGroupName: b.rg.Name, VirtualNetworkName: vnet.Name,
			AddressPrefix: pulumi.String(subnetCIDRs[name]),
		}
		if name == cluster.PoolMedia {
			args.NetworkSecurityGroup = &native.SubResource{ID: mediaNSG.ID()}
		}
		s, err := native.NewSubnet(b.ctx, b.name+"-"+name, args, b.opts(pulumi.DependsOn(prev))...)
		if err != nil {
			return err
		}
		b.subnets[name], prev = s, []pulumi.Resource{s}
	}
	return nil
}

// controlPlaneIdentity is the control plane's user-assigned identity: it exists before the cluster, so
// its access to the KMS key and the network is in place when AKS first needs it.
func (b *builder) controlPlaneIdentity() error {
	var err error
	b.identity, err = native.NewUserAssignedIdentity(b.ctx, b.name+"-control-plane", &native.UserAssignedIdentityArgs{
		ResourceName: pulumi.String(b.base + "-control-plane"), ResourceGroupName: b.rg.Name, Location: b.location, Tags: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	// Network Contributor on the cell's group: join nodes to the subnets, attach the ingress
	// public IP to the cluster's load balancer.
	g, err := native.NewRoleAssignment(b.ctx, b.name+"-network", &native.RoleAssignmentArgs{
		PrincipalId: b.identity.PrincipalId, PrincipalType: pulumi.String("ServicePrincipal"),
		RoleDefinitionId: b.role(roleNetworkContributor), Scope: b.rg.ID(),
	}, b.opts()...)
	if err != nil {
		return err
	}
	b.grants = append(b.grants, g)
	return nil
}

// keyVault is the cell's Key Vault (RBAC, soft delete, purge protection) and, unless the
// customer brings a key (BYOK), the key AKS encrypts secrets with.
func (b *builder) keyVault() error {
	protect := pulumi.Protect(b.args.DeletionProtection)
	name := pulumi.Sprintf("%s-%s", cloud.ShortName("cp", b.args.Org, "-", 17), b.suffix) // 3-24, globally unique
	v, err := native.NewVault(b.ctx, b.name+"-keys", &native.VaultArgs{
		VaultName: name, ResourceGroupName: b.rg.Name, Location: b.location,
		Properties: native.VaultProperties{
			TenantId:                  b.client.TenantId(),
			Sku:                       native.VaultSku{Family: pulumi.String("A"), Name: pulumi.String("premium")},
			EnableRbacAuthorization:   pulumi.Bool(true),
			EnableSoftDelete:          pulumi.Bool(true),
			SoftDeleteRetentionInDays: pulumi.Int(90),
			EnablePurgeProtection:     pulumi.Bool(true),
			PublicNetworkAccess:       pulumi.String("Enabled"),
		},
		Tags: b.tags,
	}, b.opts(protect)...)
	if err != nil {
		return err
	}
	b.vaultName = v.Name
	b.c.KeyVault = v.Name
	if b.args.KMSKeyID != "" {
		// The customer's key; its vault's owner grants the control-plane identity
		// "Key Vault Crypto User" on it.
		b.keyID = pulumi.String(b.args.KMSKeyID)
		return nil
	}
	key, err := native.NewKey(b.ctx, b.name+"-secrets", &native.KeyArgs{
		KeyName: pulumi.String("aks-secrets"), VaultName: v.Name, ResourceGroupName: b.rg.Name,
		Properties: native.KeyProperties{
			Kty: pulumi.String("RSA"), KeySize: pulumi.Int(2048),
			KeyOps: pulumi.ToStringArray([]string{"encrypt", "decrypt", "wrapKey", "unwrapKey"}),
		},
		Tags: b.tags,
	}, b.opts(protect)...)
	if err != nil {
		return err
	}
	g, err := native.NewRoleAssignment(b.ctx, b.name+"-kms", &native.RoleAssignmentArgs{
		PrincipalId: b.identity.PrincipalId, PrincipalType: pulumi.String("ServicePrincipal"),
		RoleDefinitionId: b.role(roleKeyVaultCryptoUser), Scope: v.ID(),
	}, b.opts()...)
	if err != nil {
		return err
	}
	b.grants = append(b.grants, g)
	b.keyID = key.KeyUriWithVersion
	return nil
}

func taints(p cluster.NodePool) pulumi.StringArray {
	var out pulumi.StringArray
	for _, t := range p.Taints {
		out = append(out, pulumi.String(t.Key+"="+t.Value+":"+t.Effect))
	}
	return out
}

// hostPorts are the media pool's RTC ports, opened by AKS on its node security group.
func hostPorts(a cluster.Args) *native.AgentPoolNetworkProfile {
	var ranges []native.PortRange
	for _, p := range cloud.RTCPorts(a) {
		ranges = append(ranges, native.PortRange{PortStart: pulumi.Int(p.From), PortEnd: pulumi.Int(p.To),
			Protocol: pulumi.String(strings.ToUpper(p.Protocol))})
	}
	return &native.AgentPoolNetworkProfile{AllowedHostPorts: ranges}
}

func (b *builder) aks() error {
	a := b.args
	var version pulumi.StringInput
	upgrade := "patch"
	if a.KubernetesVersion != "" {
		version, upgrade = pulumi.String(a.KubernetesVersion), "none"
	}
	ep := cloud.APIEndpoint(a)
	// A private cluster's API server has no public side at all; with allowed CIDRs the API
	// server is public but reachable from those ranges only.
	access := &native.APIServerAccessProfile{EnablePrivateCluster: pulumi.Bool(!ep.Public)}
	if ep.Public && len(ep.CIDRs) > 0 {
		access.AuthorizedIPRanges = pulumi.ToStringArray(ep.CIDRs)
	}
	sys := a.Pools.System
	var err error
	b.mc, err = native.NewManagedCluster(b.ctx, b.name, &native.ManagedClusterArgs{
		ResourceName: pulumi.String(b.base), ResourceGroupName: b.rg.Name, Location: b.location,
		DnsPrefix:         pulumi.String(cloud.ShortName("cp", a.Org, "-", 40)),
		NodeResourceGroup: pulumi.String(b.base + "-nodes"),
		KubernetesVersion: version,
		Sku:               &native.ManagedClusterSKU{Name: pulumi.String("Base"), Tier: pulumi.String("Standard")},
		Identity: &native.ManagedClusterIdentity{
			Type: pulumi.String("UserAssigned"), UserAssignedIdentities: pulumi.StringArray{b.identity.ID()},
		},
		// The system pool is inline (ARM requires one); media and workers are AgentPools.
		AgentPoolProfiles: []native.AgentPoolProfile{{
			Name: pulumi.String(sys.Name), Mode: pulumi.String("System"), Type: pulumi.String("VirtualMachineScaleSets"),
			OsType: pulumi.String("Linux"), VmSize: pulumi.String(sys.InstanceType), OsDiskSizeGB: pulumi.Int(sys.DiskSizeGB),
			Count: pulumi.Int(sys.Min), EnableAutoScaling: pulumi.Bool(true), MinCount: pulumi.Int(sys.Min), MaxCount: pulumi.Int(sys.Max),
			AvailabilityZones: b.zones, VnetSubnetID: b.subnets[sys.Name].ID(),
			EnableNodePublicIP: pulumi.Bool(false), NodeLabels: pulumi.ToStringMap(sys.Labels), NodeTaints: taints(sys),
			OrchestratorVersion: version, Tags: b.tags,
		}},
		ApiServerAccessProfile: access,
		NetworkProfile: &native.NetworkProfile{
			NetworkPlugin: pulumi.String("azure"), NetworkPluginMode: pulumi.String("overlay"),
			NetworkPolicy: pulumi.String("calico"), PodCidr: pulumi.String(podCIDR),
			ServiceCidr: pulumi.String(serviceCIDR), DnsServiceIP: pulumi.String(dnsIP),
			LoadBalancerSku: pulumi.String("standard"), OutboundType: pulumi.String("loadBalancer"),
		},
		SecurityProfile: &native.SecurityProfile{
			AzureKeyVaultKms: &native.AzureKeyVaultKms{
				Enabled: pulumi.Bool(true), KeyId: b.keyID, KeyVaultNetworkAccess: pulumi.String("Public"),
			},
			WorkloadIdentity: &native.WorkloadIdentity{Enabled: pulumi.Bool(true)},
		},
		OidcIssuerProfile:  &native.OIDCIssuerProfile{Enabled: pulumi.Bool(true)},
		AutoUpgradeProfile: &native.AutoUpgradeProfile{UpgradeChannel: pulumi.String(upgrade), NodeOSUpgradeChannel: pulumi.String("NodeImage")},
		EnableRBAC:         pulumi.Bool(true),
		Tags:               b.tags,
	}, b.opts(pulumi.DependsOn(b.grants),
		// ARM cannot update inline pools; the autoscaler owns their count.
		pulumi.IgnoreChanges([]string{"agentPoolProfiles"}))...)
	if err != nil {
		return err
	}
	b.c.ClusterName = b.mc.Name
	b.pools = []pulumi.Resource{b.mc}
	for _, p := range []cluster.NodePool{a.Pools.Media, a.Pools.Workers} {
		args := &native.AgentPoolArgs{
			AgentPoolName: pulumi.String(p.Name), ResourceName: b.mc.Name, ResourceGroupName: b.rg.Name,
			Mode: pulumi.String("User"), Type: pulumi.String("VirtualMachineScaleSets"), OsType: pulumi.String("Linux"),
			VmSize: pulumi.String(p.InstanceType), OsDiskSizeGB: pulumi.Int(p.DiskSizeGB),
			Count: pulumi.Int(p.Min), EnableAutoScaling: pulumi.Bool(true), MinCount: pulumi.Int(p.Min), MaxCount: pulumi.Int(p.Max),
			AvailabilityZones: b.zones, VnetSubnetID: b.subnets[p.Name].ID(),
			EnableNodePublicIP: pulumi.Bool(p.PublicIPs), NodeLabels: pulumi.ToStringMap(p.Labels), NodeTaints: taints(p),
			OrchestratorVersion: version, Tags: b.tags,
		}
		if p.PublicIPs {
			args.NetworkProfile = hostPorts(a)
		}
		pool, err := native.NewAgentPool(b.ctx, b.name+"-"+p.Name, args, b.opts(pulumi.IgnoreChanges([]string{"count"}))...)
		if err != nil {
			return err
		}
		b.pools = append(b.pools, pool)
	}
	return nil
}

func (b *builder) redisCache() error {
	replicas := 1
	if b.args.Sizing == spec.Large {
		replicas = 2
	}
	var err error
	b.cache, err = native.NewRedis(b.ctx, b.name+"-redis", &native.RedisArgs{
		Name:              pulumi.Sprintf("%s-%s", cloud.ShortName("cp", b.args.Org, "-", 50), b.suffix),
		ResourceGroupName: b.rg.Name, Location: b.location,
		Sku:               native.RedisSku{Name: pulumi.String("Premium"), Family: pulumi.String("P"), Capacity: pulumi.Int(RedisCapacity[b.args.Sizing])},
		RedisVersion:      pulumi.String("6"),
		EnableNonSslPort:  pulumi.Bool(false),
		MinimumTlsVersion: pulumi.String("1.2"),
		// Premium keeps a replica with automatic failover; with zones it sits in another zone.
		ReplicasPerPrimary: pulumi.Int(replicas),
		Zones:              b.zones,
		// Injected into the cell's VNet: reachable from the nodes, not from the internet.
		SubnetId:           b.subnets["redis"].ID(),
		RedisConfiguration: &native.RedisConfiguration{Authnotrequired: pulumi.String("false")},
		Tags:               b.tags,
	}, b.opts(pulumi.Protect(b.args.DeletionProtection))...)
	return err
}

// dns reserves the ingress's public IP in the cell's group and publishes the hostname at it
// in the zone (an existing Azure DNS zone in DNSResourceGroup).
func (b *builder) dns() error {
	var err error
	b.ingressPIP, err = native.NewPublicIPAddress(b.ctx, b.name+"-ingress", &native.PublicIPAddressArgs{
		PublicIpAddressName: pulumi.String(b.base + "-ingress"), ResourceGroupName: b.rg.Name, Location: b.location,
		PublicIPAllocationMethod: pulumi.String("Static"), PublicIPAddressVersion: pulumi.String("IPv4"),
		Sku: &native.PublicIPAddressSku{Name: pulumi.String("Standard"), Tier: pulumi.String("Regional")}, Zones: b.zones,
		Tags: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	rec, err := native.NewRecordSet(b.ctx, b.name+"-ingress", &native.RecordSetArgs{
		ZoneName: pulumi.String(b.args.DNSZone), ResourceGroupName: pulumi.String(DNSResourceGroup),
		RelativeRecordSetName: pulumi.String(cloud.RecordName(b.args)), RecordType: pulumi.String("A"), Ttl: pulumi.Int(300),
		ARecords: []native.ARecord{{Ipv4Address: b.ingressPIP.IpAddress.Elem()}},
		Metadata: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	host := b.args.Hostname
	b.hostname = rec.ID().ApplyT(func(pulumi.ID) string { return host }).(pulumi.StringOutput)
	return nil
}

func (b *builder) outputs() error {
	creds := native.ListManagedClusterUserCredentials(b.ctx, native.ListManagedClusterUserCredentialsArgs{
		ResourceGroupName: b.rg.Name, ResourceName: b.mc.Name,
	})
	kubeconfig := creds.ApplyT(func(r native.CredentialResults) (string, error) {
		if len(r.Kubeconfigs) == 0 {
			return "", fmt.Errorf("azure cluster: AKS returned no kubeconfig")
		}
		kc, err := base64.StdEncoding.DecodeString(r.Kubeconfigs[0].Value)
		return string(kc), err
	}).(pulumi.StringOutput)
	kubeconfig = pulumi.ToSecret(kubeconfig).(pulumi.StringOutput)
	// Platform resources depend on the agent pools through this provider: they are torn down
	// first, while nodes and the cloud controller can still release load balancers and disks.
	prov, err := kubernetes.NewProvider(b.ctx, b.name, &kubernetes.ProviderArgs{Kubeconfig: kubeconfig},
		pulumi.Parent(b.c), pulumi.DependsOn(b.pools))
	if err != nil {
		return err
	}
	auth := native.ListRedisKeys(b.ctx, native.ListRedisKeysArgs{Name: b.cache.Name, ResourceGroupName: b.rg.Name}).PrimaryKey()
	b.c.Outputs = cluster.Outputs{
		Kubeconfig:      kubeconfig,
		Provider:        prov,
		RedisEndpoint:   pulumi.Sprintf("%s:%d", b.cache.HostName, b.cache.SslPort),
		RedisAuth:       auth,
		RedisTLS:        true,
		IngressHostname: b.hostname,
		DNSZone:         pulumi.String(b.args.DNSZone).ToStringOutput(),
		IngressServiceAnnotations: pulumi.StringMap{
			"service.beta.kubernetes.io/azure-load-balancer-resource-group": b.rg.Name,
			"service.beta.kubernetes.io/azure-pip-name":                     b.ingressPIP.Name,
		},
		MediaSelector:   cluster.MediaSelector(),
		MediaToleration: cluster.MediaTaint,
		LiveKitURL:      pulumi.Sprintf("wss://%s", b.hostname),
	}
	return b.ctx.RegisterResourceOutputs(b.c, pulumi.Map{
		"clusterName":     b.mc.Name,
		"resourceGroup":   b.rg.Name,
		"kubeconfig":      kubeconfig,
		"redisEndpoint":   b.c.Outputs.RedisEndpoint,
		"ingressHostname": b.hostname,
	})
}

// ValidKeyID reports whether id looks like a versioned Key Vault key identifier
// (https://<vault>.vault.azure.net/keys/<name>/<version>), which AKS KMS requires.
func ValidKeyID(id string) bool {
	rest, ok := strings.CutPrefix(id, "https://")
	if !ok {
		return false
	}
	parts := strings.Split(rest, "/")
	return len(parts) == 4 && strings.HasSuffix(parts[0], ".vault.azure.net") && parts[1] == "keys" && parts[2] != "" && parts[3] != ""
}
