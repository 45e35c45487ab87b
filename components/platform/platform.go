// Package platform is the in-cluster platform of a cell, for any cluster behind the cluster
// contract: a namespace per plane (media, workers, observability) each with a default-deny
// NetworkPolicy and explicit allows; LiveKit from its official Helm chart; ingress + TLS for
// the signal connection; observability (Prometheus, an OpenTelemetry collector, Grafana with
// the dashboards in deploy/dashboards).
//
// On the local cell (Outputs.ExternalMedia set) the outside charts are not deployed: their
// repositories cannot be reached and kwok runs no containers. The media plane there is the
// cell's livekit-server processes, which the component records (a ConfigMap and outputs) and
// does not pretend to deploy; namespaces, policies and dashboards are deployed for real.
package platform

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/internal/netpol"
	"github.com/cellplane/cellplane/infra/spec"
)

// Namespaces of the planes.
const (
	NamespaceMedia         = "media"
	NamespaceWorkers       = "workers"
	NamespaceObservability = "observability"
	NamespaceIngress       = "ingress-nginx" // clouds only
	NamespaceCertManager   = "cert-manager"  // clouds only
)

// Names of objects other components rely on.
const (
	LiveKitRelease       = "livekit" // fullnameOverride: Service "livekit" in media
	LiveKitKeysSecret    = "livekit-keys"
	LiveKitTURNSecret    = "livekit-turn-tls"
	LiveKitSignalSecret  = "livekit-signal-tls"
	MediaNodesConfigMap  = "livekit-nodes"
	ScrapeConfigMap      = "prometheus-scrape"
	ClusterIssuer        = "letsencrypt"
	DashboardLabel       = "grafana_dashboard" // the Grafana sidecar loads ConfigMaps with this label
	GracePeriodSeconds   = 18000               // LiveKit drains rooms for up to 5 h: an upgrade never cuts a live session
	ingressReadTimeout   = "3600"              // websocket signal connections are long-lived
	defaultTURNUDPPort   = cluster.DefaultTURNUDPPort
	managedByLabel       = "app.kubernetes.io/managed-by"
	planeLabel           = "cellplane.io/plane"
	metricsPortTenant    = 9090
	otlpGRPC, otlpHTTP   = 4317, 4318
	redisPort, redisTLS  = 6379, 6380
	grafanaPort          = 3000
	certManagerWebhook   = 10250
	kubeAPIPort, httpsPt = 6443, 443
)

// Args configure the platform.
type Args struct {
	Name    string // org slug (tier A) or cell name (tier B)
	Cloud   spec.Cloud
	Region  string
	Sizing  spec.Sizing
	Cluster *cluster.Outputs

	// LiveKit keys on clouds (the local cell brings its own in Cluster.ExternalMedia).
	LiveKitAPIKey    string
	LiveKitAPISecret pulumi.StringInput

	MediaReplicas            int // one LiveKit pod per media node: the media pool's minimum
	RTCPortStart, RTCPortEnd int
	RTCTCPPort, TURNTLSPort  int

	Hostname  string // the signal hostname (clouds), e.g. mercy-health.cells.cellplane.io
	ACMEEmail string

	// Dashboards are Grafana dashboards by file name (deploy/dashboards/*.json).
	Dashboards map[string][]byte
}

// Platform is the deployed platform.
type Platform struct {
	pulumi.ResourceState

	Namespaces       []string
	LiveKitURL       pulumi.StringOutput
	LiveKitAPIKey    pulumi.StringOutput
	LiveKitAPISecret pulumi.StringOutput // secret
	MediaNodes       []cluster.MediaNode // local: the recorded livekit-server processes
}

