// Package tenant is an org's release into a namespace of its cluster (tier A: its own
// cluster; tier B: a shared cell): the Namespace, ResourceQuota + LimitRange by sizing,
// default-deny NetworkPolicies with explicit allows, a ServiceAccount with a least-privilege
// Role, Secrets scoped to the namespace (LiveKit keys, Redis credentials: on tier B a Redis
// ACL user limited to the org's key prefix) and our sim-platform chart pinned to the org's
// version.
package tenant

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/internal/netpol"
	"github.com/cellplane/cellplane/components/platform"
	"github.com/cellplane/cellplane/infra/spec"
)

// Names inside the org's namespace.
const (
	ReleaseName        = "sim-platform"
	ServiceAccount     = "sim-platform"
	LiveKitSecret      = "livekit-credentials"
	RedisSecret        = "redis-credentials"
	QuotaName          = "org-quota"
	LimitRangeName     = "org-limits"
	GracePeriod        = 18000 // a session may run for hours; a rollout lets it finish
	simEnginePort      = 8080
	metricsPort        = 9090
	otlpGRPC, otlpHTTP = 4317, 4318
)

// Namespace is the org's namespace name.
func Namespace(org string) string { return "org-" + org }

// KeyPrefix is the Redis key (and channel) prefix of the org.
func KeyPrefix(org string) string { return Namespace(org) + ":" }

// Size is what a sizing grants one org: quota and autoscaling bounds. The quota leaves room
// for every Deployment at its HPA maximum plus one surge pod each during a rollout.
type Size struct {
	RequestsCPU, RequestsMemory string
	LimitsCPU, LimitsMemory     string
	Pods                        int
	SimEngineMin, SimEngineMax  int
	AgentMin, AgentMax          int
}

// Sizes is the one table of per-org capacity.
var Sizes = map[spec.Sizing]Size{
	spec.Small:  {RequestsCPU: "8", RequestsMemory: "16Gi", LimitsCPU: "24", LimitsMemory: "32Gi", Pods: 30, SimEngineMin: 2, SimEngineMax: 4, AgentMin: 2, AgentMax: 6},
	spec.Medium: {RequestsCPU: "16", RequestsMemory: "32Gi", LimitsCPU: "48", LimitsMemory: "64Gi", Pods: 60, SimEngineMin: 3, SimEngineMax: 8, AgentMin: 3, AgentMax: 12},
	spec.Large:  {RequestsCPU: "32", RequestsMemory: "64Gi", LimitsCPU: "96", LimitsMemory: "160Gi", Pods: 120, SimEngineMin: 4, SimEngineMax: 16, AgentMin: 6, AgentMax: 30},
}

// Args configure an org's release.
type Args struct {
	Org     string
	Version string
	Sizing  spec.Sizing
	Tier    spec.Tier

	ChartDir      string // the sim-platform chart on disk
	ImageRegistry string // "" = the chart's default

	LiveKitURL       pulumi.StringInput
	LiveKitAPIKey    pulumi.StringInput
	LiveKitAPISecret pulumi.StringInput // secret

	RedisEndpoint pulumi.StringInput
	RedisAuth     pulumi.StringInput // secret: the cluster's Redis admin auth
	RedisTLS      bool

	RTCPortStart, RTCPortEnd, RTCTCPPort int
}

// Tenant is an org's deployed release.
type Tenant struct {
	pulumi.ResourceState

	Namespace     string
	KeyPrefix     string
	RedisUser     pulumi.StringOutput
	RedisPassword pulumi.StringOutput // secret
	// RedisACL is the ACL SETUSER rule of the org's user on tier B (empty on tier A, where the
	// org owns its Redis). See ACLRule for who applies it.
	RedisACL pulumi.StringOutput
	Release  *helmv3.Release
}

