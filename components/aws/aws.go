// Package aws is the AWS implementation of the cluster contract: a VPC across three zones,
// EKS with a private API endpoint and KMS envelope encryption of secrets, managed node groups
// system / media / workers, ElastiCache Redis with TLS and AUTH, and the org's hostname in
// Route 53 with an ACM certificate for the ingress.
//
// Layout of the network: system and workers nodes sit in private subnets behind one NAT
// gateway per zone; media nodes sit in public subnets with their own public IPs, because
// LiveKit hands clients the node's address for RTC and does not work behind NAT. Only the
// media security group opens ports to the world, and only LiveKit's RTC ports.
package aws

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/elasticache"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/internal/cloud"
	"github.com/cellplane/cellplane/infra/spec"
)

// Sizing: machine types per sizing (system, media, workers); the autoscaling bounds come from
// cluster.Bounds so every cloud scales alike. Media runs on network-optimised instances.
var instanceTypes = map[spec.Sizing][3]string{
	spec.Small:  {"m6i.large", "c6in.xlarge", "m6i.xlarge"},
	spec.Medium: {"m6i.large", "c6in.2xlarge", "m6i.2xlarge"},
	spec.Large:  {"m6i.xlarge", "c6in.4xlarge", "m6i.4xlarge"},
}

// Sizes is the AWS sizing table of the node pools.
var Sizes = cloud.PoolTable(instanceTypes, [3]int{50, 50, 100})

// RedisNodeTypes is the ElastiCache node type per sizing.
var RedisNodeTypes = map[spec.Sizing]string{
	spec.Small: "cache.m6g.large", spec.Medium: "cache.m6g.xlarge", spec.Large: "cache.r6g.xlarge",
}

const (
	vpcCIDR   = "10.0.0.0/16"
	redisPort = 6379
	// AMI family of every node group: EKS-optimised Amazon Linux 2023.
	amiType = "AL2023_x86_64_STANDARD"
)

var (
	publicCIDRs  = [3]string{"10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"}
	privateCIDRs = [3]string{"10.0.64.0/18", "10.0.128.0/18", "10.0.192.0/18"}
	logTypes     = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}
)

//go:embed policies/lb-controller.json
var lbControllerPolicy string

//go:embed policies/cluster-autoscaler.json
var clusterAutoscalerPolicy string

// Cluster is an EKS cluster with everything the platform needs around it.
type Cluster struct {
	pulumi.ResourceState

	Outputs     cluster.Outputs
	ClusterName pulumi.StringOutput
	// Roles for the in-cluster controllers (IRSA), to annotate their service accounts with.
	LBControllerRoleArn      pulumi.StringOutput
	ClusterAutoscalerRoleArn pulumi.StringOutput
	// IngressCertificateArn is the validated ACM certificate for the hostname.
	IngressCertificateArn pulumi.StringOutput
}

// NewCluster is the cluster.Builder for AWS.
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
	args, err := cloud.Prepare(spec.AWS, args, Sizes)
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource("cellplane:aws:Cluster", name, c, opts...); err != nil {
		return nil, err
	}
	// An explicit provider pins the region to the stack's config, whatever aws:region says.
	prov, err := aws.NewProvider(ctx, name, &aws.ProviderArgs{Region: pulumi.String(args.Region)}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, name: name, args: args, c: c, prov: prov,
		tags:        pulumi.ToStringMap(args.Tags),
		clusterName: cloud.ShortName("cellplane", args.Org, "-", 100)}
	steps := []func() error{b.network, b.key, b.roles, b.controlPlane, b.irsa, b.pools, b.redis, b.dns, b.outputs}
	for _, step := range steps {
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
	prov        *aws.Provider
	tags        pulumi.StringMap
	clusterName string

	vpc            *ec2.Vpc
	publicSubnets  pulumi.StringArray
	privateSubnets pulumi.StringArray
	natRoutes      []pulumi.Resource // private route associations: nodes need egress to join
	ingressEIPs    []*ec2.Eip
	keyArn         pulumi.StringInput
	clusterRole    *iam.Role
	clusterDeps    []pulumi.Resource
	nodeRole       *iam.Role
	nodeDeps       []pulumi.Resource
	cluster        *eks.Cluster
	clusterSG      pulumi.StringOutput
	nodeGroups     []pulumi.Resource
	redisGroup     *elasticache.ReplicationGroup
	redisAuth      pulumi.StringOutput
	hostname       pulumi.StringOutput
}

