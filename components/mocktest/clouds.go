package mocktest

import (
	"encoding/base64"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Clouds returns mocks that answer like AWS, GCP and Azure would for the resources and
// functions the cluster components use: computed ids, ARNs, endpoints, addresses, keys. The
// values are fixed so tests can assert where they flow.
func Clouds() *Mocks {
	m := New()
	m.State = func(r Resource) resource.PropertyMap {
		switch {
		case strings.HasPrefix(r.Type, "aws:"):
			return awsState(r)
		case strings.HasPrefix(r.Type, "gcp:"):
			return gcpState(r)
		case strings.HasPrefix(r.Type, "azure-native:"):
			return azureState(r)
		case r.Type == "random:index/randomPassword:RandomPassword":
			return resource.PropertyMap{"result": resource.MakeSecret(resource.NewStringProperty(strings.Repeat("p", 64)))}
		case r.Type == "random:index/randomString:RandomString":
			return Props(map[string]any{"result": "k3x9q2"})
		}
		return nil
	}
	for tok, f := range cloudCalls {
		m.Calls[tok] = f
	}
	return m
}

// Values the cloud mocks compute, for assertions.
const (
	AWSClusterSecurityGroup = "sg-cluster"
	AWSClusterEndpoint      = "https://ABCDEF.gr7.eks.amazonaws.com"
	AWSIngressIP            = "198.51.100.7"
	GCPProjectID            = "charite-prod"
	GCPProjectNumber        = "123456789012"
	GCPClusterEndpoint      = "172.16.0.2"
	GCPMasterVersion        = "1.30.5-gke.1014001"
	GCPIngressIP            = "203.0.113.9"
	GCPRedisAuth            = "redis-auth-string"
	AzureTenant             = "tenant-1"
	AzureIngressIP          = "20.0.0.5"
	AzureRedisKey           = "redis-primary-key"
	AzureKubeconfig         = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://cp-nhs-trust-1a2b.privatelink.uksouth.azmk8s.io:443\n  name: cellplane-nhs-trust\n"
	RandomSuffix            = "k3x9q2"
)

// AWSArn is the ARN the mocks give a resource by name.
func AWSArn(name string) string { return "arn:aws:service:us-east-1:123456789012:" + name }

func awsState(r Resource) resource.PropertyMap {
	switch r.Type {
	case "aws:eks/cluster:Cluster":
		vpc := Path(r.Inputs, "vpcConfig").ObjectValue().Copy()
		vpc["clusterSecurityGroupId"] = resource.NewStringProperty(AWSClusterSecurityGroup)
		return resource.PropertyMap{
			"arn":                  resource.NewStringProperty(AWSArn(r.Name)),
			"endpoint":             resource.NewStringProperty(AWSClusterEndpoint),
			"certificateAuthority": resource.NewObjectProperty(Props(map[string]any{"data": "Q0EK"})),
			"identities": resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(Props(map[string]any{
				"oidcs": []any{map[string]any{"issuer": "https://oidc.eks.amazonaws.com/id/ABCDEF"}}}))}),
			"vpcConfig": resource.NewObjectProperty(vpc),
		}
	case "aws:iam/role:Role", "aws:iam/policy:Policy", "aws:kms/key:Key", "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		return Props(map[string]any{"arn": AWSArn(r.Name), "name": r.Name, "keyId": r.Name + "-key"})
	case "aws:acm/certificate:Certificate":
		domain := Str(r.Inputs, "domainName")
		return Props(map[string]any{"arn": AWSArn(r.Name), "domainValidationOptions": []any{map[string]any{
			"domainName": domain, "resourceRecordName": "_x." + domain, "resourceRecordType": "CNAME",
			"resourceRecordValue": "_y.acm-validations.aws"}}})
	case "aws:ec2/eip:Eip":
		return Props(map[string]any{"allocationId": "eipalloc-" + r.Name, "publicIp": AWSIngressIP})
	case "aws:ec2/launchTemplate:LaunchTemplate":
		return Props(map[string]any{"latestVersion": 1})
	case "aws:elasticache/replicationGroup:ReplicationGroup":
		return Props(map[string]any{"primaryEndpointAddress": "master." + Str(r.Inputs, "replicationGroupId") + ".cache.amazonaws.com"})
	case "aws:route53/record:Record":
		return Props(map[string]any{"fqdn": Str(r.Inputs, "name")})
	case "aws:elasticache/subnetGroup:SubnetGroup":
		return Props(map[string]any{"name": r.Name})
	}
	return nil
}

