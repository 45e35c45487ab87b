package program

import (
	"fmt"
	"strings"

	"github.com/cellplane/cellplane/components/aws"
	"github.com/cellplane/cellplane/components/azure"
	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/gcp"
	"github.com/cellplane/cellplane/components/local"
	"github.com/cellplane/cellplane/infra/spec"
)

// impl is one cloud's cluster implementation: its builder and its sizing table (instance
// types and pool bounds per sizing).
type impl struct {
	build cluster.Builder
	sizes cluster.SizingTable
}

// implFor returns the cluster implementation of s.Cloud, nil when this build has none.
// A cloud component plugs in here with one case.
func implFor(s *Spec) *impl {
	switch s.Cloud {
	case spec.AWS:
		return &impl{aws.NewCluster, aws.Sizes}
	case spec.GCP:
		return &impl{gcp.NewCluster, gcp.Sizes}
	case spec.Azure:
		return &impl{azure.NewCluster, azure.Sizes}
	case spec.Local:
		return &impl{local.Builder(s.LocalCellDir), local.Sizes}
	}
	return nil
}

func clusterImpl(s *Spec) (*impl, error) {
	if i := implFor(s); i != nil {
		return i, nil
	}
	var avail []string
	for _, c := range spec.Clouds {
		if implFor(&Spec{Cloud: c}) != nil {
			avail = append(avail, string(c))
		}
	}
	return nil, ConfigErrors{&ConfigError{Key: KeyCloud, Value: string(s.Cloud),
		Problem: fmt.Sprintf("cloud %s not available yet in this build; available: %s", s.Cloud, strings.Join(avail, ", "))}}
}