func (b *builder) opts(more ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append([]pulumi.ResourceOption{pulumi.Parent(b.c), pulumi.Provider(b.prov)}, more...)
}

// with returns the cell's tags plus extra ones (subnet roles, Name).
func (b *builder) with(extra map[string]string) pulumi.StringMap {
	m := pulumi.StringMap{}
	for k, v := range b.tags {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = pulumi.String(v)
	}
	return m
}

func (b *builder) network() error {
	ctx, n := b.ctx, b.name
	zones, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{
		State:   pulumi.StringRef("available"),
		Filters: []aws.GetAvailabilityZonesFilter{{Name: "opt-in-status", Values: []string{"opt-in-not-required"}}},
	}, pulumi.Provider(b.prov))
	if err != nil {
		return err
	}
	if len(zones.Names) < 3 {
		return fmt.Errorf("aws cluster: region %s offers %d availability zones; 3 are needed", b.args.Region, len(zones.Names))
	}
	b.vpc, err = ec2.NewVpc(ctx, n+"-vpc", &ec2.VpcArgs{
		CidrBlock: pulumi.String(vpcCIDR), EnableDnsHostnames: pulumi.Bool(true), EnableDnsSupport: pulumi.Bool(true),
		Tags: b.with(map[string]string{"Name": b.clusterName}),
	}, b.opts()...)
	if err != nil {
		return err
	}
	igw, err := ec2.NewInternetGateway(ctx, n+"-igw", &ec2.InternetGatewayArgs{VpcId: b.vpc.ID(), Tags: b.tags}, b.opts()...)
	if err != nil {
		return err
	}
	publicRT, err := ec2.NewRouteTable(ctx, n+"-public", &ec2.RouteTableArgs{
		VpcId:  b.vpc.ID(),
		Routes: ec2.RouteTableRouteArray{ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID()}},
		Tags:   b.with(map[string]string{"Name": b.clusterName + "-public"}),
	}, b.opts()...)
	if err != nil {
		return err
	}
	clusterTag := "kubernetes.io/cluster/" + b.clusterName
	for i, az := range zones.Names[:3] {
		pub, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%d", n, i), &ec2.SubnetArgs{
			VpcId: b.vpc.ID(), AvailabilityZone: pulumi.String(az), CidrBlock: pulumi.String(publicCIDRs[i]),
			MapPublicIpOnLaunch: pulumi.Bool(true),
			Tags: b.with(map[string]string{"Name": b.clusterName + "-public-" + az,
				"kubernetes.io/role/elb": "1", clusterTag: "shared"}),
		}, b.opts()...)
		if err != nil {
			return err
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%d", n, i), &ec2.RouteTableAssociationArgs{
			SubnetId: pub.ID(), RouteTableId: publicRT.ID(),
		}, b.opts()...); err != nil {
			return err
		}
		natIP, err := ec2.NewEip(ctx, fmt.Sprintf("%s-nat-%d", n, i), &ec2.EipArgs{Domain: pulumi.String("vpc"), Tags: b.tags},
			b.opts(pulumi.DependsOn([]pulumi.Resource{igw}))...)
		if err != nil {
			return err
		}
		nat, err := ec2.NewNatGateway(ctx, fmt.Sprintf("%s-nat-%d", n, i), &ec2.NatGatewayArgs{
			AllocationId: natIP.ID(), SubnetId: pub.ID(), Tags: b.tags,
		}, b.opts()...)
		if err != nil {
			return err
		}
		priv, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-private-%d", n, i), &ec2.SubnetArgs{
			VpcId: b.vpc.ID(), AvailabilityZone: pulumi.String(az), CidrBlock: pulumi.String(privateCIDRs[i]),
			MapPublicIpOnLaunch: pulumi.Bool(false),
			Tags: b.with(map[string]string{"Name": b.clusterName + "-private-" + az,
				"kubernetes.io/role/internal-elb": "1", clusterTag: "shared"}),
		}, b.opts()...)
		if err != nil {
			return err
		}
		privRT, err := ec2.NewRouteTable(ctx, fmt.Sprintf("%s-private-%d", n, i), &ec2.RouteTableArgs{
			VpcId:  b.vpc.ID(),
			Routes: ec2.RouteTableRouteArray{ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), NatGatewayId: nat.ID()}},
			Tags:   b.with(map[string]string{"Name": b.clusterName + "-private-" + az}),
		}, b.opts()...)
		if err != nil {
			return err
		}
		assoc, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-private-%d", n, i), &ec2.RouteTableAssociationArgs{
			SubnetId: priv.ID(), RouteTableId: privRT.ID(),
		}, b.opts()...)
		if err != nil {
			return err
		}
		// The ingress load balancer's static addresses, one per public subnet; the DNS
		// record points at them before the load balancer exists.
		eip, err := ec2.NewEip(ctx, fmt.Sprintf("%s-ingress-%d", n, i), &ec2.EipArgs{Domain: pulumi.String("vpc"), Tags: b.tags},
			b.opts(pulumi.DependsOn([]pulumi.Resource{igw}))...)
		if err != nil {
			return err
		}
		b.publicSubnets = append(b.publicSubnets, pub.ID())
		b.privateSubnets = append(b.privateSubnets, priv.ID())
		b.natRoutes = append(b.natRoutes, assoc)
		b.ingressEIPs = append(b.ingressEIPs, eip)
	}
	return nil
}

