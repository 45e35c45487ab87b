// Package provision runs the infrastructure program (infra/program.Run) on stacks through
// the Pulumi Automation API, inline: `cellplane stack` and the control plane's provisioning
// jobs both use it, so a stack behaves the same whoever runs it.
//
// Each stack gets a workspace directory of its own (parallel stacks in one workspace corrupt
// each other); state goes to a file backend under the state directory unless a backend URL
// says otherwise; secrets are encrypted with a passphrase (or a KMS secrets provider). The
// pulumi CLI and the Kubernetes provider plugin come from the tool cache, never downloaded.
package provision

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/infra/program"
	"github.com/cellplane/cellplane/infra/spec"
)

// PulumiVersion is the pulumi CLI the Automation API needs: at least the SDK's version.
const PulumiVersion = "3.274.1"

// DefaultLocalPassphrase encrypts the secrets of local-cloud stacks when no passphrase is
// given: they only hold the local cell's throwaway keys. Cloud stacks require a real one.
const DefaultLocalPassphrase = "cellplane-local"

// Options configure a Runner.
type Options struct {
	// StateDir holds the workspaces (<StateDir>/pulumi/workspaces/<stack>) and the default
	// file backend (<StateDir>/pulumi/backend). Required.
	StateDir string
	// BackendURL is any Pulumi backend URL; "" = file://<StateDir>/pulumi/backend.
	BackendURL string
	// Passphrase encrypts stack secrets (passphrase provider); "" = DefaultLocalPassphrase
	// for local stacks, an error for cloud stacks unless SecretsProvider is set.
	Passphrase string
	// SecretsProvider is a KMS secrets provider URL (awskms://, gcpkms://,
	// azurekeyvault://, hashivault://); "" = passphrase.
	SecretsProvider string
	// ProjectFile is the Pulumi.yaml whose settings the workspaces use ("" = the repo's, or
	// the built-in defaults when there is none).
	ProjectFile string
	// LocalCellDir is the local cell the program adopts for local stacks (config
	// cellplane:localCellDir), unless the stack's config sets it.
	LocalCellDir string
	// Tools locates the pulumi CLI and the provider plugins ("" fields = found by FindTools).
	Tools Tools
	// Program is the program to run; nil = program.Run.
	Program pulumi.RunFunc
	// Env is added to the environment of the pulumi CLI.
	Env map[string]string
	// Timings, when set, is told how long the engine itself took for each up, refresh and
	// destroy (from the update's own start and end), apart from the runner's setup.
	Timings func(stack string, op Op, engine time.Duration)
}

// Runner runs stacks. It is safe for concurrent use on different stacks.
type Runner struct {
	o       Options
	project workspace.Project
	cmd     auto.PulumiCommand

	mu     sync.Mutex
	stacks map[string]*sync.Mutex
}

// hold serialises this Runner's use of one stack's workspace: opening a workspace rewrites
// its project file, so concurrent users of one workspace (tenants reading their cell's
// outputs at once) would read it half written.
func (r *Runner) hold(stack string) func() {
	r.mu.Lock()
	if r.stacks == nil {
		r.stacks = map[string]*sync.Mutex{}
	}
	m := r.stacks[stack]
	if m == nil {
		m = &sync.Mutex{}
		r.stacks[stack] = m
	}
	r.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// New checks the options and the tools and returns a Runner.
func New(o Options) (*Runner, error) {
	if o.StateDir == "" {
		return nil, errors.New("provision: a state directory is required")
	}
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return nil, err
	}
	o.StateDir = abs
	if o.BackendURL == "" {
		o.BackendURL = "file://" + filepath.Join(o.StateDir, "pulumi", "backend")
	}
	if strings.HasPrefix(o.BackendURL, "file://") {
		if err := os.MkdirAll(strings.TrimPrefix(o.BackendURL, "file://"), 0o700); err != nil {
			return nil, err
		}
	}
	if o.Program == nil {
		o.Program = program.Run
	}
	if o.Tools.PulumiRoot == "" || o.Tools.PluginDir == "" {
		found, err := FindTools()
		if err != nil {
			return nil, err
		}
		if o.Tools.PulumiRoot == "" {
			o.Tools.PulumiRoot = found.PulumiRoot
		}
		if o.Tools.PluginDir == "" {
			o.Tools.PluginDir = found.PluginDir
		}
		if o.Tools.Kubectl == "" {
			o.Tools.Kubectl = found.Kubectl
		}
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: o.Tools.PulumiRoot, Version: semver.MustParse(PulumiVersion)})
	if err != nil {
		return nil, fmt.Errorf("pulumi CLI in %s: %w (build it with: deploy/local/tools.sh pulumi)", o.Tools.PulumiRoot, err)
	}
	proj, err := loadProject(o.ProjectFile)
	if err != nil {
		return nil, err
	}
	proj.Backend = &workspace.ProjectBackend{URL: o.BackendURL}
	return &Runner{o: o, project: proj, cmd: cmd}, nil
}