// New deploys the platform onto args.Cluster.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Platform, error) {
	if args.Cluster == nil || args.Cluster.Provider == nil {
		return nil, fmt.Errorf("platform %s: a cluster with a Kubernetes provider is required", name)
	}
	p := &Platform{}
	if err := ctx.RegisterComponentResource("cellplane:platform:Platform", name, p, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, name: name, args: args, p: p,
		opts: []pulumi.ResourceOption{pulumi.Parent(p), pulumi.Provider(args.Cluster.Provider)}}
	local := args.Cluster.ExternalMedia != nil

	planes := []string{NamespaceMedia, NamespaceWorkers, NamespaceObservability}
	if !local {
		planes = append(planes, NamespaceIngress, NamespaceCertManager)
	}
	b.ns = map[string]*corev1.Namespace{}
	for _, n := range planes {
		ns, err := corev1.NewNamespace(ctx, name+"-"+n, &corev1.NamespaceArgs{
			Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(n), Labels: pulumi.StringMap{
				planeLabel: pulumi.String(n), managedByLabel: pulumi.String("cellplane"),
				// Pod Security Admission: media needs host networking; everything else is restricted.
				"pod-security.kubernetes.io/enforce": pulumi.String(podSecurity(n)),
			}},
		}, b.opts...)
		if err != nil {
			return nil, err
		}
		b.ns[n] = ns
		if err := netpol.Declare(ctx, name+"-"+n, n, b.rules(n), b.in(n)...); err != nil {
			return nil, err
		}
		p.Namespaces = append(p.Namespaces, n)
	}
	if err := b.dashboards(); err != nil {
		return nil, err
	}

	var err error
	if local {
		err = b.recordExternalMedia()
	} else {
		err = b.deployCloud()
	}
	if err != nil {
		return nil, err
	}
	p.LiveKitURL = args.Cluster.LiveKitURL
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{
		"namespaces": pulumi.ToStringArray(p.Namespaces),
		"livekitUrl": p.LiveKitURL,
	}); err != nil {
		return nil, err
	}
	return p, nil
}

func podSecurity(ns string) string {
	switch ns {
	case NamespaceMedia, NamespaceObservability, NamespaceIngress:
		return "privileged" // hostNetwork (LiveKit), node-exporter, the ingress controller
	}
	return "baseline"
}

type builder struct {
	ctx  *pulumi.Context
	name string
	args *Args
	p    *Platform
	opts []pulumi.ResourceOption
	ns   map[string]*corev1.Namespace
}

// in returns the options of an object in namespace n: parented, on the cluster's provider,
// after the namespace.
func (b *builder) in(n string, deps ...pulumi.Resource) []pulumi.ResourceOption {
	all := append([]pulumi.Resource{b.ns[n]}, deps...)
	return append(append([]pulumi.ResourceOption{}, b.opts...), pulumi.DependsOn(all))
}

