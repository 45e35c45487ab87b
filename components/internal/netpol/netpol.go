// Package netpol declares the NetworkPolicies every cellplane namespace carries: a
// default-deny of all ingress and egress, then one small named policy per explicit allow,
// so `kubectl get networkpolicy` reads as the list of what a namespace may talk to.
package netpol

import (
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DefaultDenyName is the name of the deny-all policy in every namespace.
const DefaultDenyName = "default-deny"

// Port is one allowed port (EndPort > 0 makes a range).
type Port struct {
	Protocol string // TCP or UDP
	Port     int
	EndPort  int
}

// TCP and UDP build ports.
func TCP(p int) Port             { return Port{Protocol: "TCP", Port: p} }
func UDP(p int) Port             { return Port{Protocol: "UDP", Port: p} }
func UDPRange(from, to int) Port { return Port{Protocol: "UDP", Port: from, EndPort: to} }

// Peer is one side of an allow: a namespace by name, pods by labels, or a CIDR.
type Peer struct {
	Namespace     string            // "" with AllNamespaces false: this namespace
	AllNamespaces bool              // any namespace of the cluster
	PodLabels     map[string]string // nil: every pod
	CIDR          string            // an address block outside the cluster (e.g. 0.0.0.0/0)
}

// Rule is one explicit allow.
type Rule struct {
	Name      string
	Ingress   bool              // false: egress
	PodLabels map[string]string // pods of this namespace it applies to; nil: all
	Peers     []Peer            // nil: any peer
	Ports     []Port            // nil: any port
}

// Deny declares the default-deny policy of ns.
func Deny(ctx *pulumi.Context, prefix, ns string, opts ...pulumi.ResourceOption) (*networkingv1.NetworkPolicy, error) {
	return networkingv1.NewNetworkPolicy(ctx, prefix+"-"+DefaultDenyName, &networkingv1.NetworkPolicyArgs{
		Metadata: meta(ns, DefaultDenyName),
		Spec: networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
		},
	}, opts...)
}

// DNS allows egress to the cluster DNS.
func DNS() Rule {
	return Rule{Name: "allow-dns", Peers: []Peer{{Namespace: "kube-system", PodLabels: map[string]string{"k8s-app": "kube-dns"}}},
		Ports: []Port{UDP(53), TCP(53)}}
}

// Declare creates the default-deny and the rules in ns.
func Declare(ctx *pulumi.Context, prefix, ns string, rules []Rule, opts ...pulumi.ResourceOption) error {
	if _, err := Deny(ctx, prefix, ns, opts...); err != nil {
		return err
	}
	for _, r := range rules {
		if _, err := networkingv1.NewNetworkPolicy(ctx, prefix+"-"+r.Name, args(ns, r), opts...); err != nil {
			return err
		}
	}
	return nil
}

func meta(ns, name string) metav1.ObjectMetaArgs {
	return metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String(ns),
		Labels: pulumi.StringMap{"app.kubernetes.io/managed-by": pulumi.String("cellplane")}}
}

func args(ns string, r Rule) *networkingv1.NetworkPolicyArgs {
	var peers networkingv1.NetworkPolicyPeerArray
	for _, p := range r.Peers {
		peers = append(peers, peer(ns, p))
	}
	var ports networkingv1.NetworkPolicyPortArray
	for _, p := range r.Ports {
		np := networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String(p.Protocol), Port: pulumi.Int(p.Port)}
		if p.EndPort > 0 {
			np.EndPort = pulumi.Int(p.EndPort)
		}
		ports = append(ports, np)
	}
	spec := networkingv1.NetworkPolicySpecArgs{PodSelector: metav1.LabelSelectorArgs{MatchLabels: strMap(r.PodLabels)}}
	if r.Ingress {
		spec.PolicyTypes = pulumi.StringArray{pulumi.String("Ingress")}
		spec.Ingress = networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{From: peers, Ports: ports}}
	} else {
		spec.PolicyTypes = pulumi.StringArray{pulumi.String("Egress")}
		spec.Egress = networkingv1.NetworkPolicyEgressRuleArray{networkingv1.NetworkPolicyEgressRuleArgs{To: peers, Ports: ports}}
	}
	return &networkingv1.NetworkPolicyArgs{Metadata: meta(ns, r.Name), Spec: spec}
}

func peer(ns string, p Peer) networkingv1.NetworkPolicyPeerArgs {
	if p.CIDR != "" {
		return networkingv1.NetworkPolicyPeerArgs{IpBlock: networkingv1.IPBlockArgs{Cidr: pulumi.String(p.CIDR)}}
	}
	out := networkingv1.NetworkPolicyPeerArgs{}
	switch {
	case p.AllNamespaces:
		out.NamespaceSelector = metav1.LabelSelectorArgs{}
	case p.Namespace != "" && p.Namespace != ns:
		out.NamespaceSelector = metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(p.Namespace)}}
	}
	// A peer with neither selector would match nothing useful; select all pods explicitly.
	out.PodSelector = metav1.LabelSelectorArgs{MatchLabels: strMap(p.PodLabels)}
	return out
}

func strMap(m map[string]string) pulumi.StringMap {
	if len(m) == 0 {
		return nil
	}
	out := pulumi.StringMap{}
	for k, v := range m {
		out[k] = pulumi.String(v)
	}
	return out
}
