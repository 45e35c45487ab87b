package app

import (
	"context"
	"fmt"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/localcell"
)

// LocalClusterName is the name of the local cell's shared cluster record.
const LocalClusterName = "cell-local-local-1"

// EnsureLocalCluster registers the local cell as the shared cluster of cloud local, region
// local (with its LiveKit URL and keys), unless a cluster of that name exists. apiURL is
// what the cell's orgs' routes give as their API URL.
func EnsureLocalCluster(ctx context.Context, clusters controlplane.ClusterService, cell *localcell.Cell, apiURL string, capacity int) (*controlplane.Cluster, error) {
	existing, err := clusters.FindClusters(ctx, controlplane.ClusterFilter{Cloud: "local", Region: "local"})
	if err != nil {
		return nil, err
	}
	for _, c := range existing {
		if c.Name == LocalClusterName {
			return c, nil
		}
	}
	if cell.LiveKitURL() == "" {
		return nil, fmt.Errorf("the local cell has no LiveKit node")
	}
	return clusters.CreateCluster(ctx, controlplane.ClusterCreate{
		Name:             LocalClusterName,
		Cloud:            "local",
		Region:           "local",
		Kind:             controlplane.ClusterShared,
		APIURL:           apiURL,
		LiveKitURL:       cell.LiveKitURL(),
		LiveKitAPIKey:    cell.APIKey,
		LiveKitAPISecret: cell.APISecret,
		Capacity:         &capacity,
		Status:           controlplane.ClusterActive,
		Stack:            LocalClusterName,
	})
}