// New declares the org's release. Every object is a child of the component and goes
// through the caller's Kubernetes provider (pulumi.Provider / pulumi.Providers in opts).
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Tenant, error) {
	size, ok := Sizes[args.Sizing]
	if !ok {
		return nil, fmt.Errorf("tenant %s: unknown sizing %q", args.Org, args.Sizing)
	}
	if err := spec.ValidateSlug(args.Org); err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	if err := spec.ValidateVersion(args.Version); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", args.Org, err)
	}
	if args.ChartDir == "" {
		return nil, fmt.Errorf("tenant %s: the sim-platform chart directory is required", args.Org)
	}
	t := &Tenant{Namespace: Namespace(args.Org), KeyPrefix: KeyPrefix(args.Org)}
	if err := ctx.RegisterComponentResource("cellplane:tenant:Tenant", name, t, opts...); err != nil {
		return nil, err
	}
	child := []pulumi.ResourceOption{pulumi.Parent(t)}
	nsName := t.Namespace
	labels := pulumi.StringMap{"cellplane.io/org": pulumi.String(args.Org), "cellplane.io/tier": pulumi.String(string(args.Tier)),
		"app.kubernetes.io/managed-by": pulumi.String("cellplane")}

	ns, err := corev1.NewNamespace(ctx, name+"-ns", &corev1.NamespaceArgs{
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(nsName), Labels: merge(labels, pulumi.StringMap{
			// our chart is hardened to the restricted Pod Security Standard; the API server enforces it.
			"pod-security.kubernetes.io/enforce": pulumi.String("restricted"),
		})},
	}, child...)
	if err != nil {
		return nil, err
	}
	in := append(append([]pulumi.ResourceOption{}, child...), pulumi.DependsOn([]pulumi.Resource{ns}))
	meta := func(n string) metav1.ObjectMetaArgs {
		return metav1.ObjectMetaArgs{Name: pulumi.String(n), Namespace: pulumi.String(nsName), Labels: labels}
	}

	quota, err := corev1.NewResourceQuota(ctx, name+"-quota", &corev1.ResourceQuotaArgs{
		Metadata: meta(QuotaName),
		Spec: corev1.ResourceQuotaSpecArgs{Hard: pulumi.StringMap{
			"requests.cpu": pulumi.String(size.RequestsCPU), "requests.memory": pulumi.String(size.RequestsMemory),
			"limits.cpu": pulumi.String(size.LimitsCPU), "limits.memory": pulumi.String(size.LimitsMemory),
			"pods": pulumi.String(fmt.Sprint(size.Pods)), "services": pulumi.String("10"),
			"services.loadbalancers": pulumi.String("0"), "services.nodeports": pulumi.String("0"),
			"persistentvolumeclaims": pulumi.String("0"), "secrets": pulumi.String("40"), "configmaps": pulumi.String("40"),
		}},
	}, in...)
	if err != nil {
		return nil, err
	}
	limits, err := corev1.NewLimitRange(ctx, name+"-limits", &corev1.LimitRangeArgs{
		Metadata: meta(LimitRangeName),
		Spec: corev1.LimitRangeSpecArgs{Limits: corev1.LimitRangeItemArray{corev1.LimitRangeItemArgs{
			Type:           pulumi.String("Container"),
			DefaultRequest: pulumi.StringMap{"cpu": pulumi.String("100m"), "memory": pulumi.String("128Mi")},
			Default:        pulumi.StringMap{"cpu": pulumi.String("500m"), "memory": pulumi.String("512Mi")},
			Max:            pulumi.StringMap{"cpu": pulumi.String("4"), "memory": pulumi.String("8Gi")},
		}}},
	}, in...)
	if err != nil {
		return nil, err
	}

	world := []netpol.Peer{{CIDR: "0.0.0.0/0"}}
	rules := []netpol.Rule{
		netpol.DNS(),
		{Name: "allow-same-namespace-in", Ingress: true, Peers: []netpol.Peer{{}}},
		{Name: "allow-same-namespace-out", Peers: []netpol.Peer{{}}},
		{Name: "allow-redis", Peers: world, Ports: []netpol.Port{netpol.TCP(6379), netpol.TCP(6380)}},
		{Name: "allow-livekit", Peers: append([]netpol.Peer{{Namespace: platform.NamespaceMedia}}, world...), Ports: []netpol.Port{
			netpol.TCP(platform.LiveKitHTTPPort), netpol.TCP(443), netpol.TCP(args.RTCTCPPort), netpol.UDPRange(args.RTCPortStart, args.RTCPortEnd)}},
		{Name: "allow-ingress", Ingress: true, PodLabels: map[string]string{"app.kubernetes.io/name": "sim-engine"},
			Peers: []netpol.Peer{{Namespace: platform.NamespaceIngress}}, Ports: []netpol.Port{netpol.TCP(simEnginePort)}},
		{Name: "allow-scrape", Ingress: true, Peers: []netpol.Peer{{Namespace: platform.NamespaceObservability}}, Ports: []netpol.Port{netpol.TCP(metricsPort)}},
		{Name: "allow-otlp", Peers: []netpol.Peer{{Namespace: platform.NamespaceObservability}}, Ports: []netpol.Port{netpol.TCP(otlpGRPC), netpol.TCP(otlpHTTP)}},
	}
	if err := netpol.Declare(ctx, name, nsName, rules, in...); err != nil {
		return nil, err
	}

	sa, err := corev1.NewServiceAccount(ctx, name+"-sa", &corev1.ServiceAccountArgs{Metadata: meta(ServiceAccount)}, in...)
	if err != nil {
		return nil, err
	}
	role, err := rbacv1.NewRole(ctx, name+"-role", &rbacv1.RoleArgs{
		Metadata: meta(ServiceAccount),
		Rules: rbacv1.PolicyRuleArray{
			rbacv1.PolicyRuleArgs{ApiGroups: pulumi.ToStringArray([]string{""}), Resources: pulumi.ToStringArray([]string{"configmaps", "pods"}),
				Verbs: pulumi.ToStringArray([]string{"get", "list", "watch"})},
			// Only the org's own credentials, by name.
			rbacv1.PolicyRuleArgs{ApiGroups: pulumi.ToStringArray([]string{""}), Resources: pulumi.ToStringArray([]string{"secrets"}),
				ResourceNames: pulumi.ToStringArray([]string{LiveKitSecret, RedisSecret}), Verbs: pulumi.ToStringArray([]string{"get"})},
			// Leader election of the agent dispatcher.
			rbacv1.PolicyRuleArgs{ApiGroups: pulumi.ToStringArray([]string{"coordination.k8s.io"}), Resources: pulumi.ToStringArray([]string{"leases"}),
				Verbs: pulumi.ToStringArray([]string{"get", "list", "watch", "create", "update"})},
			rbacv1.PolicyRuleArgs{ApiGroups: pulumi.ToStringArray([]string{""}), Resources: pulumi.ToStringArray([]string{"events"}),
				Verbs: pulumi.ToStringArray([]string{"create", "patch"})},
		},
	}, in...)
	if err != nil {
		return nil, err
	}
	binding, err := rbacv1.NewRoleBinding(ctx, name+"-rolebinding", &rbacv1.RoleBindingArgs{
		Metadata: meta(ServiceAccount),
		RoleRef:  rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: pulumi.String(ServiceAccount)},
		Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{Kind: pulumi.String("ServiceAccount"), Name: pulumi.String(ServiceAccount), Namespace: pulumi.String(nsName)}},
	}, append(in, pulumi.DependsOn([]pulumi.Resource{sa, role}))...)
	if err != nil {
		return nil, err
	}

	// Redis credentials: tier A owns its Redis (the default user); tier B gets an ACL user
	// limited to its prefix, with a password derived from the cluster's auth (see ACLRule).
	auth := pulumi.ToSecret(args.RedisAuth.ToStringOutput()).(pulumi.StringOutput)
	if args.Tier == spec.Shared {
		user := Namespace(args.Org)
		t.RedisUser = pulumi.String(user).ToStringOutput()
		t.RedisPassword = pulumi.ToSecret(auth.ApplyT(func(a string) string { return DerivePassword(a, args.Org) })).(pulumi.StringOutput)
		t.RedisACL = t.RedisPassword.ApplyT(func(p string) string { return ACLRule(args.Org, p) }).(pulumi.StringOutput)
	} else {
		t.RedisUser = pulumi.String("default").ToStringOutput()
		t.RedisPassword = auth
		t.RedisACL = pulumi.String("").ToStringOutput()
	}
	lkSecret, err := corev1.NewSecret(ctx, name+"-livekit", &corev1.SecretArgs{
		Metadata: meta(LiveKitSecret), Type: pulumi.String("Opaque"),
		StringData: pulumi.StringMap{"url": args.LiveKitURL, "apiKey": args.LiveKitAPIKey,
			"apiSecret": pulumi.ToSecret(args.LiveKitAPISecret.ToStringOutput()).(pulumi.StringOutput)},
	}, in...)
	if err != nil {
		return nil, err
	}
	redisSecret, err := corev1.NewSecret(ctx, name+"-redis", &corev1.SecretArgs{
		Metadata: meta(RedisSecret), Type: pulumi.String("Opaque"),
		StringData: pulumi.StringMap{"addr": args.RedisEndpoint, "username": t.RedisUser, "password": t.RedisPassword,
			"keyPrefix": pulumi.String(t.KeyPrefix), "tls": pulumi.String(fmt.Sprint(args.RedisTLS))},
	}, in...)
	if err != nil {
		return nil, err
	}

	image := pulumi.Map{}
	if args.ImageRegistry != "" {
		image["registry"] = pulumi.String(args.ImageRegistry)
	}
	t.Release, err = helmv3.NewRelease(ctx, name+"-release", &helmv3.ReleaseArgs{
		Name: pulumi.String(ReleaseName), Namespace: pulumi.String(nsName), Chart: pulumi.String(args.ChartDir),
		Values:     ChartValues(args, size, image),
		MaxHistory: pulumi.Int(5),
		Timeout:    pulumi.Int(600),
		// Roll back a failed upgrade rather than leave the org half on two versions.
		Atomic: pulumi.Bool(true),
	}, append(in, pulumi.DependsOn([]pulumi.Resource{quota, limits, binding, lkSecret, redisSecret}))...)
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(t, pulumi.Map{
		"namespace": pulumi.String(nsName), "version": pulumi.String(args.Version), "redisUser": t.RedisUser,
	}); err != nil {
		return nil, err
	}
	return t, nil
}

