package provision

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/infra/program"
	"github.com/cellplane/cellplane/infra/spec"
)

// The program declares a tier B org's Redis ACL user as data (the redisAcl output; see
// components/tenant.ACLRule for why); the runner applies it to the cell's Redis after an
// up and deletes the user after a destroy. The cell's admin credentials come from the cell
// stack's own outputs.

func (r *Runner) applyRedisACL(ctx context.Context, run controlplane.StackRun, outs map[string]controlplane.StackOutput) error {
	rule, _ := outs[program.OutRedisACL].Value.(string)
	user, _ := outs[program.OutRedisUser].Value.(string)
	cell, _ := outs[program.OutCell].Value.(string)
	if rule == "" || user == "" || cell == "" {
		return nil // tier A: the org owns its Redis
	}
	c, err := r.cellRedis(ctx, run, cell)
	if c == nil || err != nil {
		return err
	}
	defer c.Close()
	args := []any{"ACL", "SETUSER", user}
	for _, f := range strings.Fields(rule) {
		args = append(args, f)
	}
	if err := c.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("applying the Redis ACL user %s: %w", user, err)
	}
	fmt.Fprintf(logOf(run), "Redis ACL user %s applied (keys and channels %s*)\n", user, outs[program.OutKeyPrefix].Value)
	return nil
}

func (r *Runner) deleteRedisACL(ctx context.Context, run controlplane.StackRun, before map[string]controlplane.StackOutput) error {
	rule, _ := before[program.OutRedisACL].Value.(string)
	user, _ := before[program.OutRedisUser].Value.(string)
	cell, _ := before[program.OutCell].Value.(string)
	if rule == "" || user == "" || cell == "" {
		return nil
	}
	c, err := r.cellRedis(ctx, run, cell)
	if c == nil || err != nil {
		return err
	}
	defer c.Close()
	if err := c.Do(ctx, "ACL", "DELUSER", user).Err(); err != nil {
		return fmt.Errorf("deleting the Redis ACL user %s: %w", user, err)
	}
	fmt.Fprintf(logOf(run), "Redis ACL user %s deleted\n", user)
	return nil
}

// cellRedis connects to the cell's Redis as its admin. It returns nil when the cell's Redis
// is not the runner's to reach: a cloud Redis sits in the cell's private network and is
// managed by the cloud's own user management.
func (r *Runner) cellRedis(ctx context.Context, run controlplane.StackRun, cell string) (*redis.Client, error) {
	cloud := run.Config["cellplane:cloud"]
	if cloud != string(spec.Local) {
		fmt.Fprintf(logOf(run), "note: the Redis ACL user of a %s cell is applied inside the cell's network, not by this runner\n", cloud)
		return nil, nil
	}
	outs, err := r.Outputs(ctx, controlplane.StackRun{Stack: cell, Config: map[string]string{"cellplane:cloud": cloud}})
	if err != nil {
		return nil, fmt.Errorf("reading the outputs of cell %s: %w", cell, err)
	}
	addr, _ := outs[program.OutRedisEndpoint].Value.(string)
	auth, _ := outs[program.OutRedisAuth].Value.(string)
	if addr == "" {
		return nil, fmt.Errorf("cell %s exports no Redis endpoint", cell)
	}
	return redis.NewClient(&redis.Options{Addr: addr, Password: auth}), nil
}
