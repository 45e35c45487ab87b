package native

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ---- resources: ResourceGroup ----

// ResourceGroup is azure-native:resources:ResourceGroup.
type ResourceGroup struct {
	pulumi.CustomResourceState
	Name     pulumi.StringOutput `pulumi:"name"`
	Location pulumi.StringOutput `pulumi:"location"`
}

// ResourceGroupArgs are its inputs.
type ResourceGroupArgs struct {
	ResourceGroupName pulumi.StringInput `pulumi:"resourceGroupName"`
	Location          pulumi.StringInput `pulumi:"location"`
	Tags              Tags               `pulumi:"tags"`
}

func (ResourceGroupArgs) ElementType() reflect.Type { return argsType(ResourceGroupArgs{}) }

func NewResourceGroup(ctx *pulumi.Context, name string, args *ResourceGroupArgs, opts ...pulumi.ResourceOption) (*ResourceGroup, error) {
	return register(ctx, TypeResourceGroup, name, args, &ResourceGroup{}, opts)
}

// ---- network: VirtualNetwork, Subnet, NetworkSecurityGroup, PublicIPAddress, RecordSet ----

// VirtualNetwork is azure-native:network:VirtualNetwork. Subnets are separate Subnet
// resources (the provider keeps them when the VNet itself is updated).
type VirtualNetwork struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type AddressSpace struct {
	AddressPrefixes pulumi.StringArrayInput `pulumi:"addressPrefixes"`
}

type VirtualNetworkArgs struct {
	VirtualNetworkName pulumi.StringInput `pulumi:"virtualNetworkName"`
	ResourceGroupName  pulumi.StringInput `pulumi:"resourceGroupName"`
	Location           pulumi.StringInput `pulumi:"location"`
	AddressSpace       *AddressSpace      `pulumi:"addressSpace"`
	Tags               Tags               `pulumi:"tags"`
}

func (VirtualNetworkArgs) ElementType() reflect.Type { return argsType(VirtualNetworkArgs{}) }

func NewVirtualNetwork(ctx *pulumi.Context, name string, args *VirtualNetworkArgs, opts ...pulumi.ResourceOption) (*VirtualNetwork, error) {
	return register(ctx, TypeVirtualNetwork, name, args, &VirtualNetwork{}, opts)
}

// Subnet is azure-native:network:Subnet (ARM subnets carry no tags).
type Subnet struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type SubnetArgs struct {
	SubnetName           pulumi.StringInput `pulumi:"subnetName"`
	ResourceGroupName    pulumi.StringInput `pulumi:"resourceGroupName"`
	VirtualNetworkName   pulumi.StringInput `pulumi:"virtualNetworkName"`
	AddressPrefix        pulumi.StringInput `pulumi:"addressPrefix"`
	NetworkSecurityGroup *SubResource       `pulumi:"networkSecurityGroup"`
}

func (SubnetArgs) ElementType() reflect.Type { return argsType(SubnetArgs{}) }

func NewSubnet(ctx *pulumi.Context, name string, args *SubnetArgs, opts ...pulumi.ResourceOption) (*Subnet, error) {
	return register(ctx, TypeSubnet, name, args, &Subnet{}, opts)
}

// NetworkSecurityGroup is azure-native:network:NetworkSecurityGroup with inline rules.
type NetworkSecurityGroup struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

// SecurityRule is one inline NSG rule (ARM securityRules[].properties, flattened).
type SecurityRule struct {
	Name                     pulumi.StringInput `pulumi:"name"`
	Priority                 pulumi.IntInput    `pulumi:"priority"`
	Direction                pulumi.StringInput `pulumi:"direction"` // Inbound | Outbound
	Access                   pulumi.StringInput `pulumi:"access"`    // Allow | Deny
	Protocol                 pulumi.StringInput `pulumi:"protocol"`  // Tcp | Udp | *
	SourceAddressPrefix      pulumi.StringInput `pulumi:"sourceAddressPrefix"`
	SourcePortRange          pulumi.StringInput `pulumi:"sourcePortRange"`
	DestinationAddressPrefix pulumi.StringInput `pulumi:"destinationAddressPrefix"`
	DestinationPortRange     pulumi.StringInput `pulumi:"destinationPortRange"` // "50000-60000" or "7881"
	Description              pulumi.StringInput `pulumi:"description"`
}