// rules are the explicit allows of each plane's namespace (on top of default-deny).
func (b *builder) rules(n string) []netpol.Rule {
	a := b.args
	world := []netpol.Peer{{CIDR: "0.0.0.0/0"}}
	redis := netpol.Rule{Name: "allow-redis", Peers: world, Ports: []netpol.Port{netpol.TCP(redisPort), netpol.TCP(redisTLS)}}
	scrape := func(port int) netpol.Rule {
		return netpol.Rule{Name: "allow-scrape", Ingress: true, Peers: []netpol.Peer{{Namespace: NamespaceObservability}}, Ports: []netpol.Port{netpol.TCP(port)}}
	}
	otlp := netpol.Rule{Name: "allow-otlp", Peers: []netpol.Peer{{Namespace: NamespaceObservability}}, Ports: []netpol.Port{netpol.TCP(otlpGRPC), netpol.TCP(otlpHTTP)}}
	rules := []netpol.Rule{netpol.DNS()}
	switch n {
	case NamespaceMedia:
		rtc := []netpol.Port{netpol.TCP(LiveKitHTTPPort), netpol.TCP(a.RTCTCPPort), netpol.TCP(a.TURNTLSPort),
			netpol.UDP(defaultTURNUDPPort), netpol.UDPRange(a.RTCPortStart, a.RTCPortEnd)}
		rules = append(rules,
			netpol.Rule{Name: "allow-rtc", Ingress: true, Peers: world, Ports: rtc},
			netpol.Rule{Name: "allow-rtc-out", Peers: world, Ports: []netpol.Port{netpol.UDPRange(1024, 65535)}},
			redis, scrape(LiveKitPrometheusPort),
			// LiveKit webhooks reach the control plane over HTTPS.
			netpol.Rule{Name: "allow-webhooks", Peers: world, Ports: []netpol.Port{netpol.TCP(httpsPt)}},
		)
	case NamespaceWorkers:
		rules = append(rules, redis, otlp, scrape(metricsPortTenant),
			netpol.Rule{Name: "allow-livekit", Peers: append([]netpol.Peer{{Namespace: NamespaceMedia}}, world...),
				Ports: []netpol.Port{netpol.TCP(LiveKitHTTPPort), netpol.TCP(httpsPt), netpol.TCP(a.RTCTCPPort), netpol.UDPRange(a.RTCPortStart, a.RTCPortEnd)}},
		)
	case NamespaceObservability:
		rules = append(rules,
			netpol.Rule{Name: "allow-scrape-out", Peers: []netpol.Peer{{AllNamespaces: true}}},
			// Host-network LiveKit pods and node exporters answer on node addresses.
			netpol.Rule{Name: "allow-scrape-nodes", Peers: world, Ports: []netpol.Port{netpol.TCP(LiveKitPrometheusPort), netpol.TCP(9100), netpol.TCP(10250)}},
			netpol.Rule{Name: "allow-kube-api", Peers: world, Ports: []netpol.Port{netpol.TCP(httpsPt), netpol.TCP(kubeAPIPort)}},
			netpol.Rule{Name: "allow-otlp-in", Ingress: true, Peers: []netpol.Peer{{AllNamespaces: true}}, Ports: []netpol.Port{netpol.TCP(otlpGRPC), netpol.TCP(otlpHTTP)}},
			netpol.Rule{Name: "allow-grafana", Ingress: true, Peers: []netpol.Peer{{Namespace: NamespaceIngress}}, Ports: []netpol.Port{netpol.TCP(grafanaPort)}},
			netpol.Rule{Name: "allow-same-namespace", Ingress: true, Peers: []netpol.Peer{{}}},
		)
	case NamespaceIngress:
		rules = append(rules,
			netpol.Rule{Name: "allow-https", Ingress: true, Peers: world, Ports: []netpol.Port{netpol.TCP(80), netpol.TCP(httpsPt)}},
			netpol.Rule{Name: "allow-backends", Peers: []netpol.Peer{{AllNamespaces: true}}},
			netpol.Rule{Name: "allow-kube-api", Peers: world, Ports: []netpol.Port{netpol.TCP(httpsPt), netpol.TCP(kubeAPIPort)}},
			netpol.Rule{Name: "allow-admission", Ingress: true, Peers: world, Ports: []netpol.Port{netpol.TCP(8443)}},
			scrape(10254),
		)
	case NamespaceCertManager:
		rules = append(rules,
			netpol.Rule{Name: "allow-acme-and-api", Peers: world, Ports: []netpol.Port{netpol.TCP(httpsPt), netpol.TCP(kubeAPIPort), netpol.TCP(80)}},
			netpol.Rule{Name: "allow-webhook", Ingress: true, Peers: world, Ports: []netpol.Port{netpol.TCP(certManagerWebhook)}},
			scrape(9402),
		)
	}
	return rules
}

// dashboards loads every Grafana dashboard as a ConfigMap the Grafana sidecar picks up.
func (b *builder) dashboards() error {
	names := make([]string, 0, len(b.args.Dashboards))
	for n := range b.args.Dashboards {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, file := range names {
		id := "dashboard-" + strings.TrimSuffix(file, ".json")
		_, err := corev1.NewConfigMap(b.ctx, b.name+"-"+id, &corev1.ConfigMapArgs{
			Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(id), Namespace: pulumi.String(NamespaceObservability),
				Labels: pulumi.StringMap{DashboardLabel: pulumi.String("1"), managedByLabel: pulumi.String("cellplane")}},
			Data: pulumi.StringMap{file: pulumi.String(string(b.args.Dashboards[file]))},
		}, b.in(NamespaceObservability)...)
		if err != nil {
			return err
		}
	}
	return nil
}

