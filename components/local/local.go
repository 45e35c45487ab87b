// Package local is the `local` cluster implementation: it adopts the running local cell (a
// real kube-apiserver on loopback with kwok nodes, Redis and livekit-server processes) and
// returns the same cluster.Outputs a cloud cluster does. It creates no cloud resources and
// pretends to create none: the only child is the Kubernetes provider bound to the cell's
// kubeconfig. The cell itself is started by `cellplane local up`, outside the program.
package local

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/controlplane/localcell"
	"github.com/cellplane/cellplane/infra/spec"
)

// Args locate the cell to adopt.
type Args struct {
	Dir     string       // directory holding cell.json
	Cluster cluster.Args // validated like any cluster's (pools are the cell's kwok pools)
}

// Cluster is the adopted local cell.
type Cluster struct {
	pulumi.ResourceState
	Outputs cluster.Outputs
	Cell    *localcell.Cell
}

// NewCluster reads <Dir>/cell.json and builds a Kubernetes provider for the cell.
func NewCluster(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Cluster, error) {
	dir, err := filepath.Abs(args.Dir)
	if err != nil {
		return nil, err
	}
	cell, err := localcell.Load(dir)
	if err != nil {
		return nil, err
	}
	kc, err := os.ReadFile(cell.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("local cell kubeconfig: %w", err)
	}
	if len(cell.LiveKit) == 0 {
		return nil, fmt.Errorf("local cell in %s has no LiveKit nodes", dir)
	}

	c := &Cluster{Cell: cell}
	if err := ctx.RegisterComponentResource("cellplane:local:Cluster", name, c, opts...); err != nil {
		return nil, err
	}
	kubeconfig := pulumi.ToSecret(pulumi.String(string(kc))).(pulumi.StringOutput)
	prov, err := kubernetes.NewProvider(ctx, name, &kubernetes.ProviderArgs{
		Kubeconfig: kubeconfig,
		// Apply order matters more than speed on a 2-core box; keep server-side apply (the
		// default) so field ownership is the API server's, as on a cloud.
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}

	media := &cluster.ExternalMedia{APIKey: cell.APIKey, APISecret: pulumi.ToSecret(pulumi.String(cell.APISecret)).(pulumi.StringOutput)}
	for _, n := range cell.LiveKit {
		media.Nodes = append(media.Nodes, cluster.MediaNode{Name: n.Name, URL: n.URL, Port: n.Port,
			RTCPortStart: n.RTCPortStart, RTCPortEnd: n.RTCPortEnd, PrometheusPort: n.PrometheusPort})
	}
	c.Outputs = cluster.Outputs{
		Kubeconfig:      kubeconfig,
		Provider:        prov,
		RedisEndpoint:   pulumi.String(cell.Redis.Addr).ToStringOutput(),
		RedisAuth:       pulumi.ToSecret(pulumi.String(cell.Redis.Password)).(pulumi.StringOutput),
		RedisTLS:        false, // loopback only
		IngressHostname: pulumi.String("localhost").ToStringOutput(),
		DNSZone:         pulumi.String("local").ToStringOutput(),
		MediaSelector:   cluster.MediaSelector(),
		MediaToleration: cluster.MediaTaint,
		LiveKitURL:      pulumi.String(cell.LiveKitURL()).ToStringOutput(),
		ExternalMedia:   media,
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"apiServer":     pulumi.String(cell.APIServer),
		"redisEndpoint": c.Outputs.RedisEndpoint,
		"livekitUrl":    c.Outputs.LiveKitURL,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Builder adapts NewCluster to the cluster contract for the cell in dir.
func Builder(dir string) cluster.Builder {
	return func(ctx *pulumi.Context, name string, args cluster.Args, opts ...pulumi.ResourceOption) (*cluster.Outputs, error) {
		c, err := NewCluster(ctx, name, Args{Dir: dir, Cluster: args}, opts...)
		if err != nil {
			return nil, err
		}
		return &c.Outputs, nil
	}
}

// Sizes is the local cell's shape (kwok nodes: one system, two media, three workers) for
// every sizing: the cell is what it is, whatever a stack asks for.
var Sizes = func() cluster.SizingTable {
	row := cluster.Shapes{
		System:  cluster.PoolShape{InstanceType: "kwok", Min: 1, Max: 1},
		Media:   cluster.PoolShape{InstanceType: "kwok", Min: 2, Max: 2},
		Workers: cluster.PoolShape{InstanceType: "kwok", Min: 3, Max: 3},
	}
	t := cluster.SizingTable{}
	for _, s := range spec.Sizings {
		t[s] = row
	}
	return t
}()