type NetworkSecurityGroupArgs struct {
	NetworkSecurityGroupName pulumi.StringInput `pulumi:"networkSecurityGroupName"`
	ResourceGroupName        pulumi.StringInput `pulumi:"resourceGroupName"`
	Location                 pulumi.StringInput `pulumi:"location"`
	SecurityRules            []SecurityRule     `pulumi:"securityRules"`
	Tags                     Tags               `pulumi:"tags"`
}

func (NetworkSecurityGroupArgs) ElementType() reflect.Type {
	return argsType(NetworkSecurityGroupArgs{})
}

func NewNetworkSecurityGroup(ctx *pulumi.Context, name string, args *NetworkSecurityGroupArgs, opts ...pulumi.ResourceOption) (*NetworkSecurityGroup, error) {
	return register(ctx, TypeNetworkSecurityGroup, name, args, &NetworkSecurityGroup{}, opts)
}

// PublicIPAddress is azure-native:network:PublicIPAddress.
type PublicIPAddress struct {
	pulumi.CustomResourceState
	Name      pulumi.StringOutput    `pulumi:"name"`
	IpAddress pulumi.StringPtrOutput `pulumi:"ipAddress"`
}

type PublicIPAddressSku struct {
	Name pulumi.StringInput `pulumi:"name"` // Basic | Standard
	Tier pulumi.StringInput `pulumi:"tier"` // Regional | Global
}

type PublicIPAddressArgs struct {
	PublicIpAddressName      pulumi.StringInput      `pulumi:"publicIpAddressName"`
	ResourceGroupName        pulumi.StringInput      `pulumi:"resourceGroupName"`
	Location                 pulumi.StringInput      `pulumi:"location"`
	PublicIPAllocationMethod pulumi.StringInput      `pulumi:"publicIPAllocationMethod"` // Static | Dynamic
	PublicIPAddressVersion   pulumi.StringInput      `pulumi:"publicIPAddressVersion"`   // IPv4 | IPv6
	Sku                      *PublicIPAddressSku     `pulumi:"sku"`
	Zones                    pulumi.StringArrayInput `pulumi:"zones"`
	Tags                     Tags                    `pulumi:"tags"`
}

func (PublicIPAddressArgs) ElementType() reflect.Type { return argsType(PublicIPAddressArgs{}) }

func NewPublicIPAddress(ctx *pulumi.Context, name string, args *PublicIPAddressArgs, opts ...pulumi.ResourceOption) (*PublicIPAddress, error) {
	return register(ctx, TypePublicIPAddress, name, args, &PublicIPAddress{}, opts)
}

// RecordSet is azure-native:network:RecordSet (a DNS zone record; its tags are "metadata").
type RecordSet struct {
	pulumi.CustomResourceState
	Fqdn pulumi.StringOutput `pulumi:"fqdn"`
}

type ARecord struct {
	Ipv4Address pulumi.StringInput `pulumi:"ipv4Address"`
}

type RecordSetArgs struct {
	ZoneName              pulumi.StringInput `pulumi:"zoneName"`
	ResourceGroupName     pulumi.StringInput `pulumi:"resourceGroupName"`
	RelativeRecordSetName pulumi.StringInput `pulumi:"relativeRecordSetName"`
	RecordType            pulumi.StringInput `pulumi:"recordType"` // A | CNAME | ...
	Ttl                   pulumi.IntInput    `pulumi:"ttl"`
	ARecords              []ARecord          `pulumi:"aRecords"`
	Metadata              Tags               `pulumi:"metadata"`
}

func (RecordSetArgs) ElementType() reflect.Type { return argsType(RecordSetArgs{}) }

func NewRecordSet(ctx *pulumi.Context, name string, args *RecordSetArgs, opts ...pulumi.ResourceOption) (*RecordSet, error) {
	return register(ctx, TypeRecordSet, name, args, &RecordSet{}, opts)
}

// ---- managedidentity / authorization ----

