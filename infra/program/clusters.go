package program

import (
	"fmt"
	"strings"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/infra/spec"
)

// builderFor returns the cluster implementation of s.Cloud, nil when this build has none.
// A cloud component plugs in here with one case (its package exports a cluster.Builder).
func builderFor(s *Spec) cluster.Builder {
	switch s.Cloud {
	// case spec.AWS:   return aws.NewCluster
	// case spec.GCP:   return gcp.NewCluster
	// case spec.Azure: return azure.NewCluster
	case spec.Local:
		return localBuilder(s)
	}
	return nil
}

func clusterBuilder(s *Spec) (cluster.Builder, error) {
	if b := builderFor(s); b != nil {
		return b, nil
	}
	var avail []string
	for _, c := range spec.Clouds {
		if builderFor(&Spec{Cloud: c}) != nil {
			avail = append(avail, string(c))
		}
	}
	return nil, &ConfigError{Key: KeyCloud, Value: string(s.Cloud),
		Problem: fmt.Sprintf("cloud %s not available yet in this build; available: %s", s.Cloud, strings.Join(avail, ", "))}
}
