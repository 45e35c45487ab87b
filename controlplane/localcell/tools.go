package localcell

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Tools locates the binaries of the tool cache. Versions are pinned in one place,
// deploy/local/tools.sh, which also prints where each version lives (--path).
type Tools struct {
	bins       map[string]string
	kwokStages string
}

// toolBuild says which tools.sh target builds each binary, for error messages.
var toolBuild = map[string]string{
	"etcd": "etcd", "kube-apiserver": "kubernetes", "kube-controller-manager": "kubernetes",
	"kube-scheduler": "kubernetes", "kubectl": "kubernetes", "kwok": "kwok",
	"livekit-server": "livekit", "redis-server": "--packages",
}

// FindTools finds every binary the cell needs, in the tool cache first, then on PATH.
func FindTools() (Tools, error) {
	t := Tools{bins: map[string]string{}}
	dirs := ToolCacheDirs()
	var missing []string
	for name := range toolBuild {
		p := ""
		for _, d := range dirs {
			if c := filepath.Join(d, name); isExecutable(c) {
				p = c
				break
			}
		}
		if p == "" {
			p, _ = exec.LookPath(name)
		}
		if p == "" {
			missing = append(missing, name)
			continue
		}
		t.bins[name] = p
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return t, fmt.Errorf("missing tools: %s; build them with: %s", strings.Join(missing, ", "), buildCommand(missing))
	}
	stages := filepath.Join(filepath.Dir(filepath.Dir(t.bins["kwok"])), "stages")
	if _, err := os.Stat(stages); err != nil {
		return t, fmt.Errorf("kwok stages missing in %s; rebuild with: deploy/local/tools.sh kwok", stages)
	}
	t.kwokStages = stages
	return t, nil
}

func (t Tools) bin(name string) string { return t.bins[name] }

// Bin returns the path of a tool found by FindTools.
func (t Tools) Bin(name string) string { return t.bins[name] }

func buildCommand(missing []string) string {
	seen := map[string]bool{}
	var targets []string
	for _, m := range missing {
		if b := toolBuild[m]; !seen[b] {
			seen[b] = true
			targets = append(targets, b)
		}
	}
	return "deploy/local/tools.sh " + strings.Join(targets, " ")
}

// RepoRoot finds the repository root (the directory holding go.mod and deploy/local)
// from the working directory upwards.
func RepoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "deploy", "local", "tools.sh")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("not inside the cellplane repository (no deploy/local/tools.sh above the working directory)")
		}
		d = parent
	}
}

// ToolCacheDirs lists the bin directories of the pinned tool versions, as
// deploy/local/tools.sh --path prints them (nil outside the repository).
func ToolCacheDirs() []string {
	root, err := RepoRoot()
	if err != nil {
		return nil
	}
	out, err := exec.Command(filepath.Join(root, "deploy", "local", "tools.sh"), "--path").Output()
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(out)), ":")
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