// UserAssignedIdentity is azure-native:managedidentity:UserAssignedIdentity.
type UserAssignedIdentity struct {
	pulumi.CustomResourceState
	Name        pulumi.StringOutput `pulumi:"name"`
	PrincipalId pulumi.StringOutput `pulumi:"principalId"`
	ClientId    pulumi.StringOutput `pulumi:"clientId"`
}

type UserAssignedIdentityArgs struct {
	ResourceName      pulumi.StringInput `pulumi:"resourceName"`
	ResourceGroupName pulumi.StringInput `pulumi:"resourceGroupName"`
	Location          pulumi.StringInput `pulumi:"location"`
	Tags              Tags               `pulumi:"tags"`
}

func (UserAssignedIdentityArgs) ElementType() reflect.Type {
	return argsType(UserAssignedIdentityArgs{})
}

func NewUserAssignedIdentity(ctx *pulumi.Context, name string, args *UserAssignedIdentityArgs, opts ...pulumi.ResourceOption) (*UserAssignedIdentity, error) {
	return register(ctx, TypeUserAssignedIdentity, name, args, &UserAssignedIdentity{}, opts)
}

// RoleAssignment is azure-native:authorization:RoleAssignment (its name, a GUID, is generated
// by the provider when omitted; ARM role assignments carry no tags).
type RoleAssignment struct {
	pulumi.CustomResourceState
}

type RoleAssignmentArgs struct {
	PrincipalId      pulumi.StringInput `pulumi:"principalId"`
	PrincipalType    pulumi.StringInput `pulumi:"principalType"` // ServicePrincipal for managed identities
	RoleDefinitionId pulumi.StringInput `pulumi:"roleDefinitionId"`
	Scope            pulumi.StringInput `pulumi:"scope"`
}

func (RoleAssignmentArgs) ElementType() reflect.Type { return argsType(RoleAssignmentArgs{}) }

func NewRoleAssignment(ctx *pulumi.Context, name string, args *RoleAssignmentArgs, opts ...pulumi.ResourceOption) (*RoleAssignment, error) {
	return register(ctx, TypeRoleAssignment, name, args, &RoleAssignment{}, opts)
}

// ---- keyvault: Vault, Key ----

// Vault is azure-native:keyvault:Vault.
type Vault struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type VaultSku struct {
	Family pulumi.StringInput `pulumi:"family"` // A
	Name   pulumi.StringInput `pulumi:"name"`   // standard | premium
}

type VaultProperties struct {
	TenantId                  pulumi.StringInput `pulumi:"tenantId"`
	Sku                       VaultSku           `pulumi:"sku"`
	EnableRbacAuthorization   pulumi.BoolInput   `pulumi:"enableRbacAuthorization"`
	EnableSoftDelete          pulumi.BoolInput   `pulumi:"enableSoftDelete"`
	SoftDeleteRetentionInDays pulumi.IntInput    `pulumi:"softDeleteRetentionInDays"`
	EnablePurgeProtection     pulumi.BoolInput   `pulumi:"enablePurgeProtection"`
	PublicNetworkAccess       pulumi.StringInput `pulumi:"publicNetworkAccess"` // Enabled | Disabled
}

type VaultArgs struct {
	VaultName         pulumi.StringInput `pulumi:"vaultName"`
	ResourceGroupName pulumi.StringInput `pulumi:"resourceGroupName"`
	Location          pulumi.StringInput `pulumi:"location"`
	Properties        VaultProperties    `pulumi:"properties"`
	Tags              Tags               `pulumi:"tags"`
}

func (VaultArgs) ElementType() reflect.Type { return argsType(VaultArgs{}) }

func NewVault(ctx *pulumi.Context, name string, args *VaultArgs, opts ...pulumi.ResourceOption) (*Vault, error) {
	return register(ctx, TypeVault, name, args, &Vault{}, opts)
}

// Key is azure-native:keyvault:Key (a key in a vault, created by ARM; its material never
// leaves the vault).
type Key struct {
	pulumi.CustomResourceState
	KeyUri            pulumi.StringOutput `pulumi:"keyUri"`
	KeyUriWithVersion pulumi.StringOutput `pulumi:"keyUriWithVersion"`
}

