package localcell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Options configures a cell. Zero ports mean "any free port".
type Options struct {
	Dir           string // state directory (.local by default in the CLI)
	APIServerPort int
	LiveKitPort   int // the first media node's port; the second takes any free port
	PostgresPort  int
	Postgres      bool   // also run Postgres (the control plane's database)
	WebhookURL    string // where the media nodes send their webhooks
	Logf          func(format string, args ...any)
}

// Errors a caller may want to tell apart (the CLI maps them to exit codes).
var (
	ErrAlreadyRunning = errors.New("a local cell is already running")
	ErrPortBusy       = errors.New("port in use")
)

// Running is a cell started by this process.
type Running struct {
	*Cell
	procs      []*Process // in start order
	Kube       *KubeClient
	webhookURL string
}

// Start brings up every part of the cell and returns once all of them answer. On any
// failure it stops what it started and returns an error naming the part.
func Start(ctx context.Context, o Options) (*Running, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if o.Postgres && os.Geteuid() == 0 {
		// Postgres refuses root and runs as an unprivileged user, which must be able to
		// pass through the state directory to reach its data (the files in it stay 0600).
		if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o001 == 0 {
			_ = os.Chmod(dir, st.Mode().Perm()|0o001)
		}
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := checkNotRunning(dir, logf); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		port int
		what string
		flag string
	}{{o.APIServerPort, "kube-apiserver", "--apiserver-port"}, {o.LiveKitPort, "livekit", "--livekit-port"}, {o.PostgresPort, "postgres", "--postgres-port"}} {
		if p.port != 0 && !PortFree(p.port) {
			return nil, fmt.Errorf("%w: port %d (%s) is already in use on 127.0.0.1; free it or pass %s 0 for any free port", ErrPortBusy, p.port, p.what, p.flag)
		}
	}
	tools, err := FindTools()
	if err != nil {
		return nil, err
	}
	_ = os.Remove(DescriptionFile(dir))

	r := &Running{Cell: &Cell{Dir: dir}, webhookURL: o.WebhookURL}
	fail := func(err error) (*Running, error) {
		r.Stop()
		return nil, err
	}
	start := time.Now()

	apiPort := o.APIServerPort
	if apiPort == 0 {
		apiPort, _ = FreePort()
	}
	kp, err := startKube(ctx, dir, tools, apiPort, logf)
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, kp.procs...)
	r.Kube = kp.client
	r.Kubeconfig, r.APIServer = kp.kubeconfig, kp.server
	for _, p := range nodePools {
		for i := 1; i <= p.count; i++ {
			r.Nodes = append(r.Nodes, NodeInfo{Name: fmt.Sprintf("%s-%d", p.pool, i), Pool: p.pool})
		}
	}
	logf("kubernetes ready: %d nodes in pools system, media, workers (%.1fs)", len(r.Nodes), time.Since(start).Seconds())

	redisPort, _ := FreePort()
	r.Redis = Redis{Addr: fmt.Sprintf("127.0.0.1:%d", redisPort), Password: randomToken(16)}
	logf("starting redis on %s", r.Redis.Addr)
	rp, err := startRedis(ctx, dir, tools, redisPort, r.Redis.Password)
	if err != nil {
		return fail(fmt.Errorf("redis: %w", err))
	}
	r.procs = append(r.procs, rp)

	r.APIKey, r.APISecret, err = ensureLiveKitKeys(dir)
	if err != nil {
		return fail(err)
	}
	// The media nodes keep their ports across restarts when they are free, so the URL the
	// control plane registered for this cell stays true.
	saved := loadPorts(dir)
	udpBase := saved.UDPBase
	if udpBase == 0 || !udpFree(udpBase, 200) {
		udpBase = freeUDPRange(200)
	}
	ports := savedPorts{UDPBase: udpBase}
	for i := range 2 {
		port := o.LiveKitPort
		if i > 0 || port == 0 {
			port = reusePort(saved.LiveKit, i)
		}
		prom := reusePort(saved.Prometheus, i)
		ports.LiveKit = append(ports.LiveKit, port)
		ports.Prometheus = append(ports.Prometheus, prom)
		n := LiveKitNode{
			Name: fmt.Sprintf("livekit-%c", 'a'+i), Port: port, URL: fmt.Sprintf("http://127.0.0.1:%d", port),
			RTCPortStart: udpBase + i*100, RTCPortEnd: udpBase + i*100 + 99, PrometheusPort: prom,
		}
		logf("starting %s on %s (RTC UDP %d-%d)", n.Name, n.URL, n.RTCPortStart, n.RTCPortEnd)
		p, err := startLiveKit(ctx, dir, tools, &n, r.Redis, r.APIKey, r.APISecret, o.WebhookURL)
		if err != nil {
			return fail(fmt.Errorf("livekit: %w", err))
		}
		r.procs = append(r.procs, p)
		r.LiveKit = append(r.LiveKit, n)
	}

	_ = savePorts(dir, ports)

	if o.Postgres {
		port := o.PostgresPort
		if port == 0 {
			port, _ = FreePort()
		}
		logf("starting postgres on 127.0.0.1:%d (data in %s)", port, filepath.Join(dir, "postgres"))
		pg, err := StartPostgres(ctx, dir, filepath.Join(dir, "postgres"), port)
		if err != nil {
			return fail(fmt.Errorf("postgres: %w", err))
		}
		r.procs = append(r.procs, pg.Process)
		if err := pg.CreateDatabase(ctx, "cellplane"); err != nil {
			return fail(fmt.Errorf("postgres: %w", err))
		}
		r.Postgres = &PostgresInfo{Port: port, DatabaseURL: pg.URL("cellplane")}
	}
	if err := r.save(); err != nil {
		return fail(err)
	}
	logf("local cell ready in %.1fs", time.Since(start).Seconds())
	return r, nil
}

