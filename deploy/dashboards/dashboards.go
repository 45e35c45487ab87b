// Package dashboards carries the Grafana dashboards of a cell. The platform component loads
// each as a ConfigMap the Grafana sidecar picks up.
package dashboards

import (
	"embed"
	"io/fs"
)

//go:embed *.json
var files embed.FS

// All returns every dashboard by file name.
func All() (map[string][]byte, error) {
	entries, err := fs.Glob(files, "*.json")
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := files.ReadFile(e)
		if err != nil {
			return nil, err
		}
		out[e] = b
	}
	return out, nil
}
