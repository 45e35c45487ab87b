package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

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
// lock seen here is stale), and pending operations are resolved by a refresh, so nothing
// is created twice.
func (r *Runner) recover(ctx context.Context, st auto.Stack, log io.Writer) error {
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
	fmt.Fprintf(log, "the last run was interrupted with %d operations pending; refreshing the stack first\n", pending)
	if _, err := st.Refresh(ctx, optrefresh.ClearPendingCreates(), optrefresh.ProgressStreams(log), optrefresh.SuppressProgress()); err != nil {
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