// Processes returns the cell's processes in start order.
func (r *Running) Processes() []*Process { return r.procs }

// Process returns the part called name, or nil.
func (r *Running) Process(name string) *Process {
	for _, p := range r.procs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Stop stops every part in reverse start order and removes the cell's description.
func (r *Running) Stop() {
	for i := len(r.procs) - 1; i >= 0; i-- {
		_ = r.procs[i].Stop(stopGrace(r.procs[i].Name))
	}
	_ = os.Remove(DescriptionFile(r.Dir))
}

// stopGrace is how long a part may take to exit after SIGTERM before it is killed.
// LiveKit drains on SIGTERM until its rooms are empty; stopping the whole cell does not
// wait for that.
func stopGrace(part string) time.Duration {
	if strings.HasPrefix(part, "livekit") {
		return 3 * time.Second
	}
	return 10 * time.Second
}

// Wait blocks until ctx is done (nil) or a part exits on its own (an error naming it).
func (r *Running) Wait(ctx context.Context) error {
	for {
		for _, p := range r.procs {
			if !p.Running() {
				return errors.New(p.exitReason())
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Env returns the variables of the .local/env contract the cell itself provides.
func (c *Cell) Env() map[string]string {
	env := map[string]string{
		"KUBECONFIG":           c.Kubeconfig,
		"LIVEKIT_URL":          strings.Replace(c.LiveKitURL(), "http://", "ws://", 1),
		"LIVEKIT_API_KEY":      c.APIKey,
		"LIVEKIT_API_SECRET":   c.APISecret,
		"REDIS_ADDR":           c.Redis.Addr,
		"CELLPLANE_LOCAL_CELL": c.Dir,
	}
	if c.Postgres != nil {
		env["DATABASE_URL"] = c.Postgres.DatabaseURL
	}
	return env
}

// WriteEnv writes env as a sourceable file (0600: it holds keys).
func WriteEnv(path string, env map[string]string) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# written by 'cellplane local up'; source it: . .local/env\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`))
	}
	return writeFileAtomic(path, []byte(b.String()), 0o600)
}

// ensureLiveKitKeys returns the cell's LiveKit API key and secret, generating them on the
// first start (secret of 48 characters; LiveKit wants 32 or more).
func ensureLiveKitKeys(dir string) (string, string, error) {
	path := filepath.Join(dir, "livekit-keys")
	if b, err := os.ReadFile(path); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 && len(f[1]) >= 32 {
			return f[0], f[1], nil
		}
	}
	key, secret := "API"+randomToken(6), randomToken(24)
	return key, secret, os.WriteFile(path, []byte(key+" "+secret+"\n"), 0o600)
}

type savedPorts struct {
	LiveKit    []int `json:"livekit"`
	Prometheus []int `json:"prometheus"`
	UDPBase    int   `json:"udpBase"`
}

func loadPorts(dir string) savedPorts {
	var p savedPorts
	if b, err := os.ReadFile(filepath.Join(dir, "ports.json")); err == nil {
		_ = json.Unmarshal(b, &p)
	}
	return p
}

func savePorts(dir string, p savedPorts) error {
	b, _ := json.Marshal(p)
	return os.WriteFile(filepath.Join(dir, "ports.json"), b, 0o644)
}

// reusePort returns ports[i] when it is set and free, else any free port.
func reusePort(ports []int, i int) int {
	if i < len(ports) && ports[i] > 0 && PortFree(ports[i]) {
		return ports[i]
	}
	p, _ := FreePort()
	return p
}

func udpFree(base, n int) bool {
	for _, p := range []int{base, base + n/2, base + n - 1} {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// freeUDPRange finds n consecutive UDP ports whose ends bind on loopback.
func freeUDPRange(n int) int {
	for range 50 {
		if base := 30000 + rand.IntN(150)*200; udpFree(base, n) {
			return base
		}
	}
	return 30000
}

// lockDir takes an exclusive lock on dir so two starts cannot race.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: another 'cellplane local up' is starting a cell in %s", ErrAlreadyRunning, dir)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// RestartLiveKit starts media node name again with its configuration (after a test
// drained or stopped it), waiting until it answers.
func (r *Running) RestartLiveKit(ctx context.Context, name string) error {
	for i, n := range r.LiveKit {
		if n.Name != name {
			continue
		}
		old := r.Process(name)
		if old != nil && old.Running() {
			return fmt.Errorf("%s is still running (pid %d)", name, old.PID())
		}
		tools, err := FindTools()
		if err != nil {
			return err
		}
		p, err := startLiveKit(ctx, r.Dir, tools, &n, r.Redis, r.APIKey, r.APISecret, r.webhookURL)
		if err != nil {
			return err
		}
		r.LiveKit[i] = n
		for j, q := range r.procs {
			if q.Name == name {
				r.procs[j] = p
			}
		}
		return r.save()
	}
	return fmt.Errorf("no media node %q", name)
}