// Backend is the backend URL stacks live in.
func (r *Runner) Backend() string { return r.o.BackendURL }

// WorkspaceDir is the workspace directory of a stack.
func (r *Runner) WorkspaceDir(stack string) string {
	return filepath.Join(r.o.StateDir, "pulumi", "workspaces", stack)
}

// loadProject reads Pulumi.yaml (the repo's when path is ""), keeping what an inline
// program uses: the name, runtime and description. The stacks' settings live in each
// workspace, so stackConfigDir is dropped.
func loadProject(path string) (workspace.Project, error) {
	def := workspace.Project{Name: "cellplane", Runtime: workspace.NewProjectRuntimeInfo("go", nil)}
	if path == "" {
		root, err := RepoRoot()
		if err != nil {
			return def, nil
		}
		path = filepath.Join(root, "Pulumi.yaml")
	}
	p, err := workspace.LoadProject(path)
	if err != nil {
		if os.IsNotExist(errors.Unwrap(err)) || errors.Is(err, os.ErrNotExist) {
			return def, nil
		}
		return def, fmt.Errorf("project settings %s: %w", path, err)
	}
	out := workspace.Project{Name: p.Name, Runtime: p.Runtime, Description: p.Description}
	return out, nil
}

// Op names a stack operation.
type Op string

const (
	OpPreview Op = "preview"
	OpUp      Op = "up"
	OpRefresh Op = "refresh"
	OpDestroy Op = "destroy"
)

// Run runs op on the stack: the engine's progress goes to run.Log, the result carries the
// summary of changes and the stack's outputs.
func (r *Runner) Run(ctx context.Context, op Op, run controlplane.StackRun) (*controlplane.StackResult, error) {
	switch op {
	case OpPreview:
		return r.Preview(ctx, run)
	case OpUp:
		return r.Up(ctx, run)
	case OpRefresh:
		return r.Refresh(ctx, run)
	case OpDestroy:
		return r.Destroy(ctx, run)
	}
	return nil, fmt.Errorf("unknown operation %q; allowed: preview, up, refresh, destroy", op)
}

// Up brings the stack to run.Config, creating it when needed and recovering it first from
// an interrupted run. On tier B tenants it then applies the org's Redis ACL user.
func (r *Runner) Up(ctx context.Context, run controlplane.StackRun) (*controlplane.StackResult, error) {
	defer r.hold(run.Stack)()
	st, err := r.stack(ctx, run)
	if err != nil {
		return nil, err
	}
	if err := r.recover(ctx, st, run.Log); err != nil {
		return nil, err
	}
	res, err := st.Up(ctx, optup.ProgressStreams(logOf(run)), optup.ErrorProgressStreams(logOf(run)), optup.SuppressProgress())
	if err != nil {
		return nil, classify(ctx, err)
	}
	r.timing(run.Stack, OpUp, res.Summary)
	out := &controlplane.StackResult{Summary: changes(res.Summary.ResourceChanges), Outputs: outputs(res.Outputs)}
	if err := r.applyRedisACL(ctx, run, out.Outputs); err != nil {
		return out, err
	}
	return out, nil
}

// Preview shows what Up would change.
func (r *Runner) Preview(ctx context.Context, run controlplane.StackRun) (*controlplane.StackResult, error) {
	defer r.hold(run.Stack)()
	st, err := r.stack(ctx, run)
	if err != nil {
		return nil, err
	}
	res, err := st.Preview(ctx, optpreview.ProgressStreams(logOf(run)), optpreview.ErrorProgressStreams(logOf(run)), optpreview.SuppressProgress())
	if err != nil {
		return nil, classify(ctx, err)
	}
	sum := map[string]int{}
	for k, v := range res.ChangeSummary {
		sum[string(k)] = v
	}
	outs, _ := st.Outputs(ctx)
	return &controlplane.StackResult{Summary: sum, Outputs: outputs(outs)}, nil
}

