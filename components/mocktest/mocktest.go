// Package mocktest runs Pulumi programs under mocks (pulumi.WithMocks) and records every
// registered resource with its inputs and options, so a test asserts what a component
// declared: properties, parents, protection, dependencies. Clouds that cannot be reached from
// a test are checked this way; the mocks answer each resource with its inputs plus whatever
// computed outputs the test's State hook adds, and each function call from the test's Calls.
package mocktest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Resource is one registered resource as the engine would have received it.
type Resource struct {
	Type, Name, URN     string
	Parent              string // parent URN ("" for the stack's direct children)
	Custom              bool   // false for component resources
	Provider            string // explicit provider reference, if any
	Version             string // provider plugin version asked for
	Inputs              resource.PropertyMap
	Protect             bool
	RetainOnDelete      bool
	DependsOn           []string // URNs of explicit and input dependencies
	IgnoreChanges       []string
	DeleteBeforeReplace bool
}

// Call is one function invocation (a data source / list* function).
type Call struct {
	Token string
	Args  resource.PropertyMap
}

// Mocks records resources and answers calls. The zero value is not usable; use New.
type Mocks struct {
	// State adds computed outputs for a resource (merged over its inputs).
	State func(r Resource) resource.PropertyMap
	// Calls answers function invocations by token; an unknown token fails the program.
	Calls map[string]func(args resource.PropertyMap) resource.PropertyMap
	// Preview runs the program as `pulumi preview` does (ctx.DryRun() is true).
	Preview bool

	stack     string
	mu        sync.Mutex
	resources []Resource
	calls     []Call
}

// New returns empty mocks.
func New() *Mocks {
	return &Mocks{Calls: map[string]func(resource.PropertyMap) resource.PropertyMap{}}
}

// NewResource implements pulumi.MockResourceMonitor.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Provider: args.Provider, Inputs: args.Inputs}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Version = rpc.GetVersion()
		r.Protect = rpc.GetProtect()
		r.RetainOnDelete = rpc.GetRetainOnDelete()
		r.DependsOn = append(r.DependsOn, rpc.GetDependencies()...)
		for _, pd := range rpc.GetPropertyDependencies() {
			r.DependsOn = append(r.DependsOn, pd.GetUrns()...)
		}
		r.IgnoreChanges = rpc.GetIgnoreChanges()
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
	}
	r.URN = m.urn(r)
	state := args.Inputs.Copy()
	if m.State != nil && args.Custom {
		for k, v := range m.State(r) {
			state[k] = v
		}
	}
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()
	id := ""
	if args.Custom {
		id = args.Name + "-id"
	}
	return id, state, nil
}

// Call implements pulumi.MockResourceMonitor.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls = append(m.calls, Call{Token: args.Token, Args: args.Args})
	m.mu.Unlock()
	if f, ok := m.Calls[args.Token]; ok {
		return f(args.Args), nil
	}
	return nil, fmt.Errorf("mocktest: no answer for function %s", args.Token)
}

// urn is the URN the mock monitor gives r (the same rule), so Parent and DependsOn match.
func (m *Mocks) urn(r Resource) string {
	parentType := tokens.Type("")
	if p := resource.URN(r.Parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.stack), tokens.PackageName(Project), parentType, tokens.Type(r.Type), r.Name))
}

// Project is the Pulumi project name the mocks run under.
const Project = "cellplane"

// Run runs fn under the mocks with the given stack config ("project:key" -> value; values
// that are JSON objects or lists are passed through as such).
func (m *Mocks) Run(t testing.TB, stack string, config map[string]string, fn pulumi.RunFunc) error {
	t.Helper()
	cfg, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PULUMI_CONFIG", string(cfg))
	m.stack = stack
	preview := func(info *pulumi.RunInfo) { info.DryRun = m.Preview }
	return pulumi.RunErr(fn, pulumi.WithMocks(Project, stack, m), preview)
}

// Resources returns every registered resource, in registration order.
func (m *Mocks) Resources() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.resources)
}

// CallsMade returns every function call, in order.
func (m *Mocks) CallsMade() []Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