func gcpState(r Resource) resource.PropertyMap {
	switch r.Type {
	case "gcp:container/cluster:Cluster":
		return Props(map[string]any{"name": Str(r.Inputs, "name"), "endpoint": GCPClusterEndpoint,
			"masterVersion": GCPMasterVersion, "masterAuth": map[string]any{"clusterCaCertificate": "Q0EK"}})
	case "gcp:compute/address:Address":
		return Props(map[string]any{"address": GCPIngressIP, "name": r.Name + "-abc"})
	case "gcp:redis/instance:Instance":
		return resource.PropertyMap{"host": resource.NewStringProperty("10.1.2.3"), "port": resource.NewNumberProperty(6378),
			"authString": resource.MakeSecret(resource.NewStringProperty(GCPRedisAuth))}
	case "gcp:serviceaccount/account:Account":
		return Props(map[string]any{"email": Str(r.Inputs, "accountId") + "@" + GCPProjectID + ".iam.gserviceaccount.com"})
	case "gcp:compute/router:Router":
		return Props(map[string]any{"name": r.Name})
	}
	return nil
}

func azureState(r Resource) resource.PropertyMap {
	in := func(k string) string { return Str(r.Inputs, k) }
	switch strings.SplitN(r.Type, ":", 3)[2] {
	case "ResourceGroup":
		return Props(map[string]any{"name": in("resourceGroupName")})
	case "VirtualNetwork":
		return Props(map[string]any{"name": in("virtualNetworkName")})
	case "Subnet":
		return Props(map[string]any{"name": in("subnetName")})
	case "NetworkSecurityGroup":
		return Props(map[string]any{"name": in("networkSecurityGroupName")})
	case "UserAssignedIdentity":
		return Props(map[string]any{"name": in("resourceName"), "principalId": "principal-" + r.Name, "clientId": "client-" + r.Name})
	case "Vault":
		return Props(map[string]any{"name": in("vaultName")})
	case "Key":
		uri := "https://" + in("vaultName") + ".vault.azure.net/keys/" + in("keyName")
		return Props(map[string]any{"keyUri": uri, "keyUriWithVersion": uri + "/0123abcd"})
	case "ManagedCluster":
		return Props(map[string]any{"name": in("resourceName"), "privateFQDN": "cp-nhs-trust-1a2b.privatelink.uksouth.azmk8s.io"})
	case "AgentPool":
		return Props(map[string]any{"name": in("agentPoolName")})
	case "Redis":
		return Props(map[string]any{"name": in("name"), "hostName": in("name") + ".redis.cache.windows.net", "sslPort": 6380})
	case "PublicIPAddress":
		return Props(map[string]any{"name": in("publicIpAddressName"), "ipAddress": AzureIngressIP})
	}
	return nil
}

var cloudCalls = map[string]func(resource.PropertyMap) resource.PropertyMap{
	"aws:index/getAvailabilityZones:getAvailabilityZones": func(resource.PropertyMap) resource.PropertyMap {
		return Props(map[string]any{"names": []any{"zone-a", "zone-b", "zone-c", "zone-d"}, "zoneIds": []any{"z1", "z2", "z3", "z4"}, "id": "x"})
	},
	"aws:route53/getZone:getZone": func(args resource.PropertyMap) resource.PropertyMap {
		return Props(map[string]any{"zoneId": "Z123", "name": Str(args, "name"), "id": "Z123"})
	},
	"gcp:organizations/getProject:getProject": func(resource.PropertyMap) resource.PropertyMap {
		return Props(map[string]any{"number": GCPProjectNumber, "projectId": GCPProjectID, "id": "projects/" + GCPProjectID})
	},
	"azure-native:authorization:getClientConfig": func(resource.PropertyMap) resource.PropertyMap {
		return Props(map[string]any{"tenantId": AzureTenant, "subscriptionId": "sub-1", "clientId": "c", "objectId": "o"})
	},
	"azure-native:cache:listRedisKeys": func(resource.PropertyMap) resource.PropertyMap {
		return Props(map[string]any{"primaryKey": AzureRedisKey, "secondaryKey": "s"})
	},
	"azure-native:containerservice/v20240901:listManagedClusterUserCredentials": func(resource.PropertyMap) resource.PropertyMap {
		return Props(map[string]any{"kubeconfigs": []any{map[string]any{"name": "clusterUser",
			"value": base64.StdEncoding.EncodeToString([]byte(AzureKubeconfig))}}})
	},
}