// Refresh reads the real state of the stack's resources back into its state.
func (r *Runner) Refresh(ctx context.Context, run controlplane.StackRun) (*controlplane.StackResult, error) {
	defer r.hold(run.Stack)()
	st, err := r.stack(ctx, run)
	if err != nil {
		return nil, err
	}
	if err := r.recover(ctx, st, run.Log); err != nil {
		return nil, err
	}
	res, err := st.Refresh(ctx, optrefresh.ProgressStreams(logOf(run)), optrefresh.ErrorProgressStreams(logOf(run)), optrefresh.SuppressProgress())
	if err != nil {
		return nil, classify(ctx, err)
	}
	r.timing(run.Stack, OpRefresh, res.Summary)
	outs, _ := st.Outputs(ctx)
	return &controlplane.StackResult{Summary: changes(res.Summary.ResourceChanges), Outputs: outputs(outs)}, nil
}

// Destroy deletes every resource of the stack and then the stack itself. A stack that
// does not exist is already destroyed.
func (r *Runner) Destroy(ctx context.Context, run controlplane.StackRun) (*controlplane.StackResult, error) {
	defer r.hold(run.Stack)()
	ws, err := r.workspace(ctx, run)
	if err != nil {
		return nil, err
	}
	st, err := auto.SelectStack(ctx, run.Stack, ws)
	if err != nil {
		if auto.IsSelectStack404Error(err) {
			return &controlplane.StackResult{Summary: map[string]int{}}, nil
		}
		return nil, classify(ctx, err)
	}
	if err := r.configure(ctx, st, run); err != nil {
		return nil, err
	}
	if err := r.recover(ctx, st, run.Log); err != nil {
		return nil, err
	}
	before, _ := st.Outputs(ctx)
	res, err := st.Destroy(ctx, optdestroy.ProgressStreams(logOf(run)), optdestroy.ErrorProgressStreams(logOf(run)), optdestroy.SuppressProgress())
	if err != nil {
		return nil, classify(ctx, err)
	}
	r.timing(run.Stack, OpDestroy, res.Summary)
	out := &controlplane.StackResult{Summary: changes(res.Summary.ResourceChanges), Outputs: map[string]controlplane.StackOutput{}}
	if err := r.deleteRedisACL(ctx, run, outputs(before)); err != nil {
		return out, err
	}
	if err := ws.RemoveStack(ctx, run.Stack); err != nil {
		return out, fmt.Errorf("removing stack %s: %w", run.Stack, err)
	}
	return out, nil
}

// Outputs returns a stack's current outputs (run.Config needs only cellplane:cloud, which
// picks the secrets passphrase).
func (r *Runner) Outputs(ctx context.Context, run controlplane.StackRun) (map[string]controlplane.StackOutput, error) {
	defer r.hold(run.Stack)()
	ws, err := r.workspace(ctx, run)
	if err != nil {
		return nil, err
	}
	st, err := auto.SelectStack(ctx, run.Stack, ws)
	if err != nil {
		return nil, err
	}
	outs, err := st.Outputs(ctx)
	if err != nil {
		return nil, err
	}
	return outputs(outs), nil
}

// workspace opens (creating) the stack's own workspace.
func (r *Runner) workspace(ctx context.Context, run controlplane.StackRun) (auto.Workspace, error) {
	dir := r.WorkspaceDir(run.Stack)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	env, err := r.env(run)
	if err != nil {
		return nil, err
	}
	opts := []auto.LocalWorkspaceOption{
		auto.WorkDir(dir), auto.Project(r.project), auto.Program(r.o.Program),
		auto.Pulumi(r.cmd), auto.EnvVars(env), auto.PulumiHome(filepath.Join(r.o.StateDir, "pulumi", "home")),
	}
	if r.o.SecretsProvider != "" {
		opts = append(opts, auto.SecretsProvider(r.o.SecretsProvider))
	} else {
		opts = append(opts, auto.SecretsProvider("passphrase"))
	}
	return auto.NewLocalWorkspace(ctx, opts...)
}

// stack upserts the stack in its workspace and sets its config to run.Config.
func (r *Runner) stack(ctx context.Context, run controlplane.StackRun) (auto.Stack, error) {
	if err := validateStackName(run.Stack); err != nil {
		return auto.Stack{}, err
	}
	ws, err := r.workspace(ctx, run)
	if err != nil {
		return auto.Stack{}, err
	}
	st, err := auto.UpsertStack(ctx, run.Stack, ws)
	if err != nil {
		return auto.Stack{}, classify(ctx, err)
	}
	if err := r.configure(ctx, st, run); err != nil {
		return auto.Stack{}, err
	}
	return st, nil
}

