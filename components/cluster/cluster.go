// Package cluster is the one cloud-agnostic contract every cluster implementation (aws, gcp,
// azure, local) fulfils: Args in, Outputs back. The platform and tenant components consume
// Outputs unchanged, so anything a cloud needs to tell the in-cluster layer goes here and
// nowhere else (the Cluster API pattern: one contract, several providers).
//
// The node pool vocabulary (label, taint) is shared with the local cell, whose kwok nodes
// carry exactly these labels and taints, so a workload placed on "media" or "workers" lands
// on the same pool locally and in a cloud.
package cluster

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/infra/spec"
)

// Node pool vocabulary. Do not change these without changing the local cell's node
// manifests: both sides must agree.
const (
	// PoolLabel is the node label naming a node's pool.
	PoolLabel = "cellplane.io/pool"

	PoolSystem  = "system"  // control-plane add-ons: ingress, cert-manager, observability
	PoolMedia   = "media"   // LiveKit: one pod per node, host networking, public IPs
	PoolWorkers = "workers" // sim-engine and agent workers, autoscaled

	// MediaTaintKey taints media nodes so nothing but LiveKit lands there.
	MediaTaintKey = "cellplane.io/media"
)

// MediaTaint keeps everything that does not tolerate it off the media pool.
var MediaTaint = Taint{Key: MediaTaintKey, Value: "true", Effect: "NoSchedule"}

// LiveKit's default ports, opened to the world on the media pool (LiveKit does not work
// behind private-node NAT: clients send RTC straight to the node's public IP).
const (
	DefaultRTCPortStart = 50000 // UDP range start (ICE/RTP)
	DefaultRTCPortEnd   = 60000 // UDP range end
	DefaultRTCTCPPort   = 7881  // ICE over TCP fallback
	DefaultTURNTLSPort  = 5349  // embedded TURN over TLS
	DefaultTURNUDPPort  = 3478  // embedded TURN over UDP
)

// Taint is a Kubernetes node taint.
type Taint struct{ Key, Value, Effect string }

// NodePool is one pool of nodes. Labels always include PoolLabel=<Name>.
type NodePool struct {
	Name         string
	InstanceType string
	Min, Max     int
	DiskSizeGB   int
	Labels       map[string]string
	Taints       []Taint
	PublicIPs    bool // only the media pool: LiveKit needs the node's own public address
}

// Pools are the three pools every cluster has.
type Pools struct{ System, Media, Workers NodePool }

// All returns the pools in a fixed order.
func (p Pools) All() []NodePool { return []NodePool{p.System, p.Media, p.Workers} }

// Args is what a cluster implementation is asked to build.
type Args struct {
	Org    string     // org slug (tier A) or cell name (tier B); names and tags resources
	Cloud  spec.Cloud // the implementation's own cloud (carried for tags)
	Region string     // validated against spec.Regions(Cloud) before the component runs

	KubernetesVersion string // "" = the cloud's default for the release channel
	Sizing            spec.Sizing
	Pools             Pools

	// API endpoint access: private endpoint on; AllowedCIDRs may reach it (e.g. the control
	// plane's egress and a VPN). Empty AllowedCIDRs with PrivateEndpoint means private only.
	PrivateEndpoint bool
	AllowedCIDRs    []string

	// KMSKeyID is the customer's key (BYOK) for secrets envelope encryption: an AWS key ARN, a
	// GCP CryptoKey id, an Azure Key Vault key id. Empty: the component creates a key.
	KMSKeyID string

	// Media ports opened to 0.0.0.0/0 on the media pool only.
	RTCPortStart, RTCPortEnd int
	RTCTCPPort, TURNTLSPort  int

	// Hostname is the signal/ingress name the component publishes in DNSZone
	// (e.g. "mercy-health.cells.cellplane.io" in zone "cells.cellplane.io").
	Hostname string
	DNSZone  string

	// DeletionProtection guards the stateful resources (Redis, KMS keys).
	DeletionProtection bool

	// Tags go on every taggable resource (already include org, cloud, region, managed-by).
	Tags map[string]string
}

// Outputs is what every cluster implementation returns.
type Outputs struct {
	Kubeconfig pulumi.StringOutput // secret
	Provider   *kubernetes.Provider

	// Redis for LiveKit's multi-node routing and the tenants' ACL users.
	RedisEndpoint pulumi.StringOutput // host:port
	RedisAuth     pulumi.StringOutput // secret: the AUTH token / default user's password
	RedisTLS      bool

	IngressHostname pulumi.StringOutput // the signal connection's public name
	DNSZone         pulumi.StringOutput
	// IngressServiceAnnotations go on the ingress controller's LoadBalancer Service (e.g. the
	// cloud's certificate and LB type); nil when the cloud needs none.
	IngressServiceAnnotations pulumi.StringMap

	MediaSelector   map[string]string // node selector of the media pool
	MediaToleration Taint             // toleration LiveKit pods need on it

	// LiveKitURL is where clients connect (wss://<IngressHostname> on clouds).
	LiveKitURL pulumi.StringOutput

	// ExternalMedia is non-nil when the media plane runs outside the cluster (the local
	// cell's livekit-server processes): the platform records it instead of deploying LiveKit.
	ExternalMedia *ExternalMedia
}

