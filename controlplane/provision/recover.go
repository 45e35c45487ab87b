package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

var stackNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$`)

// validateStackName keeps stack names to what names a workspace directory safely.
func validateStackName(s string) error {
	if !stackNameRE.MatchString(s) {
		return fmt.Errorf("stack name %q: allowed: lowercase letters, digits and '-' (e.g. tenant-acme, cell-aws-us-east-1-1)", s)
	}
	return nil
}

// recover readies a stack left behind by an interrupted run: the lock of a run that no
// longer exists is removed (the caller never runs two operations on one stack at once, so a
// lock seen here is stale) once what is left of that run's engine on this host is stopped,
// a Helm operation it left pending is cleared, and pending operations are resolved by a
// refresh, so nothing is created twice.
func (r *Runner) recover(ctx context.Context, st auto.Stack, log io.Writer) error {
	if err := stopOrphans(ctx, r.WorkspaceDir(st.Name()), log); err != nil {
		return err
	}
	if dir, ok := strings.CutPrefix(r.o.BackendURL, "file://"); ok {
		locks, _ := filepath.Glob(filepath.Join(dir, ".pulumi", "locks", "*", "*", st.Name(), "*.json"))
		for _, l := range locks {
			fmt.Fprintf(log, "removing the stale lock of an interrupted run: %s\n", filepath.Base(l))
			if err := os.Remove(l); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	pending, err := pendingOperations(ctx, st)
	if err != nil || pending == 0 {
		return err
	}
	if err := r.clearPendingHelm(ctx, st, log); err != nil {
		return err
	}
	imports, err := pendingCreates(ctx, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "the last run was interrupted with %d operations pending; refreshing the stack first\n", pending)
	// A create that may have happened is imported by its ID (the refresh reads it back, or
	// drops it when it never came to be): dropping it would create it again, and a Helm
	// release cannot be installed twice under one name. Creates whose ID cannot be known
	// are cleared.
	opts := []optrefresh.Option{optrefresh.ClearPendingCreates(), optrefresh.ProgressStreams(log), optrefresh.SuppressProgress()}
	if len(imports) > 0 {
		for _, c := range imports {
			fmt.Fprintf(log, "importing the interrupted create of %s as %s\n", c.URN, c.ID)
		}
		opts = append(opts, optrefresh.ImportPendingCreates(imports))
	}
	if _, err := st.Refresh(ctx, opts...); err != nil {
		return classify(ctx, fmt.Errorf("recovering stack %s: %w", st.Name(), err))
	}
	if n, err := pendingOperations(ctx, st); err != nil || n == 0 {
		return err
	}
	// What a refresh cannot settle (pending updates and deletes) is dropped from the state:
	// the next update compares the program with the refreshed resources anyway.
	dep, err := st.Export(ctx)
	if err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(dep.Deployment, &raw); err != nil {
		return err
	}
	delete(raw, "pending_operations")
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	return st.Import(ctx, apitype.UntypedDeployment{Version: dep.Version, Deployment: b})
}

func pendingOperations(ctx context.Context, st auto.Stack) (int, error) {
	dep, err := st.Export(ctx)
	if err != nil {
		return 0, classify(ctx, err)
	}
	if len(dep.Deployment) == 0 {
		return 0, nil
	}
	var d struct {
		Pending []json.RawMessage `json:"pending_operations"`
	}
	if err := json.Unmarshal(dep.Deployment, &d); err != nil {
		return 0, fmt.Errorf("reading the state of %s: %w", st.Name(), err)
	}
	return len(d.Pending), nil
}

// pendingCreates returns the pending creates of Kubernetes objects as imports by their
// provider ID (namespace/name, or name).
func pendingCreates(ctx context.Context, st auto.Stack) ([]optrefresh.PendingCreate, error) {
	dep, err := st.Export(ctx)
	if err != nil {
		return nil, classify(ctx, err)
	}
	if len(dep.Deployment) == 0 {
		return nil, nil
	}
	var d struct {
		Pending []struct {
			Type     string `json:"type"`
			Resource struct {
				URN    string         `json:"urn"`
				Type   string         `json:"type"`
				Inputs map[string]any `json:"inputs"`
			} `json:"resource"`
		} `json:"pending_operations"`
	}
	if err := json.Unmarshal(dep.Deployment, &d); err != nil {
		return nil, fmt.Errorf("reading the state of %s: %w", st.Name(), err)
	}
	var imports []optrefresh.PendingCreate
	for _, op := range d.Pending {
		if op.Type != "creating" || !strings.HasPrefix(op.Resource.Type, "kubernetes:") {
			continue
		}
		if id := kubernetesID(op.Resource.Type, op.Resource.Inputs); id != "" {
			imports = append(imports, optrefresh.PendingCreate{URN: op.Resource.URN, ID: id})
		}
	}
	return imports, nil
}

// kubernetesID is the Kubernetes provider's ID of an object from its inputs: a Helm
// release names itself at the top level, any other object in its metadata.
func kubernetesID(typ string, inputs map[string]any) string {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	var ns, name string
	if strings.HasPrefix(typ, "kubernetes:helm.sh/") {
		ns, name = str(inputs, "namespace"), str(inputs, "name")
	} else if meta, ok := inputs["metadata"].(map[string]any); ok {
		ns, name = str(meta, "namespace"), str(meta, "name")
	}
	switch {
	case name == "" || strings.HasPrefix(typ, "kubernetes:helm.sh/") && ns == "":
		return ""
	case ns == "":
		return name
	}
	return ns + "/" + name
}

// stopOrphans stops what is left on this host of an interrupted run of the stack: when
// the process driving the engine dies, the pulumi CLI and its provider plugins (each in a
// process group of its own) are orphaned; a plugin lives on until its health check gives
// up, minutes later, and may still be applying a change. They are found by their working
// directory, the stack's workspace, and killed, so that only the next run touches the stack.
func stopOrphans(ctx context.Context, workspace string, log io.Writer) error {
	orphans := orphanedEngine(workspace)
	if len(orphans) == 0 {
		return nil
	}
	fmt.Fprintf(log, "stopping %d engine processes an interrupted run left behind\n", len(orphans))
	for _, pid := range orphans {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for range 100 {
		if len(orphanedEngine(workspace)) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("engine processes of an interrupted run of %s do not stop", filepath.Base(workspace))
}

// orphanedEngine lists the live pulumi processes working in dir whose parent is gone.
func orphanedEngine(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces: split after the last ')'.
		open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || close < open || !strings.HasPrefix(string(b[open+1:close]), "pulumi") {
			continue
		}
		f := strings.Fields(string(b[close+1:]))
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err != nil || cwd != dir {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == 1 || !alive(ppid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// clearPendingHelm clears what a killed Helm operation left behind. Helm records an
// install or upgrade as pending before it starts and refuses every later operation on
// the release while such a record exists; the documented way out is to delete that record.
// A pending install then no longer exists (its objects carry the release's ownership, so the
// next install adopts them); a pending upgrade falls back to the last deployed revision.
func (r *Runner) clearPendingHelm(ctx context.Context, st auto.Stack, log io.Writer) error {
	dep, err := st.Export(ctx) // secrets in clear: the providers' kubeconfigs
	if err != nil {
		return classify(ctx, err)
	}
	type res struct {
		URN      string         `json:"urn"`
		Type     string         `json:"type"`
		ID       string         `json:"id"`
		Inputs   map[string]any `json:"inputs"`
		Provider string         `json:"provider"`
	}
	var d struct {
		Resources []res `json:"resources"`
		Pending   []struct {
			Resource res `json:"resource"`
		} `json:"pending_operations"`
	}
	if err := json.Unmarshal(dep.Deployment, &d); err != nil {
		return fmt.Errorf("reading the state of %s: %w", st.Name(), err)
	}
	for _, op := range d.Pending {
		if !strings.HasPrefix(op.Resource.Type, "kubernetes:helm.sh/") {
			continue
		}
		ns, _ := op.Resource.Inputs["namespace"].(string)
		name, _ := op.Resource.Inputs["name"].(string)
		if ns == "" || name == "" {
			continue
		}
		if r.o.Tools.Kubectl == "" {
			fmt.Fprintf(log, "warning: no kubectl to clear a pending Helm operation of %s/%s\n", ns, name)
			continue
		}
		kubeconfig := ""
		for _, p := range d.Resources {
			if p.URN+"::"+p.ID == op.Resource.Provider {
				kubeconfig = plainString(p.Inputs["kubeconfig"])
			}
		}
		args := []string{"--namespace", ns, "delete", "secret", "--ignore-not-found",
			"--selector", "owner=helm,name=" + name + ",status in (pending-install,pending-upgrade,pending-rollback)"}
		if kubeconfig != "" {
			f, err := os.CreateTemp("", "cellplane-kubeconfig-")
			if err != nil {
				return err
			}
			defer os.Remove(f.Name())
			if _, err := f.WriteString(kubeconfig); err != nil {
				f.Close()
				return err
			}
			f.Close()
			args = append([]string{"--kubeconfig", f.Name()}, args...)
		}
		out, err := exec.CommandContext(ctx, r.o.Tools.Kubectl, args...).CombinedOutput()
		if err != nil {
			return classify(ctx, fmt.Errorf("clearing the pending Helm operation of %s/%s: %v: %s", ns, name, err, out))
		}
		if msg := strings.TrimSpace(string(out)); msg != "" {
			fmt.Fprintf(log, "cleared the Helm operation the interrupted run left pending on %s/%s: %s\n", ns, name, msg)
		}
	}
	return nil
}

// plainString reads a string input of an exported state: plain, or a secret shown in
// clear ({"4dabf18193072939515e22adb298388d": ..., "plaintext": "<JSON>"}).
func plainString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if p, ok := v["plaintext"].(string); ok {
			var s string
			if json.Unmarshal([]byte(p), &s) == nil {
				return s
			}
		}
	}
	return ""
}
