// Package program is the infrastructure program of cellplane: it reads the stack config into
// a validated Spec and composes the components by role and cloud. `pulumi up` runs it through
// infra/main.go; the control plane and `cellplane stack` run the very same function inline
// through the Automation API.
package program

import (
	"fmt"
	"os"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/platform"
	"github.com/cellplane/cellplane/components/tenant"
	"github.com/cellplane/cellplane/deploy/charts"
	"github.com/cellplane/cellplane/deploy/dashboards"
	"github.com/cellplane/cellplane/infra/spec"
)

// Stack outputs a cell (or an org's cluster) exports; tenants read them by these names
// through a StackReference, and the control plane reads them after an operation.
const (
	OutCloud            = "cloud"
	OutRegion           = "region"
	OutKubeconfig       = "kubeconfig"
	OutRedisEndpoint    = "redisEndpoint"
	OutRedisAuth        = "redisAuth"
	OutRedisTLS         = "redisTls"
	OutLiveKitURL       = "livekitUrl"
	OutLiveKitAPIKey    = "livekitApiKey"
	OutLiveKitAPISecret = "livekitApiSecret"
	OutIngressHostname  = "ingressHostname"
	OutNamespaces       = "namespaces"
	OutMediaNodes       = "mediaNodes"
	OutAPIURL           = "apiUrl"         // the cluster's Kubernetes API server
	OutLiveKitVersion   = "livekitVersion" // homogeneous inside a cluster

	// Tenant (and org) outputs.
	OutNamespace = "namespace"
	OutVersion   = "version"
	OutCell      = "cell"
	OutRedisUser = "redisUser"
	OutRedisACL  = "redisAcl"
	OutKeyPrefix = "redisKeyPrefix"
)

// Run is the program. Invalid config fails here, before any resource is registered.
func Run(ctx *pulumi.Context) error {
	s, err := ParseSpec(ctx.Stack(), ctx.GetConfig, os.Getenv)
	if err != nil {
		return err
	}
	return Compose(ctx, s)
}

// Compose builds what s asks for.
func Compose(ctx *pulumi.Context, s *Spec) error {
	switch s.Role {
	case spec.RoleOrg, spec.RoleCell:
		return composeCluster(ctx, s)
	case spec.RoleTenant:
		return composeTenant(ctx, s)
	}
	return fmt.Errorf("role %q has no composition", s.Role)
}

// composeCluster builds a cluster and its platform; for an org (tier A) also its release.
func composeCluster(ctx *pulumi.Context, s *Spec) error {
	im, err := clusterImpl(s)
	if err != nil {
		return err
	}
	pools, err := cluster.DefaultPools(s.Sizing, im.sizes)
	if err != nil {
		return err
	}
	args := cluster.Args{
		Org: s.Org, Cloud: s.Cloud, Region: s.Region,
		KubernetesVersion: s.KubernetesVersion, Sizing: s.Sizing, Pools: pools,
		PrivateEndpoint: s.PrivateEndpoint, AllowedCIDRs: s.AllowedCIDRs, KMSKeyID: s.KMSKeyID,
		RTCPortStart: s.RTCPortStart, RTCPortEnd: s.RTCPortEnd,
		RTCTCPPort: cluster.DefaultRTCTCPPort, TURNTLSPort: cluster.DefaultTURNTLSPort,
		Hostname: s.Hostname(), DNSZone: s.DNSZone, DeletionProtection: s.DeletionProtection,
		Tags: cluster.Tags(s.Org, s.Cloud, s.Region, s.Tags),
	}
	if err := args.Validate(); err != nil {
		return err
	}
	dash, err := dashboards.All()
	if err != nil {
		return err
	}
	out, err := im.build(ctx, s.Org, args)
	if err != nil {
		return err
	}
	var secret pulumi.StringInput
	if s.LiveKitAPISecret != "" {
		secret = pulumi.ToSecret(pulumi.String(s.LiveKitAPISecret)).(pulumi.StringOutput)
	}
	plat, err := platform.New(ctx, s.Org+"-platform", &platform.Args{
		Name: s.Org, Cloud: s.Cloud, Region: s.Region, Sizing: s.Sizing, Cluster: out,
		LiveKitAPIKey: s.LiveKitAPIKey, LiveKitAPISecret: secret,
		MediaReplicas: pools.Media.Min,
		RTCPortStart:  s.RTCPortStart, RTCPortEnd: s.RTCPortEnd,
		RTCTCPPort: cluster.DefaultRTCTCPPort, TURNTLSPort: cluster.DefaultTURNTLSPort,
		Hostname: s.Hostname(), ACMEEmail: "certificates@" + s.DNSZone,
		Dashboards: dash,
	})
	if err != nil {
		return err
	}

	ctx.Export(OutCloud, pulumi.String(string(s.Cloud)))
	ctx.Export(OutRegion, pulumi.String(s.Region))
	ctx.Export(OutKubeconfig, out.Kubeconfig)
	ctx.Export(OutRedisEndpoint, out.RedisEndpoint)
	ctx.Export(OutRedisAuth, out.RedisAuth)
	ctx.Export(OutRedisTLS, pulumi.Bool(out.RedisTLS))
	ctx.Export(OutLiveKitURL, plat.LiveKitURL)
	ctx.Export(OutLiveKitAPIKey, plat.LiveKitAPIKey)
	ctx.Export(OutLiveKitAPISecret, plat.LiveKitAPISecret)
	ctx.Export(OutIngressHostname, out.IngressHostname)
	ctx.Export(OutNamespaces, pulumi.ToStringArray(plat.Namespaces))
	ctx.Export(OutLiveKitVersion, pulumi.String(platform.LiveKitVersion))
	// The API server's address is not a secret, though the kubeconfig holding it is.
	ctx.Export(OutAPIURL, pulumi.Unsecret(out.Kubeconfig.ApplyT(kubeconfigServer)).(pulumi.StringOutput))
	if len(plat.MediaNodes) > 0 {
		nodes := pulumi.Array{}
		for _, n := range plat.MediaNodes {
			nodes = append(nodes, pulumi.Map{"name": pulumi.String(n.Name), "url": pulumi.String(n.URL),
				"rtcPortStart": pulumi.Int(n.RTCPortStart), "rtcPortEnd": pulumi.Int(n.RTCPortEnd), "prometheusPort": pulumi.Int(n.PrometheusPort)})
		}
		ctx.Export(OutMediaNodes, nodes)
	}
	if s.Role != spec.RoleOrg {
		return nil
	}
	return release(ctx, s, &tenant.Args{
		LiveKitURL: plat.LiveKitURL, LiveKitAPIKey: plat.LiveKitAPIKey, LiveKitAPISecret: plat.LiveKitAPISecret,
		RedisEndpoint: out.RedisEndpoint, RedisAuth: out.RedisAuth, RedisTLS: out.RedisTLS,
	}, out.Provider)
}

