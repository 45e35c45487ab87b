package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/provision"
)

func init() {
	commands["stack"] = command{
		summary: "preview|up|destroy|refresh a stack: the infrastructure program inline on stacks/<stack>",
		run:     runStack,
	}
}

const stackUsage = `stack <preview|up|destroy|refresh> <stack> [flags]

Runs the infrastructure program inline through the Automation API on the stack's config
(stacks/Pulumi.<stack>.yaml), in a workspace of its own under <state>/pulumi/workspaces.
State goes to file://<state>/pulumi/backend unless --backend / PULUMI_BACKEND_URL names
another backend. Secrets are encrypted with PULUMI_CONFIG_PASSPHRASE (local stacks have a
default) or --secrets-provider. Local stacks adopt the local cell in <state>.`

func runStack(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "stack", stackUsage)
	state := stateFlag(e, fs, "state directory: workspaces, file backend, the local cell")
	stacksDir := fs.String("stacks", envOr(e, "CELLPLANE_STACKS", ""), "directory of the Pulumi.<stack>.yaml files (default: the repository's stacks/) [CELLPLANE_STACKS]")
	backend := fs.String("backend", envOr(e, "PULUMI_BACKEND_URL", ""), "Pulumi backend URL (default file://<state>/pulumi/backend) [PULUMI_BACKEND_URL]")
	secrets := fs.String("secrets-provider", envOr(e, "CELLPLANE_SECRETS_PROVIDER", ""), "KMS secrets provider URL (awskms://, gcpkms://, azurekeyvault://, hashivault://); default: passphrase [CELLPLANE_SECRETS_PROVIDER]")
	showSecrets := fs.Bool("show-secrets", false, "print secret outputs in clear")
	asJSON := fs.Bool("json", false, "print the result (summary and outputs) as JSON after the progress")
	// Flags may come before or after the operation and stack name.
	var pos []string
	rest := args
	for {
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 2 {
		fs.Usage()
		return usageError("stack: want an operation and a stack name, got %d arguments", len(pos))
	}
	op, stack := provision.Op(pos[0]), pos[1]
	switch op {
	case provision.OpPreview, provision.OpUp, provision.OpDestroy, provision.OpRefresh:
	default:
		return usageError("stack: unknown operation %q; allowed: preview, up, destroy, refresh", op)
	}
	if *stacksDir == "" {
		root, err := provision.RepoRoot()
		if err != nil {
			return usageError("stack: --stacks is required outside the repository")
		}
		*stacksDir = filepath.Join(root, "stacks")
	}
	cfg, err := provision.LoadStackConfig(*stacksDir, stack)
	if err != nil {
		return usageError("%v", err)
	}
	stateAbs, err := filepath.Abs(*state)
	if err != nil {
		return err
	}
	r, err := provision.New(provision.Options{
		StateDir: stateAbs, BackendURL: *backend, SecretsProvider: *secrets,
		Passphrase: e.getenv("PULUMI_CONFIG_PASSPHRASE"), LocalCellDir: stateAbs,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s %s (backend %s, workspace %s)\n", op, stack, r.Backend(), r.WorkspaceDir(stack))
	start := time.Now()
	res, err := r.Run(ctx, op, controlplane.StackRun{Stack: stack, Config: cfg, Log: e.stdout})
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, stack, err)
	}
	printResult(e.stdout, op, stack, res, time.Since(start), *showSecrets, *asJSON)
	return nil
}

// printResult prints the summary of changes and the stack's outputs.
func printResult(w io.Writer, op provision.Op, stack string, res *controlplane.StackResult, took time.Duration, showSecrets, asJSON bool) {
	if asJSON {
		outs := map[string]any{}
		for k, v := range res.Outputs {
			if v.Secret && !showSecrets {
				outs[k] = "[secret]"
			} else {
				outs[k] = v.Value
			}
		}
		b, _ := json.MarshalIndent(map[string]any{"operation": op, "stack": stack, "summary": res.Summary,
			"outputs": outs, "seconds": took.Seconds()}, "", "  ")
		fmt.Fprintln(w, string(b))
		return
	}
	fmt.Fprintf(w, "\n%s %s done in %s: %s\n", op, stack, took.Round(100*time.Millisecond), formatSummary(op, res.Summary))
	if len(res.Outputs) == 0 {
		return
	}
	fmt.Fprintln(w, "\noutputs:")
	keys := make([]string, 0, len(res.Outputs))
	for k := range res.Outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := res.Outputs[k]
		s := "[secret]"
		if !v.Secret || showSecrets {
			switch x := v.Value.(type) {
			case string:
				s = x
			default:
				b, _ := json.Marshal(x)
				s = string(b)
			}
		}
		if strings.Contains(s, "\n") {
			s = strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
			s = "\n    " + s
		}
		fmt.Fprintf(w, "  %-17s %s\n", k, s)
	}
}

// formatSummary renders an engine summary as "3 created, 12 unchanged" ("3 to create" for
// a preview).
func formatSummary(op provision.Op, sum map[string]int) string {
	if len(sum) == 0 {
		return "no changes"
	}
	words := map[string]string{"create": "created", "update": "updated", "delete": "deleted", "replace": "replaced", "same": "unchanged", "read": "read"}
	if op == provision.OpPreview {
		words = map[string]string{"create": "to create", "update": "to update", "delete": "to delete", "replace": "to replace", "same": "unchanged", "read": "to read"}
	}
	keys := make([]string, 0, len(sum))
	for k := range sum {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		w := words[k]
		if w == "" {
			w = k
		}
		parts = append(parts, fmt.Sprintf("%d %s", sum[k], w))
	}
	return strings.Join(parts, ", ")
}
