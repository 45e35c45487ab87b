// Package localcell runs the local cell: a real Kubernetes control plane on loopback with
// kwok nodes in the system / media / workers pools, Redis, two livekit-server nodes sharing
// it, and Postgres, all as processes started from the tool cache. `cellplane local` and the
// test harness both stand on it.
package localcell

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Cell describes a running local cell. It is written to <dir>/cell.json (0600: it holds
// keys) once every part answers, and read back by `local status`, `local down`, the
// infrastructure program's local cluster component and the control plane.
type Cell struct {
	Dir        string        `json:"dir"`
	Kubeconfig string        `json:"kubeconfig"` // path of the admin kubeconfig
	APIServer  string        `json:"apiServer"`  // https://127.0.0.1:<port>
	Redis      Redis         `json:"redis"`
	LiveKit    []LiveKitNode `json:"livekit"`
	APIKey     string        `json:"apiKey"`    // LiveKit API key shared by both nodes
	APISecret  string        `json:"apiSecret"` // LiveKit API secret
	Postgres   *PostgresInfo `json:"postgres,omitempty"`
	Nodes      []NodeInfo    `json:"nodes"`
}

// Redis is the cell's Redis (no persistence, flushed at start).
type Redis struct {
	Addr     string `json:"addr"` // 127.0.0.1:<port>
	Password string `json:"password"`
}

// LiveKitNode is one livekit-server process of the media plane.
type LiveKitNode struct {
	Name           string `json:"name"`
	URL            string `json:"url"` // http://127.0.0.1:<port> (signal + API)
	Port           int    `json:"port"`
	RTCPortStart   int    `json:"rtcPortStart"`
	RTCPortEnd     int    `json:"rtcPortEnd"`
	PrometheusPort int    `json:"prometheusPort"`
	PID            int    `json:"pid"`
}

// PostgresInfo locates the cell's Postgres.
type PostgresInfo struct {
	Port        int    `json:"port"`
	DatabaseURL string `json:"databaseUrl"`
}

// NodeInfo is a kwok node of the cell with its pool.
type NodeInfo struct {
	Name string `json:"name"`
	Pool string `json:"pool"`
}

// LiveKitURL is the URL clients use: the first node (both share Redis, so a room created
// through either is reachable through both).
func (c *Cell) LiveKitURL() string {
	if len(c.LiveKit) == 0 {
		return ""
	}
	return c.LiveKit[0].URL
}

// DescriptionFile is the path of the description of the cell in dir.
func DescriptionFile(dir string) string { return filepath.Join(dir, "cell.json") }

// Load reads the description of the cell in dir.
func Load(dir string) (*Cell, error) {
	b, err := os.ReadFile(DescriptionFile(dir))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("no local cell in %s (start one with 'cellplane local up')", dir)
		}
		return nil, err
	}
	var c Cell
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", DescriptionFile(dir), err)
	}
	return &c, nil
}

func (c *Cell) save() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(DescriptionFile(c.Dir), b, 0o600)
}

func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
