package localcell

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// startRedis starts Redis on loopback with a password and no persistence: every start is
// an empty, flushed Redis.
func startRedis(ctx context.Context, dir string, tools Tools, port int, password string) (*Process, error) {
	p, err := startProcess("redis", dir, tools.bin("redis-server"), []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "yes",
		"--save", "", "--appendonly", "no", "--dir", dir, "--requirepass", password,
		"--daemonize", "no", "--loglevel", "warning",
	}, nil)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	err = waitFor(ctx, "redis", 20*time.Second, p, func(ctx context.Context) error {
		return RedisCommand(ctx, addr, password, "FLUSHALL")
	})
	if err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	return p, nil
}

// RedisCommand authenticates and runs one command (arguments without spaces), expecting
// a simple-string or integer reply.
func RedisCommand(ctx context.Context, addr, password string, args ...string) error {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	send := func(parts ...string) (string, error) {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(parts))
		for _, p := range parts {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(p), p)
		}
		if _, err := c.Write([]byte(b.String())); err != nil {
			return "", err
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "-") {
			return "", fmt.Errorf("redis: %s", line[1:])
		}
		return line, nil
	}
	if password != "" {
		if _, err := send("AUTH", password); err != nil {
			return err
		}
	}
	_, err = send(args...)
	return err
}