// recordExternalMedia records the local cell's livekit-server processes: a ConfigMap in the
// media namespace that names them, and Prometheus scrape targets for them.
func (b *builder) recordExternalMedia() error {
	m := b.args.Cluster.ExternalMedia
	b.p.MediaNodes = m.Nodes
	b.p.LiveKitAPIKey = pulumi.String(m.APIKey).ToStringOutput()
	b.p.LiveKitAPISecret = m.APISecret
	nodes, err := json.MarshalIndent(m.Nodes, "", "  ")
	if err != nil {
		return err
	}
	_, err = corev1.NewConfigMap(b.ctx, b.name+"-"+MediaNodesConfigMap, &corev1.ConfigMapArgs{
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(MediaNodesConfigMap), Namespace: pulumi.String(NamespaceMedia),
			Labels:      pulumi.StringMap{managedByLabel: pulumi.String("cellplane")},
			Annotations: pulumi.StringMap{"cellplane.io/media": pulumi.String("external: livekit-server processes of the local cell, not deployed by the program")}},
		Data: pulumi.StringMap{"nodes.json": pulumi.String(string(nodes)), "url": b.args.Cluster.LiveKitURL, "apiKey": pulumi.String(m.APIKey)},
	}, b.in(NamespaceMedia)...)
	if err != nil {
		return err
	}
	var targets []string
	for _, n := range m.Nodes {
		if n.PrometheusPort > 0 {
			targets = append(targets, fmt.Sprintf("127.0.0.1:%d", n.PrometheusPort))
		}
	}
	scrape := fmt.Sprintf("scrape_configs:\n- job_name: livekit\n  static_configs:\n  - targets: [%s]\n", strings.Join(quoteAll(targets), ", "))
	_, err = corev1.NewConfigMap(b.ctx, b.name+"-"+ScrapeConfigMap, &corev1.ConfigMapArgs{
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(ScrapeConfigMap), Namespace: pulumi.String(NamespaceObservability),
			Labels: pulumi.StringMap{managedByLabel: pulumi.String("cellplane")}},
		Data: pulumi.StringMap{"scrape.yaml": pulumi.String(scrape)},
	}, b.in(NamespaceObservability)...)
	return err
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

func release(c Chart) helmv3.RepositoryOptsArgs {
	return helmv3.RepositoryOptsArgs{Repo: pulumi.String(c.Repo)}
}

func toleration(t cluster.Taint) pulumi.Map {
	return pulumi.Map{"key": pulumi.String(t.Key), "operator": pulumi.String("Equal"), "value": pulumi.String(t.Value), "effect": pulumi.String(t.Effect)}
}