type KeyProperties struct {
	Kty     pulumi.StringInput      `pulumi:"kty"` // RSA | RSA-HSM | EC | EC-HSM
	KeySize pulumi.IntInput         `pulumi:"keySize"`
	KeyOps  pulumi.StringArrayInput `pulumi:"keyOps"`
}

type KeyArgs struct {
	KeyName           pulumi.StringInput `pulumi:"keyName"`
	VaultName         pulumi.StringInput `pulumi:"vaultName"`
	ResourceGroupName pulumi.StringInput `pulumi:"resourceGroupName"`
	Properties        KeyProperties      `pulumi:"properties"`
	Tags              Tags               `pulumi:"tags"`
}

func (KeyArgs) ElementType() reflect.Type { return argsType(KeyArgs{}) }

func NewKey(ctx *pulumi.Context, name string, args *KeyArgs, opts ...pulumi.ResourceOption) (*Key, error) {
	return register(ctx, TypeKey, name, args, &Key{}, opts)
}

// ---- containerservice: ManagedCluster, AgentPool ----

// ManagedCluster is azure-native:containerservice:ManagedCluster (AKS).
type ManagedCluster struct {
	pulumi.CustomResourceState
	Name        pulumi.StringOutput `pulumi:"name"`
	Fqdn        pulumi.StringOutput `pulumi:"fqdn"`
	PrivateFQDN pulumi.StringOutput `pulumi:"privateFQDN"`
}

// AgentPoolProfile is an inline agent pool (ARM requires the system pool inline).
type AgentPoolProfile struct {
	Name                pulumi.StringInput       `pulumi:"name"`
	Mode                pulumi.StringInput       `pulumi:"mode"` // System | User
	Type                pulumi.StringInput       `pulumi:"type"` // VirtualMachineScaleSets
	OsType              pulumi.StringInput       `pulumi:"osType"`
	VmSize              pulumi.StringInput       `pulumi:"vmSize"`
	OsDiskSizeGB        pulumi.IntInput          `pulumi:"osDiskSizeGB"`
	Count               pulumi.IntInput          `pulumi:"count"`
	EnableAutoScaling   pulumi.BoolInput         `pulumi:"enableAutoScaling"`
	MinCount            pulumi.IntInput          `pulumi:"minCount"`
	MaxCount            pulumi.IntInput          `pulumi:"maxCount"`
	AvailabilityZones   pulumi.StringArrayInput  `pulumi:"availabilityZones"`
	VnetSubnetID        pulumi.StringInput       `pulumi:"vnetSubnetID"`
	EnableNodePublicIP  pulumi.BoolInput         `pulumi:"enableNodePublicIP"`
	NodeLabels          pulumi.StringMapInput    `pulumi:"nodeLabels"`
	NodeTaints          pulumi.StringArrayInput  `pulumi:"nodeTaints"` // key=value:Effect
	OrchestratorVersion pulumi.StringInput       `pulumi:"orchestratorVersion"`
	Tags                Tags                     `pulumi:"tags"`
	NetworkProfile      *AgentPoolNetworkProfile `pulumi:"networkProfile"`
}

// AgentPoolNetworkProfile opens host ports on nodes with public IPs (AKS updates its own
// node security group accordingly).
type AgentPoolNetworkProfile struct {
	AllowedHostPorts []PortRange `pulumi:"allowedHostPorts"`
}

// PortRange is one allowed host port range.
type PortRange struct {
	PortStart pulumi.IntInput    `pulumi:"portStart"`
	PortEnd   pulumi.IntInput    `pulumi:"portEnd"`
	Protocol  pulumi.StringInput `pulumi:"protocol"` // TCP | UDP
}

type ManagedClusterIdentity struct {
	Type                   pulumi.StringInput      `pulumi:"type"` // SystemAssigned | UserAssigned
	UserAssignedIdentities pulumi.StringArrayInput `pulumi:"userAssignedIdentities"`
}

type APIServerAccessProfile struct {
	EnablePrivateCluster pulumi.BoolInput        `pulumi:"enablePrivateCluster"`
	AuthorizedIPRanges   pulumi.StringArrayInput `pulumi:"authorizedIPRanges"`
}

