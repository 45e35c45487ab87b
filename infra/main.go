// Command infra is the Pulumi program's entry point for `pulumi up` with a normal Pulumi
// install (Pulumi.yaml: main: infra/). Everything lives in infra/program.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/infra/program"
)

func main() { pulumi.Run(program.Run) }