// ExternalMedia describes LiveKit servers that are not deployed by the program.
type ExternalMedia struct {
	Nodes     []MediaNode
	APIKey    string
	APISecret pulumi.StringOutput // secret
}

// MediaNode is one LiveKit server outside the cluster.
type MediaNode struct {
	Name                     string
	URL                      string
	Port                     int
	RTCPortStart, RTCPortEnd int
	PrometheusPort           int
}

// Builder builds a cluster; one per cloud (infra/program keeps the map cloud -> Builder).
type Builder func(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Outputs, error)

// PoolShape is the machine type and autoscaling bounds of one pool.
type PoolShape struct {
	InstanceType string
	Min, Max     int
	DiskSizeGB   int
}

// Shapes is one sizing's row of a cloud's table.
type Shapes struct{ System, Media, Workers PoolShape }

// SizingTable maps each sizing to its pool shapes; each cloud keeps one (its instance types).
type SizingTable map[spec.Sizing]Shapes

// Bounds are the cloud-agnostic autoscaling bounds per sizing that cloud tables start from:
// system is fixed-ish, media grows with concurrent rooms, workers with concurrent sessions.
var Bounds = map[spec.Sizing]struct{ System, Media, Workers [2]int }{
	spec.Small:  {System: [2]int{2, 3}, Media: [2]int{2, 4}, Workers: [2]int{2, 6}},
	spec.Medium: {System: [2]int{3, 4}, Media: [2]int{3, 8}, Workers: [2]int{3, 12}},
	spec.Large:  {System: [2]int{3, 6}, Media: [2]int{4, 16}, Workers: [2]int{6, 30}},
}

// DefaultPools builds the three pools for sizing from a cloud's table: the pool label on
// each, the media taint and public IPs on media only.
func DefaultPools(sizing spec.Sizing, table SizingTable) (Pools, error) {
	row, ok := table[sizing]
	if !ok {
		return Pools{}, fmt.Errorf("no pool shapes for sizing %q", sizing)
	}
	mk := func(name string, s PoolShape) NodePool {
		return NodePool{
			Name: name, InstanceType: s.InstanceType, Min: s.Min, Max: s.Max, DiskSizeGB: s.DiskSizeGB,
			Labels: map[string]string{PoolLabel: name},
		}
	}
	p := Pools{System: mk(PoolSystem, row.System), Media: mk(PoolMedia, row.Media), Workers: mk(PoolWorkers, row.Workers)}
	p.Media.Taints = []Taint{MediaTaint}
	p.Media.PublicIPs = true
	return p, nil
}

// MediaSelector is the node selector of the media pool.
func MediaSelector() map[string]string { return map[string]string{PoolLabel: PoolMedia} }

// WorkersSelector is the node selector of the workers pool.
func WorkersSelector() map[string]string { return map[string]string{PoolLabel: PoolWorkers} }

// SystemSelector is the node selector of the system pool.
func SystemSelector() map[string]string { return map[string]string{PoolLabel: PoolSystem} }

// Validate checks the invariants every implementation relies on; program.Run has already
// validated the user's config, so a failure here is a programming error worth a clear message.
func (a Args) Validate() error {
	if a.Org == "" || a.Region == "" {
		return fmt.Errorf("cluster args: org and region are required")
	}
	for _, p := range a.Pools.All() {
		if p.Name == "" || p.Min < 0 || p.Max < p.Min || p.Max == 0 {
			return fmt.Errorf("cluster args: pool %q has bounds %d..%d", p.Name, p.Min, p.Max)
		}
		if p.Labels[PoolLabel] != p.Name {
			return fmt.Errorf("cluster args: pool %q lacks label %s=%s", p.Name, PoolLabel, p.Name)
		}
	}
	if !a.Pools.Media.PublicIPs || len(a.Pools.Media.Taints) == 0 {
		return fmt.Errorf("cluster args: the media pool needs public IPs and the media taint")
	}
	if a.Pools.System.PublicIPs || a.Pools.Workers.PublicIPs {
		return fmt.Errorf("cluster args: only the media pool may have public IPs")
	}
	if a.RTCPortStart <= 0 || a.RTCPortEnd < a.RTCPortStart {
		return fmt.Errorf("cluster args: RTC port range %d-%d", a.RTCPortStart, a.RTCPortEnd)
	}
	return nil
}

// Tags returns the tags every resource of a cell carries.
func Tags(org string, cloud spec.Cloud, region string, extra map[string]string) map[string]string {
	t := map[string]string{"cellplane-org": org, "cellplane-cloud": string(cloud), "cellplane-region": region, "managed-by": "cellplane"}
	for k, v := range extra {
		t[k] = v
	}
	return t
}
