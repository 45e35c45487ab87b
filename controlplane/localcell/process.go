package localcell

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one part of the cell running as an OS process, tracked by PID file so that a
// later `local down` (another process) can stop it.
type Process struct {
	Name    string
	PIDFile string
	LogFile string
	cmd     *exec.Cmd
	exited  chan struct{}
	err     error
}

// startProcess starts bin with args, its output appended to logFile, in its own process
// group (a Ctrl-C on the terminal reaches the cell's supervisor, which stops the parts in
// order, not every part at once).
func startProcess(name, dir, bin string, args []string, cred *syscall.Credential, extraEnv ...string) (*Process, error) {
	logDir := filepath.Join(dir, "logs")
	pidDir := filepath.Join(dir, "pids")
	for _, d := range []string{logDir, pidDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	p := &Process{Name: name, PIDFile: filepath.Join(pidDir, name+".pid"), LogFile: filepath.Join(logDir, name+".log"), exited: make(chan struct{})}
	logf, err := os.OpenFile(p.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n--- %s starting %s %s\n", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p.cmd = cmd
	// Record the resolved binary: /proc/<pid>/exe names the target of any symlink (Debian's
	// redis-server is one), and that is what a later liveness check compares against.
	exe := bin
	if r, err := filepath.EvalSymlinks(bin); err == nil {
		exe = r
	}
	if err := os.WriteFile(p.PIDFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"+exe+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Running reports whether the process is still alive.
func (p *Process) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits up to grace for the exit, then SIGKILL.
func (p *Process) Stop(grace time.Duration) error {
	defer os.Remove(p.PIDFile)
	if !p.Running() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return nil
}

// exitReason describes why a process ended, with the tail of its log.
func (p *Process) exitReason() string {
	tail, _ := tailFile(p.LogFile, 8)
	return fmt.Sprintf("%s exited (%v); last lines of %s:\n%s", p.Name, p.err, p.LogFile, tail)
}

func tailFile(path string, n int) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    "), nil
}

// readPIDFile returns the PID recorded in path and the binary it was started from.
func readPIDFile(path string) (int, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", err
	}
	fields := strings.SplitN(strings.TrimSpace(string(b)), "\n", 2)
	pid, err := strconv.Atoi(strings.TrimSpace(fields[0]))
	if err != nil {
		return 0, "", fmt.Errorf("%s: bad pid: %w", path, err)
	}
	bin := ""
	if len(fields) > 1 {
		bin = strings.TrimSpace(fields[1])
	}
	return pid, bin, nil
}

// pidAlive reports whether pid runs bin (so a PID reused by an unrelated process after a
// reboot is treated as stale, never signalled).
func pidAlive(pid int, bin string) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	if bin == "" {
		return true
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return true // cannot tell (not Linux or not ours): assume alive
	}
	return filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == filepath.Base(bin)
}

// FreePort asks the kernel for a free TCP port on loopback.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// PortFree reports whether port can be bound on loopback (TCP).
func PortFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// waitFor polls check until it succeeds, the process dies, or the deadline passes.
func waitFor(ctx context.Context, what string, timeout time.Duration, p *Process, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if p != nil && !p.Running() {
			return errors.New(p.exitReason())
		}
		if last = check(ctx); last == nil {
			return nil
		}
		var f fatal
		if errors.As(last, &f) {
			return f.error
		}
		select {
		case <-ctx.Done():
			if p != nil {
				tail, _ := tailFile(p.LogFile, 8)
				return fmt.Errorf("%s not ready after %s: %v; last lines of %s:\n%s", what, timeout, last, p.LogFile, tail)
			}
			return fmt.Errorf("%s not ready after %s: %v", what, timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// serviceUser returns the credential to run servers that refuse root (Postgres) under,
// and nil when we are not root.
func serviceUser() (*syscall.Credential, int, int, error) {
	if os.Geteuid() != 0 {
		return nil, -1, -1, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid, nil
	}
	return nil, 0, 0, errors.New("running as root, and neither a 'postgres' nor a 'nobody' user exists to run Postgres as")
}

// fatal marks a readiness check failure that waiting will not fix (a part has exited).
type fatal struct{ error }
