// Package program is the infrastructure program of cellplane: it reads the stack config into
// a validated Spec and composes the components by role and cloud. `pulumi up` runs it through
// infra/main.go; the control plane and `cellplane stack` run the very same function inline
// through the Automation API.
package program

import (
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/components/local"
)

// Run is the program. Invalid config fails here, before any resource is registered.
func Run(ctx *pulumi.Context) error {
	s, err := ParseSpec(ctx.Stack(), ctx.GetConfig, os.Getenv)
	if err != nil {
		return err
	}
	return Compose(ctx, s)
}

// Compose builds what s asks for.
func Compose(ctx *pulumi.Context, s *Spec) error {
	_, err := clusterBuilder(s)
	return err
}

func localBuilder(s *Spec) cluster.Builder { return local.Builder(s.LocalCellDir) }
