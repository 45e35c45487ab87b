package controlplane

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cellplane/cellplane/infra/spec"
)

// Stack config keys of the infrastructure program (DESIGN.md, "Contracts"): the control
// plane writes an org's stack config with exactly the keys of the stack files in stacks/.
const (
	ConfigRole    = "cellplane:role"
	ConfigOrg     = "cellplane:org"
	ConfigCloud   = "cellplane:cloud"
	ConfigRegion  = "cellplane:region"
	ConfigVersion = "cellplane:version"
	ConfigSizing  = "cellplane:sizing"
	ConfigCell    = "cellplane:cell"
)

// requirementKeys maps the special requirements an org may carry (snake_case, as the
// API spells them) to the program's config keys. Other requirements are notes for
// people and do not reach the program.
var requirementKeys = map[string]string{
	"kubernetes_version":  "cellplane:kubernetesVersion",
	"kms_key_id":          "cellplane:kmsKeyId",
	"allowed_cidrs":       "cellplane:allowedCidrs",
	"private_endpoint":    "cellplane:privateEndpoint",
	"deletion_protection": "cellplane:deletionProtection",
	"dns_zone":            "cellplane:dnsZone",
	"rtc_port_start":      "cellplane:rtcPortStart",
	"rtc_port_end":        "cellplane:rtcPortEnd",
}

// RequirementKeys lists the requirements that become stack config, sorted.
func RequirementKeys() []string {
	keys := make([]string, 0, len(requirementKeys))
	for k := range requirementKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// StackPlan is where an operation runs and with what config.
type StackPlan struct {
	Stack  string
	Config map[string]string
	// WaitsFor are the stacks whose earlier operations must be settled first: the stack
	// itself and, for a tenant, its cell (the tenant reads the cell's outputs).
	WaitsFor []string
}

// OrgStack is the stack of org on cluster: `org-<slug>` (role org) for a tier A org on its
// own cluster, `tenant-<slug>` (role tenant) in the cell stack of its shared cluster for
// tier B.
func OrgStack(org *Org, cluster *Cluster) (*StackPlan, error) {
	cfg := map[string]string{
		ConfigOrg:     org.Slug,
		ConfigCloud:   string(org.Cloud),
		ConfigRegion:  org.Region,
		ConfigVersion: org.Version,
		ConfigSizing:  string(org.Sizing),
	}
	for k, v := range org.Requirements {
		if key, ok := requirementKeys[k]; ok {
			cfg[key] = v
		}
	}
	switch org.Tier {
	case spec.Dedicated:
		cfg[ConfigRole] = string(spec.RoleOrg)
		stack := "org-" + org.Slug
		return &StackPlan{Stack: stack, Config: cfg, WaitsFor: []string{stack}}, nil
	case spec.Shared:
		cfg[ConfigRole] = string(spec.RoleTenant)
		stack := "tenant-" + org.Slug
		plan := &StackPlan{Stack: stack, Config: cfg, WaitsFor: []string{stack}}
		// A shared cluster registered without a stack leaves cellplane:cell out: the
		// program then fails the operation naming the missing key.
		if cluster.Stack != "" {
			cfg[ConfigCell] = cluster.Stack
			plan.WaitsFor = append(plan.WaitsFor, cluster.Stack)
		}
		return plan, nil
	}
	return nil, fmt.Errorf("org %s: unknown tier %q", org.Slug, org.Tier)
}

// CellStack is the stack of a shared cell (role cell), named by its cluster record.
func CellStack(c *Cluster) (*StackPlan, error) {
	if c.Kind != ClusterShared || c.Stack == "" {
		return nil, fmt.Errorf("cluster %s is not a shared cluster with a stack", c.Name)
	}
	return &StackPlan{Stack: c.Stack, WaitsFor: []string{c.Stack}, Config: map[string]string{
		ConfigRole:   string(spec.RoleCell),
		ConfigCloud:  string(c.Cloud),
		ConfigRegion: c.Region,
	}}, nil
}

// ConfigSummary renders a stack config on one line, keys sorted (for logs).
func ConfigSummary(cfg map[string]string) string {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + cfg[k]
	}
	return strings.Join(parts, " ")
}