// ChartValues are the sim-platform chart's values for an org.
func ChartValues(args *Args, size Size, image pulumi.Map) pulumi.Map {
	return pulumi.Map{
		"version":                       pulumi.String(args.Version),
		"org":                           pulumi.String(args.Org),
		"image":                         image,
		"serviceAccountName":            pulumi.String(ServiceAccount),
		"secrets":                       pulumi.Map{"livekit": pulumi.String(LiveKitSecret), "redis": pulumi.String(RedisSecret)},
		"nodeSelector":                  pulumi.ToStringMap(cluster.WorkersSelector()),
		"terminationGracePeriodSeconds": pulumi.Int(GracePeriod),
		"simEngine": pulumi.Map{"autoscaling": pulumi.Map{
			"minReplicas": pulumi.Int(size.SimEngineMin), "maxReplicas": pulumi.Int(size.SimEngineMax)}},
		"agentWorker": pulumi.Map{"autoscaling": pulumi.Map{
			"minReplicas": pulumi.Int(size.AgentMin), "maxReplicas": pulumi.Int(size.AgentMax)}},
	}
}

// DerivePassword derives the org's Redis ACL password from the cluster's Redis auth: stable
// across runs without state, distinct per org, and rotated with the cluster's auth.
func DerivePassword(clusterAuth, org string) string {
	m := hmac.New(sha256.New, []byte(clusterAuth))
	m.Write([]byte("cellplane-redis-acl:" + org))
	return hex.EncodeToString(m.Sum(nil))
}

// ACLRule is the org's Redis ACL user (arguments of ACL SETUSER after the user name): only
// keys and channels under its prefix, data commands only, the password given as its SHA-256
// so the rule itself reveals nothing.
//
// Why a rule as data rather than a resource: Pulumi's Go SDK has no dynamic providers, a
// Kubernetes Job cannot run under kwok, and a side effect inside ApplyT would run during
// previews and never be undone by destroy. So the program declares the rule (a stack
// output); the runner that runs the stack (controlplane/provision, shared by `cellplane stack`
// and the control plane's jobs) applies it to the cell's Redis after `up` and deletes the
// user after `destroy`.
func ACLRule(org, password string) string {
	sum := sha256.Sum256([]byte(password))
	p := KeyPrefix(org)
	return fmt.Sprintf("reset on #%s ~%s* &%s* -@all +@read +@write +@keyspace +@connection +@transaction +@pubsub -@dangerous -scan",
		hex.EncodeToString(sum[:]), p, p)
}

func merge(a, b pulumi.StringMap) pulumi.StringMap {
	out := pulumi.StringMap{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
