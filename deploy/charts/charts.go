// Package charts carries the Helm charts of our own product inside the binary, so the
// infrastructure program deploys the chart of the very build that runs it, from any
// working directory.
package charts

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

//go:embed all:sim-platform
var files embed.FS

// SimPlatform is the name of the chart of the sim-engine and agent workers.
const SimPlatform = "sim-platform"

// Dir writes the chart named name to a directory named by its content hash under root (the
// system temp dir when root is empty) and returns that directory. The same chart always
// lands in the same place, so the path a release records changes only with the chart.
func Dir(name, root string) (string, error) {
	sub, err := fs.Sub(files, name)
	if err != nil {
		return "", err
	}
	var paths []string
	if err := fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return err
	}); err != nil {
		return "", err
	}
	if len(paths) == 0 {
		return "", fmt.Errorf("chart %q is not in this build", name)
	}
	sort.Strings(paths)
	h := sha256.New()
	contents := map[string][]byte{}
	for _, p := range paths {
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return "", err
		}
		contents[p] = b
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
	}
	if root == "" {
		root = filepath.Join(os.TempDir(), "cellplane-charts")
	}
	dir := filepath.Join(root, name+"-"+hex.EncodeToString(h.Sum(nil))[:12])
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(root, "."+name+"-")
	if err != nil {
		return "", err
	}
	for _, p := range paths {
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, contents[p], 0o644); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		if _, statErr := os.Stat(filepath.Join(dir, "Chart.yaml")); statErr == nil {
			return dir, nil // another process wrote the same chart first
		}
		return "", err
	}
	return dir, nil
}