type NetworkProfile struct {
	NetworkPlugin     pulumi.StringInput `pulumi:"networkPlugin"`     // azure
	NetworkPluginMode pulumi.StringInput `pulumi:"networkPluginMode"` // overlay
	NetworkPolicy     pulumi.StringInput `pulumi:"networkPolicy"`     // calico | azure | cilium
	PodCidr           pulumi.StringInput `pulumi:"podCidr"`
	ServiceCidr       pulumi.StringInput `pulumi:"serviceCidr"`
	DnsServiceIP      pulumi.StringInput `pulumi:"dnsServiceIP"`
	LoadBalancerSku   pulumi.StringInput `pulumi:"loadBalancerSku"` // standard
	OutboundType      pulumi.StringInput `pulumi:"outboundType"`    // loadBalancer
}

type AzureKeyVaultKms struct {
	Enabled               pulumi.BoolInput   `pulumi:"enabled"`
	KeyId                 pulumi.StringInput `pulumi:"keyId"`                 // versioned key URL
	KeyVaultNetworkAccess pulumi.StringInput `pulumi:"keyVaultNetworkAccess"` // Public | Private
}

type WorkloadIdentity struct {
	Enabled pulumi.BoolInput `pulumi:"enabled"`
}

type SecurityProfile struct {
	AzureKeyVaultKms *AzureKeyVaultKms `pulumi:"azureKeyVaultKms"`
	WorkloadIdentity *WorkloadIdentity `pulumi:"workloadIdentity"`
}

type OIDCIssuerProfile struct {
	Enabled pulumi.BoolInput `pulumi:"enabled"`
}

type ManagedClusterSKU struct {
	Name pulumi.StringInput `pulumi:"name"` // Base
	Tier pulumi.StringInput `pulumi:"tier"` // Free | Standard | Premium
}

type AutoUpgradeProfile struct {
	UpgradeChannel       pulumi.StringInput `pulumi:"upgradeChannel"`       // none | patch | stable | rapid | node-image
	NodeOSUpgradeChannel pulumi.StringInput `pulumi:"nodeOSUpgradeChannel"` // None | Unmanaged | SecurityPatch | NodeImage
}

type ManagedClusterArgs struct {
	ResourceName           pulumi.StringInput      `pulumi:"resourceName"`
	ResourceGroupName      pulumi.StringInput      `pulumi:"resourceGroupName"`
	Location               pulumi.StringInput      `pulumi:"location"`
	DnsPrefix              pulumi.StringInput      `pulumi:"dnsPrefix"`
	KubernetesVersion      pulumi.StringInput      `pulumi:"kubernetesVersion"`
	Sku                    *ManagedClusterSKU      `pulumi:"sku"`
	Identity               *ManagedClusterIdentity `pulumi:"identity"`
	AgentPoolProfiles      []AgentPoolProfile      `pulumi:"agentPoolProfiles"`
	ApiServerAccessProfile *APIServerAccessProfile `pulumi:"apiServerAccessProfile"`
	NetworkProfile         *NetworkProfile         `pulumi:"networkProfile"`
	SecurityProfile        *SecurityProfile        `pulumi:"securityProfile"`
	OidcIssuerProfile      *OIDCIssuerProfile      `pulumi:"oidcIssuerProfile"`
	AutoUpgradeProfile     *AutoUpgradeProfile     `pulumi:"autoUpgradeProfile"`
	EnableRBAC             pulumi.BoolInput        `pulumi:"enableRBAC"`
	NodeResourceGroup      pulumi.StringInput      `pulumi:"nodeResourceGroup"`
	Tags                   Tags                    `pulumi:"tags"`
}

func (ManagedClusterArgs) ElementType() reflect.Type { return argsType(ManagedClusterArgs{}) }

func NewManagedCluster(ctx *pulumi.Context, name string, args *ManagedClusterArgs, opts ...pulumi.ResourceOption) (*ManagedCluster, error) {
	return register(ctx, TypeManagedCluster, name, args, &ManagedCluster{}, opts)
}