// deployCloud installs the outside charts: cert-manager, ingress-nginx, kube-prometheus-stack,
// the OpenTelemetry collector and LiveKit, plus the signal Ingress and TURN certificate.
func (b *builder) deployCloud() error {
	a, ctx := b.args, b.ctx
	if a.LiveKitAPISecret == nil {
		return fmt.Errorf("platform %s: LiveKit API secret required on %s", b.name, a.Cloud)
	}
	b.p.LiveKitAPIKey = pulumi.String(a.LiveKitAPIKey).ToStringOutput()
	b.p.LiveKitAPISecret = pulumi.ToSecret(a.LiveKitAPISecret.ToStringOutput()).(pulumi.StringOutput)
	system := pulumi.ToStringMap(cluster.SystemSelector())

	certManager, err := helmv3.NewRelease(ctx, b.name+"-cert-manager", &helmv3.ReleaseArgs{
		Name: pulumi.String("cert-manager"), Namespace: pulumi.String(NamespaceCertManager),
		Chart: pulumi.String(CertManagerChart.Name), Version: pulumi.String(CertManagerChart.Version), RepositoryOpts: release(CertManagerChart),
		Values: pulumi.Map{
			"crds":         pulumi.Map{"enabled": pulumi.Bool(true)},
			"nodeSelector": system, "webhook": pulumi.Map{"nodeSelector": system}, "cainjector": pulumi.Map{"nodeSelector": system},
			"prometheus": pulumi.Map{"enabled": pulumi.Bool(true)},
		},
	}, b.in(NamespaceCertManager)...)
	if err != nil {
		return err
	}
	issuer, err := apiextensions.NewCustomResource(ctx, b.name+"-issuer", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("cert-manager.io/v1"), Kind: pulumi.String("ClusterIssuer"),
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(ClusterIssuer)},
		OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{"acme": pulumi.Map{
			"server":              pulumi.String("https://acme-v02.api.letsencrypt.org/directory"),
			"email":               pulumi.String(a.ACMEEmail),
			"privateKeySecretRef": pulumi.Map{"name": pulumi.String("letsencrypt-account")},
			"solvers":             pulumi.Array{pulumi.Map{"http01": pulumi.Map{"ingress": pulumi.Map{"ingressClassName": pulumi.String("nginx")}}}},
		}}},
	}, append(b.opts, pulumi.DependsOn([]pulumi.Resource{certManager}))...)
	if err != nil {
		return err
	}

	ingress, err := helmv3.NewRelease(ctx, b.name+"-ingress-nginx", &helmv3.ReleaseArgs{
		Name: pulumi.String("ingress-nginx"), Namespace: pulumi.String(NamespaceIngress),
		Chart: pulumi.String(IngressNginxChart.Name), Version: pulumi.String(IngressNginxChart.Version), RepositoryOpts: release(IngressNginxChart),
		Values: pulumi.Map{"controller": pulumi.Map{
			"nodeSelector":         system,
			"replicaCount":         pulumi.Int(2),
			"ingressClassResource": pulumi.Map{"default": pulumi.Bool(true)},
			"service":              pulumi.Map{"annotations": a.Cluster.IngressServiceAnnotations},
			"metrics":              pulumi.Map{"enabled": pulumi.Bool(true), "serviceMonitor": pulumi.Map{"enabled": pulumi.Bool(false)}},
			"config":               pulumi.Map{"proxy-read-timeout": pulumi.String(ingressReadTimeout), "proxy-send-timeout": pulumi.String(ingressReadTimeout)},
		}},
	}, b.in(NamespaceIngress)...)
	if err != nil {
		return err
	}

	monitoring, err := helmv3.NewRelease(ctx, b.name+"-kube-prometheus-stack", &helmv3.ReleaseArgs{
		Name: pulumi.String("monitoring"), Namespace: pulumi.String(NamespaceObservability),
		Chart: pulumi.String(KubePrometheusStackChart.Name), Version: pulumi.String(KubePrometheusStackChart.Version), RepositoryOpts: release(KubePrometheusStackChart),
		Values: pulumi.Map{
			"prometheus": pulumi.Map{"prometheusSpec": pulumi.Map{
				"nodeSelector": system,
				"serviceMonitorSelectorNilUsesHelmValues": pulumi.Bool(false),
				"podMonitorSelectorNilUsesHelmValues":     pulumi.Bool(false),
				"retention":                               pulumi.String("15d"),
			}},
			"alertmanager": pulumi.Map{"alertmanagerSpec": pulumi.Map{"nodeSelector": system}},
			"grafana": pulumi.Map{
				"nodeSelector": system,
				"sidecar": pulumi.Map{"dashboards": pulumi.Map{"enabled": pulumi.Bool(true), "label": pulumi.String(DashboardLabel),
					"labelValue": pulumi.String("1"), "searchNamespace": pulumi.String(NamespaceObservability)}},
			},
			"prometheusOperator": pulumi.Map{"nodeSelector": system},
			"kube-state-metrics": pulumi.Map{"nodeSelector": system},
			// node-exporter runs on every node, media included.
			"prometheus-node-exporter": pulumi.Map{"tolerations": pulumi.Array{toleration(a.Cluster.MediaToleration)}},
		},
	}, b.in(NamespaceObservability)...)
	if err != nil {
		return err
	}

	_, err = helmv3.NewRelease(ctx, b.name+"-otel-collector", &helmv3.ReleaseArgs{
		Name: pulumi.String("otel-collector"), Namespace: pulumi.String(NamespaceObservability),
		Chart: pulumi.String(OTelCollectorChart.Name), Version: pulumi.String(OTelCollectorChart.Version), RepositoryOpts: release(OTelCollectorChart),
		Values: pulumi.Map{
			"mode":         pulumi.String("deployment"),
			"image":        pulumi.Map{"repository": pulumi.String("otel/opentelemetry-collector-k8s")},
			"nodeSelector": system,
			"ports":        pulumi.Map{"metrics": pulumi.Map{"enabled": pulumi.Bool(true)}},
			"config": pulumi.Map{
				"receivers": pulumi.Map{"otlp": pulumi.Map{"protocols": pulumi.Map{
					"grpc": pulumi.Map{"endpoint": pulumi.String(fmt.Sprintf("0.0.0.0:%d", otlpGRPC))},
					"http": pulumi.Map{"endpoint": pulumi.String(fmt.Sprintf("0.0.0.0:%d", otlpHTTP))}}}},
				"exporters": pulumi.Map{"prometheus": pulumi.Map{"endpoint": pulumi.String("0.0.0.0:8889")}, "debug": pulumi.Map{}},
				"service": pulumi.Map{"pipelines": pulumi.Map{
					"metrics": pulumi.Map{"receivers": pulumi.ToStringArray([]string{"otlp"}), "exporters": pulumi.ToStringArray([]string{"prometheus"})},
					"traces":  pulumi.Map{"receivers": pulumi.ToStringArray([]string{"otlp"}), "exporters": pulumi.ToStringArray([]string{"debug"})},
				}},
			},
		},
	}, b.in(NamespaceObservability, monitoring)...)
	if err != nil {
		return err
	}

	keys, err := corev1.NewSecret(ctx, b.name+"-"+LiveKitKeysSecret, &corev1.SecretArgs{
		Metadata:   metav1.ObjectMetaArgs{Name: pulumi.String(LiveKitKeysSecret), Namespace: pulumi.String(NamespaceMedia)},
		StringData: pulumi.StringMap{"keys.yaml": pulumi.Sprintf("%s: %s\n", a.LiveKitAPIKey, a.LiveKitAPISecret)},
	}, b.in(NamespaceMedia)...)
	if err != nil {
		return err
	}
	turnDomain := "turn." + a.Hostname
	turnCert, err := apiextensions.NewCustomResource(ctx, b.name+"-turn-cert", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("cert-manager.io/v1"), Kind: pulumi.String("Certificate"),
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(LiveKitTURNSecret), Namespace: pulumi.String(NamespaceMedia)},
		OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{
			"secretName": pulumi.String(LiveKitTURNSecret),
			"dnsNames":   pulumi.ToStringArray([]string{turnDomain}),
			"issuerRef":  pulumi.Map{"name": pulumi.String(ClusterIssuer), "kind": pulumi.String("ClusterIssuer")},
		}},
	}, b.in(NamespaceMedia, issuer)...)
	if err != nil {
		return err
	}

	c := a.Cluster
	_, err = helmv3.NewRelease(ctx, b.name+"-livekit", &helmv3.ReleaseArgs{
		Name: pulumi.String(LiveKitRelease), Namespace: pulumi.String(NamespaceMedia),
		Chart: pulumi.String(LiveKitChart.Name), Version: pulumi.String(LiveKitChart.Version), RepositoryOpts: release(LiveKitChart),
		Values: LiveKitValues(a, c),
	}, b.in(NamespaceMedia, keys, turnCert, monitoring)...)
	if err != nil {
		return err
	}

	_, err = networkingv1.NewIngress(ctx, b.name+"-livekit-signal", &networkingv1.IngressArgs{
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String("livekit-signal"), Namespace: pulumi.String(NamespaceMedia),
			Annotations: pulumi.StringMap{
				"cert-manager.io/cluster-issuer":                 pulumi.String(ClusterIssuer),
				"nginx.ingress.kubernetes.io/proxy-read-timeout": pulumi.String(ingressReadTimeout),
				"nginx.ingress.kubernetes.io/proxy-send-timeout": pulumi.String(ingressReadTimeout),
				"nginx.ingress.kubernetes.io/backend-protocol":   pulumi.String("HTTP"),
			}},
		Spec: networkingv1.IngressSpecArgs{
			IngressClassName: pulumi.String("nginx"),
			Tls: networkingv1.IngressTLSArray{networkingv1.IngressTLSArgs{
				Hosts: pulumi.StringArray{c.IngressHostname}, SecretName: pulumi.String(LiveKitSignalSecret)}},
			Rules: networkingv1.IngressRuleArray{networkingv1.IngressRuleArgs{
				Host: c.IngressHostname,
				Http: networkingv1.HTTPIngressRuleValueArgs{Paths: networkingv1.HTTPIngressPathArray{networkingv1.HTTPIngressPathArgs{
					Path: pulumi.String("/"), PathType: pulumi.String("Prefix"),
					Backend: networkingv1.IngressBackendArgs{Service: networkingv1.IngressServiceBackendArgs{
						Name: pulumi.String(LiveKitRelease), Port: networkingv1.ServiceBackendPortArgs{Number: pulumi.Int(80)}}},
				}}},
			}},
		},
	}, b.in(NamespaceMedia, ingress, issuer)...)
	return err
}

