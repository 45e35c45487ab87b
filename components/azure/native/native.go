// Package native declares the few azure-native resources and functions cellplane uses, as
// small typed Go declarations registered by their azure-native type tokens
// (ctx.RegisterResource / ctx.InvokeOutput), exactly as the generated SDK registers them.
//
// Why this package exists: of the azure-native Go SDK only the root module
// (github.com/pulumi/pulumi-azure-native-sdk/v2: the provider and its config) can be had where
// cellplane is built; the per-service modules (containerservice, network, cache, ...) cannot.
// The azure-native provider plugin does not care which SDK spoke to it: it receives a type
// token and input properties by name. So each resource here is the generated one minus its
// generator noise: the same token, the same property names (ARM's, as the provider's schema
// spells them), the same default options (plugin version from the root module), inputs typed
// as Pulumi inputs and nested objects as plain structs of inputs. Only the properties cellplane
// sets are declared; outputs are the ones it reads.
//
// Property names and tokens follow azure-native v2.90.0 and its default API versions (network
// 2023-02-01, DNS 2018-05-01, cache 2023-04-01, keyvault 2023-02-01, resources 2022-09-01,
// managedidentity 2023-01-31, authorization 2022-04-01), except AKS: containerservice is
// pinned to API 2024-09-01 (the provider's versioned token), the first GA version whose
// agent pools carry allowedHostPorts, which is how AKS opens ports on node public IPs.
// Swapping in the generated packages later changes no URN: the tokens and names are the same.
package native

import (
	"reflect"

	"github.com/pulumi/pulumi-azure-native-sdk/v2/utilities"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type tokens, one per resource kind declared here.
const (
	TypeResourceGroup        = "azure-native:resources:ResourceGroup"
	TypeVirtualNetwork       = "azure-native:network:VirtualNetwork"
	TypeSubnet               = "azure-native:network:Subnet"
	TypeNetworkSecurityGroup = "azure-native:network:NetworkSecurityGroup"
	TypePublicIPAddress      = "azure-native:network:PublicIPAddress"
	TypeRecordSet            = "azure-native:network:RecordSet"
	TypeUserAssignedIdentity = "azure-native:managedidentity:UserAssignedIdentity"
	TypeRoleAssignment       = "azure-native:authorization:RoleAssignment"
	TypeVault                = "azure-native:keyvault:Vault"
	TypeKey                  = "azure-native:keyvault:Key"
	TypeManagedCluster       = "azure-native:containerservice/v20240901:ManagedCluster"
	TypeAgentPool            = "azure-native:containerservice/v20240901:AgentPool"
	TypeRedis                = "azure-native:cache:Redis"

	FnGetClientConfig                   = "azure-native:authorization:getClientConfig"
	FnListRedisKeys                     = "azure-native:cache:listRedisKeys"
	FnListManagedClusterUserCredentials = "azure-native:containerservice/v20240901:listManagedClusterUserCredentials"
)

// register is what every generated New<Resource> does: default options (the plugin version
// of the root module), then RegisterResource under the token.
func register[R pulumi.CustomResource](ctx *pulumi.Context, token, name string, args pulumi.Input, res R, opts []pulumi.ResourceOption) (R, error) {
	opts = utilities.PkgResourceDefaultOpts(opts)
	if err := ctx.RegisterResource(token, name, args, res, opts...); err != nil {
		var zero R
		return zero, err
	}
	return res, nil
}

func invokeOpts(opts []pulumi.InvokeOption) pulumi.InvokeOutputOptions {
	return pulumi.InvokeOutputOptions{InvokeOptions: utilities.PkgInvokeDefaultOpts(opts)}
}

// argsType makes an args struct its own element type: its fields carry the property names.
func argsType(v any) reflect.Type { return reflect.TypeOf(v) }

// Tags is the ARM tags map.
type Tags = pulumi.StringMapInput

// SubResource references another resource by ARM id.
type SubResource struct {
	ID pulumi.StringInput `pulumi:"id"`
}

func init() {
	pulumi.RegisterOutputType(ClientConfigOutput{})
	pulumi.RegisterOutputType(RedisKeysOutput{})
	pulumi.RegisterOutputType(CredentialResultsOutput{})
}
