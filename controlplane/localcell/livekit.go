package localcell

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// livekitConfig is the YAML configuration of one media node: loopback only, its own UDP
// range, rooms spread to the node with the fewest, webhooks signed with the cell's key.
func livekitConfig(n LiveKitNode, redis Redis, apiKey, apiSecret, webhookURL string) string {
	webhook := ""
	if webhookURL != "" {
		webhook = fmt.Sprintf("webhook:\n  api_key: %s\n  urls:\n    - %s\n", apiKey, webhookURL)
	}
	return fmt.Sprintf(`port: %d
bind_addresses:
  - 127.0.0.1
rtc:
  port_range_start: %d
  port_range_end: %d
  tcp_port: 0
  node_ip: 127.0.0.1
  use_external_ip: false
  enable_loopback_candidate: true
  stun_servers:
    - 127.0.0.1:3478
redis:
  address: %s
  password: %s
keys:
  %s: %s
prometheus:
  port: %d
node_selector:
  kind: any
  sort_by: rooms
  algorithm: lowest
room:
  empty_timeout: 300
  departure_timeout: 5
logging:
  level: info
%s`, n.Port, n.RTCPortStart, n.RTCPortEnd, redis.Addr, redis.Password, apiKey, apiSecret, n.PrometheusPort, webhook)
}

// startLiveKit starts one livekit-server node and waits for its HTTP endpoint.
func startLiveKit(ctx context.Context, dir string, tools Tools, n *LiveKitNode, redis Redis, apiKey, apiSecret, webhookURL string) (*Process, error) {
	conf := filepath.Join(dir, n.Name+".yaml")
	if err := os.WriteFile(conf, []byte(livekitConfig(*n, redis, apiKey, apiSecret, webhookURL)), 0o600); err != nil {
		return nil, err
	}
	p, err := startProcess(n.Name, dir, tools.bin("livekit-server"), []string{"--config", conf}, nil)
	if err != nil {
		return nil, err
	}
	n.PID = p.PID()
	err = waitFor(ctx, n.Name, 30*time.Second, p, func(ctx context.Context) error {
		return httpOK(ctx, n.URL)
	})
	if err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	return p, nil
}
