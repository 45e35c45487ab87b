package native

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/mocktest"
)

// The declarations must reach the provider exactly as the generated SDK's would: the token,
// ARM's property names, nested objects, outputs of other resources resolved in place, the
// plugin version of the root module, and no property that was left unset.
func TestDeclarationsMarshalLikeTheGeneratedSDK(t *testing.T) {
	m := mocktest.New()
	m.State = func(r mocktest.Resource) resource.PropertyMap {
		if r.Type == TypeResourceGroup {
			return mocktest.Props(map[string]any{"name": mocktest.Str(r.Inputs, "resourceGroupName")})
		}
		return nil
	}
	m.Calls[FnListRedisKeys] = func(args resource.PropertyMap) resource.PropertyMap {
		if mocktest.Str(args, "name") != "cache-id" && mocktest.Str(args, "name") != "cp-cache" {
			t.Errorf("listRedisKeys got name %q", mocktest.Str(args, "name"))
		}
		return mocktest.Props(map[string]any{"primaryKey": "pk", "secondaryKey": "sk"})
	}
	var key string
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		rg, err := NewResourceGroup(ctx, "rg", &ResourceGroupArgs{
			ResourceGroupName: pulumi.String("cellplane-x"), Location: pulumi.String("uksouth"),
			Tags: pulumi.StringMap{"a": pulumi.String("b")},
		})
		if err != nil {
			return err
		}
		mc, err := NewManagedCluster(ctx, "aks", &ManagedClusterArgs{
			ResourceGroupName: rg.Name,
			Location:          pulumi.String("uksouth"),
			AgentPoolProfiles: []AgentPoolProfile{{
				Name: pulumi.String("system"), MinCount: pulumi.Int(2),
				NodeTaints: pulumi.StringArray{pulumi.String("k=v:NoSchedule")},
			}},
			ApiServerAccessProfile: &APIServerAccessProfile{EnablePrivateCluster: pulumi.Bool(true)},
			SecurityProfile: &SecurityProfile{AzureKeyVaultKms: &AzureKeyVaultKms{
				Enabled: pulumi.Bool(true), KeyId: pulumi.Sprintf("https://v.vault.azure.net/keys/%s/1", rg.Name),
			}},
		})
		if err != nil {
			return err
		}
		redis, err := NewRedis(ctx, "cache", &RedisArgs{Name: pulumi.String("cp-cache"), ResourceGroupName: rg.Name,
			Sku: RedisSku{Name: pulumi.String("Premium"), Family: pulumi.String("P"), Capacity: pulumi.Int(1)}})
		if err != nil {
			return err
		}
		ListRedisKeys(ctx, ListRedisKeysArgs{Name: redis.Name, ResourceGroupName: rg.Name}).PrimaryKey().ApplyT(func(k string) string {
			key = k
			return k
		})
		_ = mc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	aks := m.One(t, TypeManagedCluster, "aks")
	if got := mocktest.Str(aks.Inputs, "resourceGroupName"); got != "cellplane-x" {
		t.Errorf("resourceGroupName = %q (an output of the group, resolved)", got)
	}
	if got := mocktest.Str(aks.Inputs, "agentPoolProfiles", "0", "name"); got != "system" {
		t.Errorf("agentPoolProfiles[0].name = %q", got)
	}
	if got := mocktest.Num(aks.Inputs, "agentPoolProfiles", "0", "minCount"); got != 2 {
		t.Errorf("agentPoolProfiles[0].minCount = %d", got)
	}
	if got := mocktest.Strs(aks.Inputs, "agentPoolProfiles", "0", "nodeTaints"); len(got) != 1 || got[0] != "k=v:NoSchedule" {
		t.Errorf("nodeTaints = %v", got)
	}
	if v, ok := mocktest.Bool(aks.Inputs, "apiServerAccessProfile", "enablePrivateCluster"); !ok || !v {
		t.Errorf("enablePrivateCluster = %v, %v", v, ok)
	}
	if got := mocktest.Str(aks.Inputs, "securityProfile", "azureKeyVaultKms", "keyId"); got != "https://v.vault.azure.net/keys/cellplane-x/1" {
		t.Errorf("keyId = %q", got)
	}
	// Unset properties are not sent (the provider would otherwise null them out in ARM).
	for _, k := range []string{"kubernetesVersion", "networkProfile", "tags", "dnsPrefix"} {
		if _, ok := aks.Inputs[resource.PropertyKey(k)]; ok {
			t.Errorf("unset property %s was sent", k)
		}
	}
	if _, ok := mocktest.Path(aks.Inputs, "agentPoolProfiles", "0").ObjectValue()["vmSize"]; ok {
		t.Error("unset nested property vmSize was sent")
	}
	if aks.Version != "2.90.0" {
		t.Errorf("plugin version = %q, want the root module's 2.90.0", aks.Version)
	}
	if !m.DependsOnType(aks, TypeResourceGroup) {
		t.Error("the cluster does not depend on the resource group whose name it uses")
	}
	if key != "pk" {
		t.Errorf("listRedisKeys primary key = %q", key)
	}
}
