package native

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ClientConfig is the identity the provider runs as (azure-native:authorization:getClientConfig).
type ClientConfig struct {
	ClientId       string `pulumi:"clientId"`
	ObjectId       string `pulumi:"objectId"`
	SubscriptionId string `pulumi:"subscriptionId"`
	TenantId       string `pulumi:"tenantId"`
}

type ClientConfigOutput struct{ *pulumi.OutputState }

func (ClientConfigOutput) ElementType() reflect.Type { return reflect.TypeOf(ClientConfig{}) }

func (o ClientConfigOutput) TenantId() pulumi.StringOutput {
	return o.ApplyT(func(c ClientConfig) string { return c.TenantId }).(pulumi.StringOutput)
}

func (o ClientConfigOutput) SubscriptionId() pulumi.StringOutput {
	return o.ApplyT(func(c ClientConfig) string { return c.SubscriptionId }).(pulumi.StringOutput)
}

func GetClientConfig(ctx *pulumi.Context, opts ...pulumi.InvokeOption) ClientConfigOutput {
	return ctx.InvokeOutput(FnGetClientConfig, nil, ClientConfigOutput{}, invokeOpts(opts)).(ClientConfigOutput)
}

// RedisKeys are a cache's access keys (azure-native:cache:listRedisKeys).
type RedisKeys struct {
	PrimaryKey   string `pulumi:"primaryKey"`
	SecondaryKey string `pulumi:"secondaryKey"`
}

type RedisKeysOutput struct{ *pulumi.OutputState }

func (RedisKeysOutput) ElementType() reflect.Type { return reflect.TypeOf(RedisKeys{}) }

// PrimaryKey is the AUTH password, as a secret.
func (o RedisKeysOutput) PrimaryKey() pulumi.StringOutput {
	k := o.ApplyT(func(k RedisKeys) string { return k.PrimaryKey }).(pulumi.StringOutput)
	return pulumi.ToSecret(k).(pulumi.StringOutput)
}

type ListRedisKeysArgs struct {
	Name              pulumi.StringInput `pulumi:"name"`
	ResourceGroupName pulumi.StringInput `pulumi:"resourceGroupName"`
}

func (ListRedisKeysArgs) ElementType() reflect.Type { return argsType(ListRedisKeysArgs{}) }

func ListRedisKeys(ctx *pulumi.Context, args ListRedisKeysArgs, opts ...pulumi.InvokeOption) RedisKeysOutput {
	return ctx.InvokeOutput(FnListRedisKeys, args, RedisKeysOutput{}, invokeOpts(opts)).(RedisKeysOutput)
}

// CredentialResults are a cluster's kubeconfigs
// (azure-native:containerservice:listManagedClusterUserCredentials).
type CredentialResults struct {
	Kubeconfigs []CredentialResult `pulumi:"kubeconfigs"`
}

// CredentialResult is one kubeconfig; Value is base64 of the file.
type CredentialResult struct {
	Name  string `pulumi:"name"`
	Value string `pulumi:"value"`
}

type CredentialResultsOutput struct{ *pulumi.OutputState }

func (CredentialResultsOutput) ElementType() reflect.Type { return reflect.TypeOf(CredentialResults{}) }

type ListManagedClusterUserCredentialsArgs struct {
	ResourceGroupName pulumi.StringInput `pulumi:"resourceGroupName"`
	ResourceName      pulumi.StringInput `pulumi:"resourceName"`
}

func (ListManagedClusterUserCredentialsArgs) ElementType() reflect.Type {
	return argsType(ListManagedClusterUserCredentialsArgs{})
}

func ListManagedClusterUserCredentials(ctx *pulumi.Context, args ListManagedClusterUserCredentialsArgs, opts ...pulumi.InvokeOption) CredentialResultsOutput {
	return ctx.InvokeOutput(FnListManagedClusterUserCredentials, args, CredentialResultsOutput{}, invokeOpts(opts)).(CredentialResultsOutput)
}