// configure makes the stack's config exactly run.Config, plus the secrets the runner
// generated for it earlier (or generates now) and the local cell's directory.
func (r *Runner) configure(ctx context.Context, st auto.Stack, run controlplane.StackRun) error {
	current, err := st.GetAllConfig(ctx)
	if err != nil {
		return classify(ctx, err)
	}
	want := auto.ConfigMap{}
	for k, v := range run.Config {
		want[k] = auto.ConfigValue{Value: v, Secret: slices.Contains(program.GeneratedSecrets, k)}
	}
	role, cloud := run.Config["cellplane:role"], run.Config["cellplane:cloud"]
	if program.RequiresGeneratedSecrets(role, cloud) {
		for _, k := range program.GeneratedSecrets {
			if _, ok := want[k]; ok {
				continue
			}
			if cur, ok := current[k]; ok {
				want[k] = cur
				continue
			}
			fmt.Fprintf(logOf(run), "generating %s into the stack's encrypted config\n", k)
			want[k] = auto.ConfigValue{Value: randomSecret(), Secret: true}
		}
	}
	if cloud == string(spec.Local) && r.o.LocalCellDir != "" {
		if _, ok := want["cellplane:"+program.KeyLocalCellDir]; !ok {
			want["cellplane:"+program.KeyLocalCellDir] = auto.ConfigValue{Value: r.o.LocalCellDir}
		}
	}
	var stale []string
	for k := range current {
		if _, ok := want[k]; !ok {
			stale = append(stale, k)
		}
	}
	if len(stale) > 0 {
		if err := st.RemoveAllConfig(ctx, stale); err != nil {
			return classify(ctx, err)
		}
	}
	changed := auto.ConfigMap{}
	for k, v := range want {
		if cur, ok := current[k]; !ok || cur != v {
			changed[k] = v
		}
	}
	if len(changed) > 0 {
		if err := st.SetAllConfig(ctx, changed); err != nil {
			return classify(ctx, err)
		}
	}
	return nil
}

// env is the environment of the pulumi CLI for run: plugins from the tool cache only, the
// passphrase, no update checks.
func (r *Runner) env(run controlplane.StackRun) (map[string]string, error) {
	env := map[string]string{
		"PATH": r.o.Tools.PluginDir + string(os.PathListSeparator) + filepath.Join(r.o.Tools.PulumiRoot, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
	}
	if r.o.SecretsProvider == "" {
		pass := r.o.Passphrase
		if pass == "" {
			if run.Config["cellplane:cloud"] != string(spec.Local) {
				return nil, fmt.Errorf("stack %s is on %s: set PULUMI_CONFIG_PASSPHRASE (or a KMS secrets provider) to encrypt its secrets",
					run.Stack, orUnknown(run.Config["cellplane:cloud"]))
			}
			pass = DefaultLocalPassphrase
		}
		env["PULUMI_CONFIG_PASSPHRASE"] = pass
	}
	maps.Copy(env, r.o.Env)
	return env, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown cloud"
	}
	return s
}

func randomSecret() string {
	b := make([]byte, 36)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// timing reports the engine's own duration of an update to Options.Timings.
func (r *Runner) timing(stack string, op Op, sum auto.UpdateSummary) {
	if r.o.Timings == nil || sum.EndTime == nil {
		return
	}
	start, err1 := time.Parse(time.RFC3339, sum.StartTime)
	end, err2 := time.Parse(time.RFC3339, *sum.EndTime)
	if err1 == nil && err2 == nil {
		r.o.Timings(stack, op, end.Sub(start))
	}
}

func logOf(run controlplane.StackRun) io.Writer {
	if run.Log == nil {
		return io.Discard
	}
	return run.Log
}

func changes(m *map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return maps.Clone(*m)
}

func outputs(m auto.OutputMap) map[string]controlplane.StackOutput {
	out := make(map[string]controlplane.StackOutput, len(m))
	for k, v := range m {
		out[k] = controlplane.StackOutput{Value: v.Value, Secret: v.Secret}
	}
	return out
}

// classify marks the failures worth retrying as they are (another update holds the stack,
// the API did not answer) and keeps a cancelled context's error.
func classify(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.Join(ctx.Err(), err)
	}
	if auto.IsConcurrentUpdateError(err) {
		return controlplane.Transient(err)
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "i/o timeout", "TLS handshake timeout", "context deadline exceeded", "the server is currently unable"} {
		if strings.Contains(msg, s) {
			return controlplane.Transient(err)
		}
	}
	return err
}
