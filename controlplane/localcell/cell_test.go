package localcell_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/controlplane/localcell"
)

func TestMain(m *testing.M) { harness.Main(m) }

// podsOf lists the pods of namespace ns with label app=name, with their node and phase.
func podsOf(t *testing.T, k *localcell.KubeClient, ns, app string) map[string]string {
	t.Helper()
	var pods localcell.List
	if err := k.Do(context.Background(), http.MethodGet, fmt.Sprintf("/api/v1/namespaces/%s/pods?labelSelector=app%%3D%s", ns, app), nil, &pods); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		var spec localcell.PodSpec
		var st localcell.PodStatus
		_ = json.Unmarshal(p.Spec, &spec)
		_ = json.Unmarshal(p.Status, &st)
		out[p.Metadata.Name] = spec.NodeName + "/" + st.Phase
	}
	return out
}

func waitPods(t *testing.T, k *localcell.KubeClient, ns, app string, want int) map[string]string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		pods := podsOf(t, k, ns, app)
		running := 0
		for _, v := range pods {
			if strings.HasSuffix(v, "/Running") {
				running++
			}
		}
		if running == want && len(pods) == want {
			return pods
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s: want %d pods Running, have %v", ns, app, want, pods)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func apply(t *testing.T, k *localcell.KubeClient, path string, obj string) {
	t.Helper()
	if err := k.Do(context.Background(), http.MethodPost, path, []byte(obj), nil); err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
}

func TestWorkloadsLandOnTheirPools(t *testing.T) {
	cell := harness.Cell(t)
	k := cell.Kube
	apply(t, k, "/api/v1/namespaces", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"pools-test"}}`)

	// A plain Deployment that asks for the workers pool: never on media (tainted), always
	// on workers.
	apply(t, k, "/apis/apps/v1/namespaces/pools-test/deployments", `{
	  "apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"sim"},
	  "spec":{"replicas":4,"selector":{"matchLabels":{"app":"sim"}},
	    "template":{"metadata":{"labels":{"app":"sim"}},"spec":{
	      "nodeSelector":{"cellplane.io/pool":"workers"},
	      "containers":[{"name":"sim","image":"sim-engine:1.4.5"}]}}}}`)
	// A Deployment with no selector at all must still stay off the tainted media nodes.
	apply(t, k, "/apis/apps/v1/namespaces/pools-test/deployments", `{
	  "apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"free"},
	  "spec":{"replicas":6,"selector":{"matchLabels":{"app":"free"}},
	    "template":{"metadata":{"labels":{"app":"free"}},"spec":{
	      "containers":[{"name":"free","image":"busy:1"}]}}}}`)
	// LiveKit's shape: host networking, the media toleration and selector.
	apply(t, k, "/apis/apps/v1/namespaces/pools-test/daemonsets", `{
	  "apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"media"},
	  "spec":{"selector":{"matchLabels":{"app":"media"}},
	    "template":{"metadata":{"labels":{"app":"media"}},"spec":{
	      "hostNetwork":true,
	      "nodeSelector":{"cellplane.io/pool":"media"},
	      "tolerations":[{"key":"cellplane.io/media","operator":"Equal","value":"true","effect":"NoSchedule"}],
	      "containers":[{"name":"livekit","image":"livekit/livekit-server:v1.13.5"}]}}}}`)

	for name, at := range waitPods(t, k, "pools-test", "sim", 4) {
		if !strings.HasPrefix(at, "workers-") {
			t.Errorf("sim pod %s on %s, want a workers node", name, at)
		}
	}
	for name, at := range waitPods(t, k, "pools-test", "free", 6) {
		if strings.HasPrefix(at, "media-") {
			t.Errorf("untolerating pod %s landed on media node %s", name, at)
		}
	}
	media := waitPods(t, k, "pools-test", "media", 2)
	nodes := map[string]bool{}
	for name, at := range media {
		if !strings.HasPrefix(at, "media-") {
			t.Errorf("media pod %s on %s, want a media node", name, at)
		}
		nodes[strings.Split(at, "/")[0]] = true
	}
	if len(nodes) != 2 {
		t.Errorf("media DaemonSet pods on %v, want one on each of the 2 media nodes", nodes)
	}

	// A running pod marked unready (as the node controller does when nodes were
	// unreachable) comes back to Ready, as it would with a kubelet.
	var name string
	for n := range podsOf(t, k, "pools-test", "sim") {
		name = n
		break
	}
	unready := `{"status":{"conditions":[{"type":"Ready","status":"False","reason":"NodeNotReady"}]}}`
	if err := k.Do(context.Background(), http.MethodPatch, "/api/v1/namespaces/pools-test/pods/"+name+"/status", []byte(unready), nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "pod "+name+" Ready again", func() bool {
		var pod struct {
			Status struct {
				Conditions []struct{ Type, Status string } `json:"conditions"`
			} `json:"status"`
		}
		if err := k.Do(context.Background(), http.MethodGet, "/api/v1/namespaces/pools-test/pods/"+name, nil, &pod); err != nil {
			t.Fatal(err)
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == "Ready" {
				return c.Status == "True"
			}
		}
		return false
	})
}

func TestNodesCarryPoolLabelsAndMediaTaint(t *testing.T) {
	cell := harness.Cell(t)
	var nodes struct {
		Items []struct {
			Metadata struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				Taints []struct{ Key, Value, Effect string } `json:"taints"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := cell.Kube.Do(context.Background(), http.MethodGet, "/api/v1/nodes", nil, &nodes); err != nil {
		t.Fatal(err)
	}
	pools := map[string]int{}
	for _, n := range nodes.Items {
		pool := n.Metadata.Labels[localcell.PoolLabel]
		pools[pool]++
		tainted := len(n.Spec.Taints) == 1 && n.Spec.Taints[0].Key == localcell.MediaTaintKey && n.Spec.Taints[0].Effect == "NoSchedule"
		if (pool == "media") != tainted {
			t.Errorf("node %s (pool %q) taints %+v", n.Metadata.Name, pool, n.Spec.Taints)
		}
	}
	if pools["system"] < 1 || pools["media"] != 2 || pools["workers"] < 2 {
		t.Errorf("pools %v, want system>=1, media=2, workers>=2", pools)
	}
	// Every node heartbeats through a lease, as a kubelet does; without one the node
	// controller would mark it NotReady and its pods unready.
	waitUntil(t, 30*time.Second, "a lease per node", func() bool {
		var leases localcell.List
		if err := cell.Kube.Do(context.Background(), http.MethodGet, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", nil, &leases); err != nil {
			t.Fatal(err)
		}
		return len(leases.Items) == len(nodes.Items)
	})
}