// AgentPool is azure-native:containerservice:AgentPool (a pool besides the inline system one).
type AgentPool struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type AgentPoolArgs struct {
	AgentPoolName       pulumi.StringInput       `pulumi:"agentPoolName"`
	ResourceName        pulumi.StringInput       `pulumi:"resourceName"` // the managed cluster
	ResourceGroupName   pulumi.StringInput       `pulumi:"resourceGroupName"`
	Mode                pulumi.StringInput       `pulumi:"mode"`
	Type                pulumi.StringInput       `pulumi:"type"`
	OsType              pulumi.StringInput       `pulumi:"osType"`
	VmSize              pulumi.StringInput       `pulumi:"vmSize"`
	OsDiskSizeGB        pulumi.IntInput          `pulumi:"osDiskSizeGB"`
	Count               pulumi.IntInput          `pulumi:"count"`
	EnableAutoScaling   pulumi.BoolInput         `pulumi:"enableAutoScaling"`
	MinCount            pulumi.IntInput          `pulumi:"minCount"`
	MaxCount            pulumi.IntInput          `pulumi:"maxCount"`
	AvailabilityZones   pulumi.StringArrayInput  `pulumi:"availabilityZones"`
	VnetSubnetID        pulumi.StringInput       `pulumi:"vnetSubnetID"`
	EnableNodePublicIP  pulumi.BoolInput         `pulumi:"enableNodePublicIP"`
	NodeLabels          pulumi.StringMapInput    `pulumi:"nodeLabels"`
	NodeTaints          pulumi.StringArrayInput  `pulumi:"nodeTaints"`
	OrchestratorVersion pulumi.StringInput       `pulumi:"orchestratorVersion"`
	NetworkProfile      *AgentPoolNetworkProfile `pulumi:"networkProfile"`
	Tags                Tags                     `pulumi:"tags"`
}

func (AgentPoolArgs) ElementType() reflect.Type { return argsType(AgentPoolArgs{}) }

func NewAgentPool(ctx *pulumi.Context, name string, args *AgentPoolArgs, opts ...pulumi.ResourceOption) (*AgentPool, error) {
	return register(ctx, TypeAgentPool, name, args, &AgentPool{}, opts)
}

// ---- cache: Redis ----

// Redis is azure-native:cache:Redis (Azure Cache for Redis).
type Redis struct {
	pulumi.CustomResourceState
	Name     pulumi.StringOutput `pulumi:"name"`
	HostName pulumi.StringOutput `pulumi:"hostName"`
	SslPort  pulumi.IntOutput    `pulumi:"sslPort"`
}

type RedisSku struct {
	Name     pulumi.StringInput `pulumi:"name"`     // Basic | Standard | Premium
	Family   pulumi.StringInput `pulumi:"family"`   // C | P
	Capacity pulumi.IntInput    `pulumi:"capacity"` // 1..5 for P
}

// RedisConfiguration holds redis.conf-like settings (ARM spells the keys oddly).
type RedisConfiguration struct {
	Authnotrequired pulumi.StringInput `pulumi:"authnotrequired"` // "false": AUTH required
	MaxmemoryPolicy pulumi.StringInput `pulumi:"maxmemoryPolicy"`
}

type RedisArgs struct {
	Name               pulumi.StringInput      `pulumi:"name"`
	ResourceGroupName  pulumi.StringInput      `pulumi:"resourceGroupName"`
	Location           pulumi.StringInput      `pulumi:"location"`
	Sku                RedisSku                `pulumi:"sku"`
	RedisVersion       pulumi.StringInput      `pulumi:"redisVersion"`
	EnableNonSslPort   pulumi.BoolInput        `pulumi:"enableNonSslPort"`
	MinimumTlsVersion  pulumi.StringInput      `pulumi:"minimumTlsVersion"`
	ReplicasPerPrimary pulumi.IntInput         `pulumi:"replicasPerPrimary"`
	Zones              pulumi.StringArrayInput `pulumi:"zones"`
	SubnetId           pulumi.StringInput      `pulumi:"subnetId"`
	RedisConfiguration *RedisConfiguration     `pulumi:"redisConfiguration"`
	Tags               Tags                    `pulumi:"tags"`
}

func (RedisArgs) ElementType() reflect.Type { return argsType(RedisArgs{}) }

func NewRedis(ctx *pulumi.Context, name string, args *RedisArgs, opts ...pulumi.ResourceOption) (*Redis, error) {
	return register(ctx, TypeRedis, name, args, &Redis{}, opts)
}