// composeTenant deploys an org's release into its cell, read through a StackReference.
func composeTenant(ctx *pulumi.Context, s *Spec) error {
	ref, err := pulumi.NewStackReference(ctx, s.Cell, &pulumi.StackReferenceArgs{Name: pulumi.String(StackRefName(ctx, s.Cell))})
	if err != nil {
		return err
	}
	// The cell must exist, be up, and be where the tenant's config says it is.
	var errs ConfigErrors
	cloud, err := refString(ref, OutCloud)
	if err != nil {
		return err
	}
	region, _ := refString(ref, OutRegion)
	switch {
	case cloud == "":
		errs = append(errs, &ConfigError{Key: KeyCell, Value: s.Cell, Problem: "that stack exports no cluster (is it a cell stack, and is it up?)"})
	case cloud != string(s.Cloud) || region != s.Region:
		errs = append(errs, &ConfigError{Key: KeyCell, Value: s.Cell,
			Problem: fmt.Sprintf("the cell is in %s/%s but the tenant's config says %s/%s; allowed: a cell in %s/%s", cloud, region, s.Cloud, s.Region, s.Cloud, s.Region)})
	}
	if len(errs) > 0 {
		return errs
	}
	redisTLS, _ := ref.GetOutputDetails(OutRedisTLS)
	tlsOn := redisTLS != nil && redisTLS.Value == true

	prov, err := kubernetes.NewProvider(ctx, s.Cell, &kubernetes.ProviderArgs{
		Kubeconfig: ref.GetStringOutput(pulumi.String(OutKubeconfig)),
	})
	if err != nil {
		return err
	}
	ctx.Export(OutCell, pulumi.String(s.Cell))
	return release(ctx, s, &tenant.Args{
		LiveKitURL:       ref.GetStringOutput(pulumi.String(OutLiveKitURL)),
		LiveKitAPIKey:    ref.GetStringOutput(pulumi.String(OutLiveKitAPIKey)),
		LiveKitAPISecret: ref.GetStringOutput(pulumi.String(OutLiveKitAPISecret)),
		RedisEndpoint:    ref.GetStringOutput(pulumi.String(OutRedisEndpoint)),
		RedisAuth:        ref.GetStringOutput(pulumi.String(OutRedisAuth)),
		RedisTLS:         tlsOn,
	}, prov)
}

// release deploys the org's release (tier A and B alike) and exports what the control plane
// and the runner need.
func release(ctx *pulumi.Context, s *Spec, a *tenant.Args, prov *kubernetes.Provider) error {
	dir, err := charts.Dir(charts.SimPlatform, "")
	if err != nil {
		return err
	}
	a.Org, a.Version, a.Sizing, a.Tier, a.ChartDir = s.Org, s.Version, s.Sizing, s.Tier, dir
	a.RTCPortStart, a.RTCPortEnd, a.RTCTCPPort = s.RTCPortStart, s.RTCPortEnd, cluster.DefaultRTCTCPPort
	t, err := tenant.New(ctx, s.Org+"-release", a, pulumi.Providers(prov))
	if err != nil {
		return err
	}
	ctx.Export(OutNamespace, pulumi.String(t.Namespace))
	ctx.Export(OutVersion, pulumi.String(s.Version))
	ctx.Export(OutKeyPrefix, pulumi.String(t.KeyPrefix))
	ctx.Export(OutRedisUser, t.RedisUser)
	ctx.Export(OutRedisACL, t.RedisACL)
	if s.Role == spec.RoleTenant {
		ctx.Export(OutRedisEndpoint, a.RedisEndpoint)
		ctx.Export(OutLiveKitURL, a.LiveKitURL)
	}
	return nil
}

// kubeconfigServer is the first cluster server named in a kubeconfig.
func kubeconfigServer(kc string) string {
	for _, line := range strings.Split(kc, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "server:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

// StackRefName qualifies a cell's stack name for a StackReference (org/project/stack) unless
// it already is.
func StackRefName(ctx *pulumi.Context, cell string) string {
	if strings.Contains(cell, "/") {
		return cell
	}
	if org := ctx.Organization(); org != "" {
		return org + "/" + ctx.Project() + "/" + cell
	}
	return cell
}

func refString(ref *pulumi.StackReference, name string) (string, error) {
	d, err := ref.GetOutputDetails(name)
	if err != nil {
		return "", fmt.Errorf("reading output %q of the cell stack: %w", name, err)
	}
	if d == nil {
		return "", nil
	}
	if v, ok := d.Value.(string); ok {
		return v, nil
	}
	if v, ok := d.SecretValue.(string); ok {
		return v, nil
	}
	return "", nil
}
