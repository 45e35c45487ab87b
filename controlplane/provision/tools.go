package provision

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cellplane/cellplane/controlplane/localcell"
)

// Tools locates the pulumi CLI and the provider plugins.
type Tools struct {
	PulumiRoot string // directory with bin/pulumi
	PluginDir  string // directory with pulumi-resource-kubernetes
	// Kubectl is the kubectl binary crash recovery uses to clear a Helm operation a dead
	// run left pending ("" when there is none: such a release then needs a hand).
	Kubectl string
}

// FindTools finds the pinned tools in the tool cache (deploy/local/tools.sh --path), then on
// PATH. Plugins are never downloaded: the runner disables automatic acquisition.
func FindTools() (Tools, error) {
	dirs := append(localcell.ToolCacheDirs(), filepath.SplitList(os.Getenv("PATH"))...)
	var t Tools
	for _, d := range dirs {
		if t.PulumiRoot == "" && executable(filepath.Join(d, "pulumi")) {
			t.PulumiRoot = filepath.Dir(d)
		}
		if t.PluginDir == "" && executable(filepath.Join(d, "pulumi-resource-kubernetes")) {
			t.PluginDir = d
		}
		if t.Kubectl == "" && executable(filepath.Join(d, "kubectl")) {
			t.Kubectl = filepath.Join(d, "kubectl")
		}
	}
	var missing []string
	if t.PulumiRoot == "" {
		missing = append(missing, "pulumi")
	}
	if t.PluginDir == "" {
		missing = append(missing, "pulumi-kubernetes")
	}
	if len(missing) > 0 {
		return t, fmt.Errorf("missing tools: %s; build them with: deploy/local/tools.sh %s", strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	return t, nil
}

func executable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// RepoRoot finds the cellplane repository above the working directory (Pulumi.yaml beside
// deploy/local/tools.sh).
func RepoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "deploy", "local", "tools.sh")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "Pulumi.yaml")); err == nil {
				return d, nil
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("not inside the cellplane repository")
		}
		d = parent
	}
}