// key is the KMS key for secrets envelope encryption (and Redis at rest): the customer's
// (BYOK) when the stack names one, else one created here, rotated yearly, protected.
func (b *builder) key() error {
	if b.args.KMSKeyID != "" {
		b.keyArn = pulumi.String(b.args.KMSKeyID)
		return nil
	}
	k, err := kms.NewKey(b.ctx, b.name+"-secrets", &kms.KeyArgs{
		Description:          pulumi.Sprintf("cellplane %s: EKS secrets envelope encryption and Redis at rest", b.args.Org),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(30),
		Tags:                 b.tags,
	}, b.opts(pulumi.Protect(b.args.DeletionProtection))...)
	if err != nil {
		return err
	}
	if _, err := kms.NewAlias(b.ctx, b.name+"-secrets", &kms.AliasArgs{
		Name: pulumi.String("alias/" + b.clusterName + "-secrets"), TargetKeyId: k.KeyId,
	}, b.opts()...); err != nil {
		return err
	}
	b.keyArn = k.Arn
	return nil
}

func assumeRole(service string) pulumi.String {
	return pulumi.String(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":%q},"Action":"sts:AssumeRole"}]}`, service))
}

func (b *builder) attach(role *iam.Role, name string, policies ...string) ([]pulumi.Resource, error) {
	var out []pulumi.Resource
	for _, p := range policies {
		a, err := iam.NewRolePolicyAttachment(b.ctx, b.name+"-"+name+"-"+strings.ToLower(p), &iam.RolePolicyAttachmentArgs{
			Role: role.Name, PolicyArn: pulumi.String("arn:aws:iam::aws:policy/" + p),
		}, b.opts()...)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// roles are the cluster's and the nodes' IAM roles: AWS managed policies only, plus the
// cluster's use of the one KMS key.
func (b *builder) roles() error {
	var err error
	b.clusterRole, err = iam.NewRole(b.ctx, b.name+"-cluster", &iam.RoleArgs{
		AssumeRolePolicy: assumeRole("eks.amazonaws.com"), Tags: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	if b.clusterDeps, err = b.attach(b.clusterRole, "cluster", "AmazonEKSClusterPolicy"); err != nil {
		return err
	}
	kmsUse, err := iam.NewRolePolicy(b.ctx, b.name+"-cluster-kms", &iam.RolePolicyArgs{
		Role: b.clusterRole.Name,
		Policy: pulumi.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:CreateGrant","kms:ListGrants"],"Resource":%q}]}`,
			b.keyArn),
	}, b.opts()...)
	if err != nil {
		return err
	}
	b.clusterDeps = append(b.clusterDeps, kmsUse)

	b.nodeRole, err = iam.NewRole(b.ctx, b.name+"-nodes", &iam.RoleArgs{
		AssumeRolePolicy: assumeRole("ec2.amazonaws.com"), Tags: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	b.nodeDeps, err = b.attach(b.nodeRole, "nodes", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
	return err
}

func (b *builder) controlPlane() error {
	logs, err := cloudwatch.NewLogGroup(b.ctx, b.name+"-control-plane", &cloudwatch.LogGroupArgs{
		// EKS writes here; created first so it is tagged, retained 90 days and deleted with the stack.
		Name: pulumi.String("/aws/eks/" + b.clusterName + "/cluster"), RetentionInDays: pulumi.Int(90), Tags: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	ep := cloud.APIEndpoint(b.args)
	vpcCfg := eks.ClusterVpcConfigArgs{
		SubnetIds:             b.privateSubnets,
		EndpointPrivateAccess: pulumi.Bool(true),
		EndpointPublicAccess:  pulumi.Bool(ep.Public),
	}
	if ep.Public && len(ep.CIDRs) > 0 {
		vpcCfg.PublicAccessCidrs = pulumi.ToStringArray(ep.CIDRs)
	}
	var version pulumi.StringPtrInput
	if v := b.args.KubernetesVersion; v != "" {
		version = pulumi.String(cloud.MinorVersion(v))
	}
	b.cluster, err = eks.NewCluster(b.ctx, b.name, &eks.ClusterArgs{
		Name:      pulumi.String(b.clusterName),
		RoleArn:   b.clusterRole.Arn,
		Version:   version,
		VpcConfig: vpcCfg,
		EncryptionConfig: eks.ClusterEncryptionConfigArgs{
			Provider:  eks.ClusterEncryptionConfigProviderArgs{KeyArn: b.keyArn},
			Resources: pulumi.StringArray{pulumi.String("secrets")},
		},
		EnabledClusterLogTypes: pulumi.ToStringArray(logTypes),
		AccessConfig: eks.ClusterAccessConfigArgs{
			AuthenticationMode:                      pulumi.String("API"),
			BootstrapClusterCreatorAdminPermissions: pulumi.Bool(true),
		},
		Tags: b.tags,
	}, b.opts(pulumi.DependsOn(append([]pulumi.Resource{logs}, b.clusterDeps...)))...)
	if err != nil {
		return err
	}
	b.clusterSG = b.cluster.VpcConfig.ClusterSecurityGroupId().Elem()
	b.c.ClusterName = b.cluster.Name
	return nil
}

// irsa creates the cluster's OIDC provider and the roles its controllers assume through it:
// the AWS Load Balancer Controller and the cluster autoscaler, each bound to one service
// account in kube-system.
func (b *builder) irsa() error {
	issuer := b.cluster.Identities.Index(pulumi.Int(0)).Oidcs().Index(pulumi.Int(0)).Issuer().Elem()
	oidc, err := iam.NewOpenIdConnectProvider(b.ctx, b.name+"-oidc", &iam.OpenIdConnectProviderArgs{
		Url: issuer, ClientIdLists: pulumi.StringArray{pulumi.String("sts.amazonaws.com")}, Tags: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	role := func(short, serviceAccount, policy string) (pulumi.StringOutput, error) {
		trust := pulumi.All(oidc.Arn, oidc.Url).ApplyT(func(v []any) string {
			host := strings.TrimPrefix(v[1].(string), "https://")
			return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":%q},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{%q:%q,%q:"sts.amazonaws.com"}}}]}`,
				v[0].(string), host+":sub", "system:serviceaccount:kube-system:"+serviceAccount, host+":aud")
		}).(pulumi.StringOutput)
		r, err := iam.NewRole(b.ctx, b.name+"-"+short, &iam.RoleArgs{AssumeRolePolicy: trust, Tags: b.tags}, b.opts()...)
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		p, err := iam.NewPolicy(b.ctx, b.name+"-"+short, &iam.PolicyArgs{
			Description: pulumi.Sprintf("cellplane %s: %s", b.args.Org, serviceAccount),
			Policy:      pulumi.String(policy), Tags: b.tags,
		}, b.opts()...)
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		if _, err := iam.NewRolePolicyAttachment(b.ctx, b.name+"-"+short, &iam.RolePolicyAttachmentArgs{
			Role: r.Name, PolicyArn: p.Arn,
		}, b.opts()...); err != nil {
			return pulumi.StringOutput{}, err
		}
		return r.Arn, nil
	}
	if b.c.LBControllerRoleArn, err = role("lbc", "aws-load-balancer-controller", lbControllerPolicy); err != nil {
		return err
	}
	b.c.ClusterAutoscalerRoleArn, err = role("autoscaler", "cluster-autoscaler",
		strings.ReplaceAll(clusterAutoscalerPolicy, "${cluster}", b.clusterName))
	return err
}

func (b *builder) pools() error {
	media, err := ec2.NewSecurityGroup(b.ctx, b.name+"-media", &ec2.SecurityGroupArgs{
		VpcId:       b.vpc.ID(),
		Description: pulumi.String("LiveKit RTC from anywhere to the media nodes' public IPs"),
		Ingress:     mediaIngress(b.args),
		Egress: ec2.SecurityGroupEgressArray{ec2.SecurityGroupEgressArgs{
			Protocol: pulumi.String("-1"), FromPort: pulumi.Int(0), ToPort: pulumi.Int(0),
			CidrBlocks: pulumi.StringArray{pulumi.String("0.0.0.0/0")},
		}},
		Tags: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	deps := append(append([]pulumi.Resource{}, b.nodeDeps...), b.natRoutes...)
	for _, p := range b.args.Pools.All() {
		lt, err := ec2.NewLaunchTemplate(b.ctx, b.name+"-"+p.Name, b.launchTemplate(p, media), b.opts()...)
		if err != nil {
			return err
		}
		subnets := b.privateSubnets
		if p.PublicIPs {
			subnets = b.publicSubnets
		}
		var taints eks.NodeGroupTaintArray
		for _, t := range p.Taints {
			taints = append(taints, eks.NodeGroupTaintArgs{
				Key: pulumi.String(t.Key), Value: pulumi.String(t.Value), Effect: pulumi.String(cloud.TaintEffect(t.Effect)),
			})
		}
		ng, err := eks.NewNodeGroup(b.ctx, b.name+"-"+p.Name, &eks.NodeGroupArgs{
			ClusterName:   b.cluster.Name,
			NodeRoleArn:   b.nodeRole.Arn,
			SubnetIds:     subnets,
			InstanceTypes: pulumi.StringArray{pulumi.String(p.InstanceType)},
			AmiType:       pulumi.String(amiType),
			CapacityType:  pulumi.String("ON_DEMAND"),
			ScalingConfig: eks.NodeGroupScalingConfigArgs{
				MinSize: pulumi.Int(p.Min), MaxSize: pulumi.Int(p.Max), DesiredSize: pulumi.Int(p.Min),
			},
			Labels: pulumi.ToStringMap(p.Labels),
			Taints: taints,
			LaunchTemplate: eks.NodeGroupLaunchTemplateArgs{
				Id: lt.ID(), Version: pulumi.Sprintf("%d", lt.LatestVersion),
			},
			UpdateConfig: eks.NodeGroupUpdateConfigArgs{MaxUnavailable: pulumi.Int(1)},
			Tags:         b.tags,
		}, b.opts(
			pulumi.DependsOn(deps),
			// The cluster autoscaler owns the desired size between min and max.
			pulumi.IgnoreChanges([]string{"scalingConfig.desiredSize"}),
		)...)
		if err != nil {
			return err
		}
		b.nodeGroups = append(b.nodeGroups, ng)
	}
	return nil
}

// mediaIngress opens LiveKit's RTC ports to the world; nothing else is opened on any pool.
func mediaIngress(a cluster.Args) ec2.SecurityGroupIngressArray {
	var rules ec2.SecurityGroupIngressArray
	for _, p := range cloud.RTCPorts(a) {
		rules = append(rules, ec2.SecurityGroupIngressArgs{Protocol: pulumi.String(p.Protocol),
			FromPort: pulumi.Int(p.From), ToPort: pulumi.Int(p.To),
			CidrBlocks: pulumi.StringArray{pulumi.String("0.0.0.0/0")}, Description: pulumi.String(p.What)})
	}
	return rules
}

// launchTemplate gives each pool IMDSv2, an encrypted gp3 root volume and tags on what the
// node group launches (instances, volumes, interfaces are not tagged by EKS). Media nodes get
// a public IP on their interface and the media security group next to the cluster's.
func (b *builder) launchTemplate(p cluster.NodePool, media *ec2.SecurityGroup) *ec2.LaunchTemplateArgs {
	hops := 1 // pods cannot reach the node's instance metadata (they use IRSA)
	if p.Name == cluster.PoolSystem {
		hops = 2 // add-ons on the system pool may read region and VPC from it
	}
	var specs ec2.LaunchTemplateTagSpecificationArray
	for _, rt := range []string{"instance", "volume", "network-interface"} {
		specs = append(specs, ec2.LaunchTemplateTagSpecificationArgs{
			ResourceType: pulumi.String(rt), Tags: b.with(map[string]string{"Name": b.clusterName + "-" + p.Name}),
		})
	}
	lt := &ec2.LaunchTemplateArgs{
		Description: pulumi.Sprintf("cellplane %s %s nodes", b.args.Org, p.Name),
		MetadataOptions: ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint: pulumi.String("enabled"), HttpTokens: pulumi.String("required"),
			HttpPutResponseHopLimit: pulumi.Int(hops),
		},
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{ec2.LaunchTemplateBlockDeviceMappingArgs{
			DeviceName: pulumi.String("/dev/xvda"),
			Ebs: ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
				VolumeSize: pulumi.Int(p.DiskSizeGB), VolumeType: pulumi.String("gp3"),
				Encrypted: pulumi.String("true"), DeleteOnTermination: pulumi.String("true"),
			},
		}},
		TagSpecifications:    specs,
		UpdateDefaultVersion: pulumi.Bool(true),
		Tags:                 b.tags,
	}
	if p.PublicIPs {
		// Security groups on the interface replace the ones EKS would add, so the cluster's
		// own group is listed too (node <-> control plane traffic).
		lt.NetworkInterfaces = ec2.LaunchTemplateNetworkInterfaceArray{ec2.LaunchTemplateNetworkInterfaceArgs{
			DeviceIndex:              pulumi.Int(0),
			AssociatePublicIpAddress: pulumi.String("true"),
			DeleteOnTermination:      pulumi.String("true"),
			SecurityGroups:           pulumi.StringArray{b.clusterSG, media.ID()},
		}}
	}
	return lt
}

func (b *builder) redis() error {
	auth, err := random.NewRandomPassword(b.ctx, b.name+"-redis-auth", &random.RandomPasswordArgs{
		Length: pulumi.Int(64), Special: pulumi.Bool(false), // AUTH tokens forbid some symbols
	}, pulumi.Parent(b.c))
	if err != nil {
		return err
	}
	b.redisAuth = auth.Result
	subnets, err := elasticache.NewSubnetGroup(b.ctx, b.name+"-redis", &elasticache.SubnetGroupArgs{
		Description: pulumi.Sprintf("cellplane %s Redis", b.args.Org), SubnetIds: b.privateSubnets, Tags: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	sg, err := ec2.NewSecurityGroup(b.ctx, b.name+"-redis", &ec2.SecurityGroupArgs{
		VpcId:       b.vpc.ID(),
		Description: pulumi.String("Redis from the cluster's nodes only"),
		Ingress: ec2.SecurityGroupIngressArray{ec2.SecurityGroupIngressArgs{
			Protocol: pulumi.String("tcp"), FromPort: pulumi.Int(redisPort), ToPort: pulumi.Int(redisPort),
			SecurityGroups: pulumi.StringArray{b.clusterSG}, Description: pulumi.String("Redis (TLS) from nodes"),
		}},
		Tags: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	replicas := 2
	if b.args.Sizing == spec.Large {
		replicas = 3
	}
	b.redisGroup, err = elasticache.NewReplicationGroup(b.ctx, b.name+"-redis", &elasticache.ReplicationGroupArgs{
		ReplicationGroupId:       pulumi.String(cloud.ShortName("cp", b.args.Org, "-", 40)),
		Description:              pulumi.Sprintf("cellplane %s: LiveKit routing and tenant state", b.args.Org),
		Engine:                   pulumi.String("redis"),
		EngineVersion:            pulumi.String("7.1"),
		NodeType:                 pulumi.String(RedisNodeTypes[b.args.Sizing]),
		Port:                     pulumi.Int(redisPort),
		NumCacheClusters:         pulumi.Int(replicas), // primary + replicas across zones
		AutomaticFailoverEnabled: pulumi.Bool(true),
		MultiAzEnabled:           pulumi.Bool(true),
		TransitEncryptionEnabled: pulumi.Bool(true),
		AtRestEncryptionEnabled:  pulumi.Bool(true),
		KmsKeyId:                 b.keyArn,
		AuthToken:                auth.Result,
		SubnetGroupName:          subnets.Name,
		SecurityGroupIds:         pulumi.StringArray{sg.ID()},
		SnapshotRetentionLimit:   pulumi.Int(7),
		AutoMinorVersionUpgrade:  pulumi.Bool(true),
		Tags:                     b.tags,
	}, b.opts(pulumi.Protect(b.args.DeletionProtection))...)
	return err
}

// dns publishes the hostname in the org zone (an existing public hosted zone) as A records
// to the ingress addresses, and gets it an ACM certificate validated through the same zone.
func (b *builder) dns() error {
	zone, err := route53.LookupZone(b.ctx, &route53.LookupZoneArgs{
		Name: pulumi.StringRef(b.args.DNSZone), PrivateZone: pulumi.BoolRef(false),
	}, pulumi.Provider(b.prov))
	if err != nil {
		return err
	}
	var ips pulumi.StringArray
	for _, e := range b.ingressEIPs {
		ips = append(ips, e.PublicIp)
	}
	rec, err := route53.NewRecord(b.ctx, b.name+"-ingress", &route53.RecordArgs{
		ZoneId: pulumi.String(zone.ZoneId), Name: pulumi.String(b.args.Hostname), Type: pulumi.String("A"),
		Ttl: pulumi.Int(300), Records: ips,
	}, b.opts()...)
	if err != nil {
		return err
	}
	b.hostname = rec.Name
	cert, err := acm.NewCertificate(b.ctx, b.name+"-ingress", &acm.CertificateArgs{
		DomainName: pulumi.String(b.args.Hostname), ValidationMethod: pulumi.String("DNS"), Tags: b.tags,
	}, b.opts()...)
	if err != nil {
		return err
	}
	dvo := cert.DomainValidationOptions.Index(pulumi.Int(0))
	vrec, err := route53.NewRecord(b.ctx, b.name+"-ingress-validation", &route53.RecordArgs{
		ZoneId: pulumi.String(zone.ZoneId), Name: dvo.ResourceRecordName().Elem(), Type: dvo.ResourceRecordType().Elem(),
		Records: pulumi.StringArray{dvo.ResourceRecordValue().Elem()}, Ttl: pulumi.Int(60), AllowOverwrite: pulumi.Bool(true),
	}, b.opts()...)
	if err != nil {
		return err
	}
	valid, err := acm.NewCertificateValidation(b.ctx, b.name+"-ingress", &acm.CertificateValidationArgs{
		CertificateArn: cert.Arn, ValidationRecordFqdns: pulumi.StringArray{vrec.Fqdn},
	}, b.opts()...)
	if err != nil {
		return err
	}
	b.c.IngressCertificateArn = valid.CertificateArn
	return nil
}

func (b *builder) outputs() error {
	region := b.args.Region
	kubeconfig := pulumi.All(b.cluster.Name, b.cluster.Endpoint, b.cluster.CertificateAuthority.Data().Elem()).ApplyT(func(v []any) string {
		name := v[0].(string)
		return cloud.ExecKubeconfig(name, v[1].(string), v[2].(string), "aws",
			[]string{"eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"})
	}).(pulumi.StringOutput)
	kubeconfig = pulumi.ToSecret(kubeconfig).(pulumi.StringOutput)
	// Everything deployed through this provider depends on the node groups, so on teardown
	// the platform (its load balancers, volumes, ENIs) goes first, while nodes and the
	// controllers that clean those up still run; the VPC goes after the cluster.
	prov, err := kubernetes.NewProvider(b.ctx, b.name, &kubernetes.ProviderArgs{Kubeconfig: kubeconfig},
		pulumi.Parent(b.c), pulumi.DependsOn(b.nodeGroups))
	if err != nil {
		return err
	}
	var eipAllocs, subnets []pulumi.StringInput
	for _, e := range b.ingressEIPs {
		eipAllocs = append(eipAllocs, e.AllocationId)
	}
	subnets = append(subnets, b.publicSubnets...)
	b.c.Outputs = cluster.Outputs{
		Kubeconfig:      kubeconfig,
		Provider:        prov,
		RedisEndpoint:   pulumi.Sprintf("%s:%d", b.redisGroup.PrimaryEndpointAddress, redisPort),
		RedisAuth:       pulumi.ToSecret(b.redisAuth).(pulumi.StringOutput),
		RedisTLS:        true,
		IngressHostname: b.hostname,
		DNSZone:         pulumi.String(b.args.DNSZone).ToStringOutput(),
		IngressServiceAnnotations: pulumi.StringMap{
			"service.beta.kubernetes.io/aws-load-balancer-type":            pulumi.String("external"),
			"service.beta.kubernetes.io/aws-load-balancer-scheme":          pulumi.String("internet-facing"),
			"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": pulumi.String("ip"),
			"service.beta.kubernetes.io/aws-load-balancer-subnets":         join(subnets),
			"service.beta.kubernetes.io/aws-load-balancer-eip-allocations": join(eipAllocs),
			// TCP passthrough: the ingress controller terminates TLS (cert-manager), so the
			// signal connection is TLS end to end; IngressCertificateArn is there for an
			// NLB-terminated setup.
		},
		MediaSelector:   cluster.MediaSelector(),
		MediaToleration: cluster.MediaTaint,
		LiveKitURL:      pulumi.Sprintf("wss://%s", b.hostname),
	}
	return b.ctx.RegisterResourceOutputs(b.c, pulumi.Map{
		"clusterName":     b.cluster.Name,
		"kubeconfig":      kubeconfig,
		"redisEndpoint":   b.c.Outputs.RedisEndpoint,
		"ingressHostname": b.hostname,
	})
}

func join(parts []pulumi.StringInput) pulumi.StringOutput {
	arr := pulumi.StringArray(parts)
	return arr.ToStringArrayOutput().ApplyT(func(s []string) string { return strings.Join(s, ",") }).(pulumi.StringOutput)
}