// LiveKitValues are the values of the official livekit-server chart: host networking, one pod
// per media node, the media pool's selector and toleration, Redis for multi-node routing,
// keys from a Secret, TURN/TLS from a Secret, the long grace period, the Prometheus port.
func LiveKitValues(a *Args, c *cluster.Outputs) pulumi.Map {
	replicas := a.MediaReplicas
	if replicas < 1 {
		replicas = 1
	}
	return pulumi.Map{
		"fullnameOverride":              pulumi.String(LiveKitRelease),
		"replicaCount":                  pulumi.Int(replicas),
		"image":                         pulumi.Map{"tag": pulumi.String(LiveKitVersion)},
		"podHostNetwork":                pulumi.Bool(true),
		"terminationGracePeriodSeconds": pulumi.Int(GracePeriodSeconds),
		"nodeSelector":                  pulumi.ToStringMap(c.MediaSelector),
		"tolerations":                   pulumi.Array{toleration(c.MediaToleration)},
		// One LiveKit per node: host ports collide anyway; say so to the scheduler up front.
		"affinity": pulumi.Map{"podAntiAffinity": pulumi.Map{"requiredDuringSchedulingIgnoredDuringExecution": pulumi.Array{pulumi.Map{
			"topologyKey":   pulumi.String("kubernetes.io/hostname"),
			"labelSelector": pulumi.Map{"matchLabels": pulumi.StringMap{"app.kubernetes.io/name": pulumi.String("livekit-server")}},
		}}}},
		"deploymentStrategy": pulumi.Map{"type": pulumi.String("RollingUpdate"),
			"rollingUpdate": pulumi.Map{"maxSurge": pulumi.Int(0), "maxUnavailable": pulumi.Int(1)}},
		"livekit": pulumi.Map{
			"port":            pulumi.Int(LiveKitHTTPPort),
			"prometheus_port": pulumi.Int(LiveKitPrometheusPort),
			"log_level":       pulumi.String("info"),
			"rtc": pulumi.Map{
				"tcp_port": pulumi.Int(a.RTCTCPPort), "port_range_start": pulumi.Int(a.RTCPortStart),
				"port_range_end": pulumi.Int(a.RTCPortEnd), "use_external_ip": pulumi.Bool(true),
			},
			// The chart renders livekit config into a ConfigMap; the Redis password lands there
			// (the chart has no secret reference for it). Keys, the larger secret, come from a Secret.
			"redis":    pulumi.Map{"address": c.RedisEndpoint, "password": c.RedisAuth, "use_tls": pulumi.Bool(c.RedisTLS)},
			"key_file": pulumi.String("keys.yaml"),
			"turn": pulumi.Map{
				"enabled": pulumi.Bool(true), "domain": pulumi.String("turn." + a.Hostname),
				"tls_port": pulumi.Int(a.TURNTLSPort), "udp_port": pulumi.Int(defaultTURNUDPPort),
				"secretName": pulumi.String(LiveKitTURNSecret),
			},
		},
		"storeKeysInSecret": pulumi.Map{"enabled": pulumi.Bool(true), "existingSecret": pulumi.String(LiveKitKeysSecret)},
		"loadBalancer":      pulumi.Map{"type": pulumi.String("disable")},
		"serviceMonitor":    pulumi.Map{"create": pulumi.Bool(true), "interval": pulumi.String("30s")},
		"resources": pulumi.Map{
			"requests": pulumi.Map{"cpu": pulumi.String("3"), "memory": pulumi.String("2Gi")},
			"limits":   pulumi.Map{"memory": pulumi.String("4Gi")},
		},
	}
}
