// Package cloud holds what the three cloud cluster components (aws, gcp, azure) do alike
// before they declare anything: check the region against the shared region table, fill the
// pools from the cloud's sizing table and the contract's defaults, and derive names that fit
// each cloud's length rules.
package cloud

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/infra/spec"
)

// Prepare validates args for cloud c and fills what the caller may leave out: the pools
// (from table, by sizing), the RTC ports (the contract's defaults) and the tags (always
// carrying org, cloud and region). It fails, before anything is registered, on a region the
// cloud does not have, a cloud that is not c, or pools that break the contract.
func Prepare(c spec.Cloud, args cluster.Args, table cluster.SizingTable) (cluster.Args, error) {
	if args.Cloud != "" && args.Cloud != c {
		return args, fmt.Errorf("%s cluster: args are for cloud %q", c, args.Cloud)
	}
	args.Cloud = c
	if err := spec.ValidateRegion(c, args.Region); err != nil {
		return args, fmt.Errorf("%s cluster: %w", c, err)
	}
	if err := spec.ValidateSlug(args.Org); err != nil {
		return args, fmt.Errorf("%s cluster: %w", c, err)
	}
	if args.Sizing == "" {
		args.Sizing = spec.Small
	}
	if args.Pools.System.Name == "" {
		pools, err := cluster.DefaultPools(args.Sizing, table)
		if err != nil {
			return args, fmt.Errorf("%s cluster: %w", c, err)
		}
		args.Pools = pools
	}
	if args.RTCPortStart == 0 && args.RTCPortEnd == 0 {
		args.RTCPortStart, args.RTCPortEnd = cluster.DefaultRTCPortStart, cluster.DefaultRTCPortEnd
	}
	if args.RTCTCPPort == 0 {
		args.RTCTCPPort = cluster.DefaultRTCTCPPort
	}
	if args.TURNTLSPort == 0 {
		args.TURNTLSPort = cluster.DefaultTURNTLSPort
	}
	if args.DNSZone == "" {
		return args, fmt.Errorf("%s cluster: a DNS zone is required for the ingress hostname", c)
	}
	if args.Hostname == "" {
		args.Hostname = args.Org + "." + args.DNSZone
	}
	if !strings.HasSuffix(args.Hostname, "."+args.DNSZone) {
		return args, fmt.Errorf("%s cluster: hostname %q is not in zone %q", c, args.Hostname, args.DNSZone)
	}
	// The contract's tags win over extra tags of the same name: org/cloud/region must be true.
	extra := maps.Clone(args.Tags)
	base := cluster.Tags(args.Org, c, args.Region, nil)
	args.Tags = cluster.Tags(args.Org, c, args.Region, extra)
	maps.Copy(args.Tags, base)
	if err := args.Validate(); err != nil {
		return args, fmt.Errorf("%s cluster: %w", c, err)
	}
	return args, nil
}

// RecordName is the hostname relative to its zone ("mercy-health" in "cells.cellplane.io").
func RecordName(args cluster.Args) string {
	return strings.TrimSuffix(args.Hostname, "."+args.DNSZone)
}

// ShortName joins prefix and org into a lowercase name of at most max characters; when it
// does not fit, the org is cut and a short hash of the whole keeps names of different orgs
// apart. sep joins the parts ("-" or "" where a cloud forbids hyphens).
func ShortName(prefix, org, sep string, max int) string {
	full := prefix + sep + org
	if len(full) <= max {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	h := hex.EncodeToString(sum[:])[:6]
	keep := max - len(prefix) - len(h) - 2*len(sep)
	if keep < 1 {
		keep = 1
	}
	cut := strings.TrimRight(org[:min(keep, len(org))], "-")
	return prefix + sep + cut + sep + h
}

// Shape is a pool shape taking its autoscaling bounds from the contract's table, so every
// cloud scales the same way and differs only in machine types.
func Shape(instanceType string, diskGB int, bounds [2]int) cluster.PoolShape {
	return cluster.PoolShape{InstanceType: instanceType, Min: bounds[0], Max: bounds[1], DiskSizeGB: diskGB}
}

// PoolTable builds a cloud's pool table from its machine types per sizing.
func PoolTable(types map[spec.Sizing][3]string, disks [3]int) cluster.SizingTable {
	t := cluster.SizingTable{}
	for _, z := range spec.Sizings {
		b := cluster.Bounds[z]
		ty := types[z]
		t[z] = cluster.Shapes{
			System:  Shape(ty[0], disks[0], b.System),
			Media:   Shape(ty[1], disks[1], b.Media),
			Workers: Shape(ty[2], disks[2], b.Workers),
		}
	}
	return t
}

// Endpoint is how the API server is reached. Private is always on; a public endpoint exists
// only when the stack allows CIDRs (then only those reach it) or turns the private endpoint
// off (then everyone may, which program config refuses without CIDRs).
type Endpoint struct {
	Public bool
	CIDRs  []string // who may reach the public endpoint; empty with Public means anyone
}

// APIEndpoint derives the endpoint exposure from args.
func APIEndpoint(args cluster.Args) Endpoint {
	return Endpoint{Public: !args.PrivateEndpoint || len(args.AllowedCIDRs) > 0, CIDRs: args.AllowedCIDRs}
}

// TaintEffect maps a Kubernetes taint effect to the upper-snake spelling EKS and GKE use.
func TaintEffect(effect string) string {
	switch effect {
	case "NoSchedule":
		return "NO_SCHEDULE"
	case "NoExecute":
		return "NO_EXECUTE"
	case "PreferNoSchedule":
		return "PREFER_NO_SCHEDULE"
	}
	return effect
}

// MinorVersion cuts a Kubernetes version to MAJOR.MINOR (EKS picks patches itself).
func MinorVersion(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// ExecKubeconfig renders a kubeconfig (JSON, which is YAML) for one cluster whose
// credentials come from an exec plugin: the cloud's CLI mints short-lived tokens, so no
// long-lived credential sits in the stack state.
func ExecKubeconfig(name, server, caData, command string, args []string) string {
	user := map[string]any{"exec": map[string]any{
		"apiVersion":         "client.authentication.k8s.io/v1beta1",
		"command":            command,
		"args":               args,
		"interactiveMode":    "Never",
		"provideClusterInfo": false,
	}}
	kc := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": name,
		"clusters":        []any{map[string]any{"name": name, "cluster": map[string]any{"server": server, "certificate-authority-data": caData}}},
		"users":           []any{map[string]any{"name": name, "user": user}},
		"contexts":        []any{map[string]any{"name": name, "context": map[string]any{"cluster": name, "user": name}}},
	}
	b, _ := json.MarshalIndent(kc, "", "  ")
	return string(b)
}

// Port is one port range opened to the world on the media pool.
type Port struct {
	Protocol string // "udp" | "tcp"
	From, To int
	What     string
}

// RTCPorts are LiveKit's ports clients reach on a media node's public IP: the RTC UDP range,
// ICE over TCP, TURN over TLS and TURN over UDP (the platform's LiveKit config listens on
// the contract's default TURN UDP port). Nothing else is opened on any pool.
func RTCPorts(a cluster.Args) []Port {
	return []Port{
		{"udp", a.RTCPortStart, a.RTCPortEnd, "LiveKit RTC (UDP)"},
		{"tcp", a.RTCTCPPort, a.RTCTCPPort, "LiveKit ICE over TCP"},
		{"tcp", a.TURNTLSPort, a.TURNTLSPort, "LiveKit TURN over TLS"},
		{"udp", cluster.DefaultTURNUDPPort, cluster.DefaultTURNUDPPort, "LiveKit TURN over UDP"},
	}
}
