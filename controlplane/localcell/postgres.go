package localcell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a Postgres server on loopback with its data directory under the cell's dir.
type Postgres struct {
	Port    int
	DataDir string
	Process *Process
}

// PostgresBin finds the directory holding initdb and postgres.
func PostgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	return "", errors.New("postgres server binaries (initdb, postgres) not found; run deploy/local/tools.sh --packages (or apt-get install postgresql)")
}

// URL returns the connection URL of database db.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://cellplane@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// StartPostgres initialises dataDir on first use and starts the server on port. Durability
// settings are relaxed: this is a development and test database.
func StartPostgres(ctx context.Context, stateDir, dataDir string, port int) (*Postgres, error) {
	bin, err := PostgresBin()
	if err != nil {
		return nil, err
	}
	cred, uid, gid, err := serviceUser()
	if err != nil {
		return nil, err
	}
	if uid >= 0 {
		if err := checkTraversable(dataDir, uid); err != nil {
			return nil, err
		}
	}
	sockDir := filepath.Join(stateDir, "run")
	if err := os.MkdirAll(sockDir, 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err != nil {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		if uid >= 0 {
			if err := os.Chown(dataDir, uid, gid); err != nil {
				return nil, err
			}
		}
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", dataDir, "-U", "cellplane", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C")
		cmd.SysProcAttr = sysProcAttr(cred)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb %s: %v\n%s", dataDir, err, out)
		}
	}
	if uid >= 0 {
		_ = os.Chown(sockDir, uid, gid)
	}
	// A postmaster.pid left by a killed server would stop the new one from starting.
	if pid, _, err := readPostmasterPID(dataDir); err == nil && !pidAlive(pid, "") {
		_ = os.Remove(filepath.Join(dataDir, "postmaster.pid"))
	}
	proc, err := startProcess("postgres", stateDir, filepath.Join(bin, "postgres"), []string{
		"-D", dataDir, "-p", strconv.Itoa(port), "-k", sockDir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "log_min_messages=warning",
	}, cred)
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Port: port, DataDir: dataDir, Process: proc}
	err = waitFor(ctx, "postgres", 30*time.Second, proc, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, pg.URL("postgres"))
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
	if err != nil {
		_ = proc.Stop(5 * time.Second)
		return nil, err
	}
	return pg, nil
}

// CreateDatabase creates db if it does not exist.
func (p *Postgres) CreateDatabase(ctx context.Context, db string) error {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
	return err
}

func readPostmasterPID(dataDir string) (int, string, error) {
	return readPIDFile(filepath.Join(dataDir, "postmaster.pid"))
}

func (p *Postgres) ping(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// checkTraversable makes sure the unprivileged user Postgres runs as (it refuses root) can
// reach dir: every existing parent must be searchable by others or owned by that user.
func checkTraversable(dir string, uid int) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err == nil {
			owner := -1
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				owner = int(sys.Uid)
			}
			if owner != uid && st.Mode().Perm()&0o001 == 0 {
				return fmt.Errorf("postgres runs as an unprivileged user (uid %d; it refuses root) and cannot reach %s: directory %s is not searchable by others; run 'chmod o+x %s' or choose a state directory elsewhere", uid, dir, d, d)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