// OfType returns the resources of a type token, sorted by name.
func (m *Mocks) OfType(token string) []Resource {
	var out []Resource
	for _, r := range m.Resources() {
		if r.Type == token {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// One returns the resource of type token whose name ends with suffix, failing the test
// unless exactly one matches.
func (m *Mocks) One(t testing.TB, token, suffix string) Resource {
	t.Helper()
	var found []Resource
	for _, r := range m.OfType(token) {
		if strings.HasSuffix(r.Name, suffix) {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s named *%s, found %d (all of that type: %v)", token, suffix, len(found), names(m.OfType(token)))
	}
	return found[0]
}

// ByURN finds a resource by its URN.
func (m *Mocks) ByURN(u string) (Resource, bool) {
	for _, r := range m.Resources() {
		if r.URN == u {
			return r, true
		}
	}
	return Resource{}, false
}

// DependsOnType reports whether r depends (explicitly or through an input) on a resource
// of type token.
func (m *Mocks) DependsOnType(r Resource, token string) bool {
	for _, d := range r.DependsOn {
		if dr, ok := m.ByURN(d); ok && dr.Type == token {
			return true
		}
	}
	return false
}

func names(rs []Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

// Path reads a nested input: Path(r.Inputs, "vpcConfig", "endpointPublicAccess"); list
// elements are addressed by index ("0"). Secrets and known outputs are unwrapped. It returns
// a null value when the path does not exist.
func Path(m resource.PropertyMap, keys ...string) resource.PropertyValue {
	v := resource.NewObjectProperty(m)
	for _, k := range keys {
		v = unwrap(v)
		switch {
		case v.IsObject():
			v = v.ObjectValue()[resource.PropertyKey(k)]
		case v.IsArray():
			var i int
			if _, err := fmt.Sscanf(k, "%d", &i); err != nil || i < 0 || i >= len(v.ArrayValue()) {
				return resource.NewNullProperty()
			}
			v = v.ArrayValue()[i]
		default:
			return resource.NewNullProperty()
		}
	}
	return unwrap(v)
}

func unwrap(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput():
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

// IsSecret reports whether the input at the path was passed as a secret.
func IsSecret(m resource.PropertyMap, keys ...string) bool {
	v := resource.NewObjectProperty(m)
	for _, k := range keys {
		v = unwrap(v)
		if !v.IsObject() {
			return false
		}
		v = v.ObjectValue()[resource.PropertyKey(k)]
	}
	return v.ContainsSecrets()
}

// Str reads a string input ("" when absent or not a string).
func Str(m resource.PropertyMap, keys ...string) string {
	if v := Path(m, keys...); v.IsString() {
		return v.StringValue()
	}
	return ""
}

// Num reads a number input (-1 when absent).
func Num(m resource.PropertyMap, keys ...string) int {
	if v := Path(m, keys...); v.IsNumber() {
		return int(v.NumberValue())
	}
	return -1
}

// Bool reads a bool input; ok is false when absent.
func Bool(m resource.PropertyMap, keys ...string) (val, ok bool) {
	if v := Path(m, keys...); v.IsBool() {
		return v.BoolValue(), true
	}
	return false, false
}

// Strs reads a list of strings.
func Strs(m resource.PropertyMap, keys ...string) []string {
	v := Path(m, keys...)
	if !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e = unwrap(e); e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

// StrMap reads a map of strings (tags, labels).
func StrMap(m resource.PropertyMap, keys ...string) map[string]string {
	v := Path(m, keys...)
	if !v.IsObject() {
		return nil
	}
	out := map[string]string{}
	for k, e := range v.ObjectValue() {
		if e = unwrap(e); e.IsString() {
			out[string(k)] = e.StringValue()
		}
	}
	return out
}

// Objs reads a list of objects.
func Objs(m resource.PropertyMap, keys ...string) []resource.PropertyMap {
	v := Path(m, keys...)
	if !v.IsArray() {
		return nil
	}
	var out []resource.PropertyMap
	for _, e := range v.ArrayValue() {
		if e = unwrap(e); e.IsObject() {
			out = append(out, e.ObjectValue())
		}
	}
	return out
}

// Props builds a PropertyMap from plain Go values (for State hooks and call answers).
func Props(v map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(v) }
