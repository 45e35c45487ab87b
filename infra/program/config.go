package program

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/components/cluster"
	"github.com/cellplane/cellplane/infra/spec"
)

// Stack config keys. A stack file (stacks/Pulumi.<stack>.yaml) is the whole parameter set of
// a cell; every key is read here and nowhere else.
//
//	key                          roles            meaning
//	cellplane:role               all              org (tier A) | cell (tier B cluster) | tenant (tier B release)
//	cellplane:tier               all (optional)   dedicated | shared; must agree with role when given
//	cellplane:org                org, tenant      org slug
//	cellplane:cloud              all              aws | gcp | azure | local
//	cellplane:region             all              a region of that cloud (spec.Regions)
//	cellplane:version            org, tenant      product version (semver) of sim-engine + agents
//	cellplane:sizing             all              small | medium | large (default small)
//	cellplane:cell               tenant           the cell stack it lives in (e.g. cell-aws-us-east-1-1)
//
// Special requirements (org and cell roles on a cloud):
//
//	cellplane:kubernetesVersion  "1.33" style MAJOR.MINOR[.PATCH]; empty = the cloud's default
//	cellplane:kmsKeyId           BYOK key for secrets encryption (ARN / CryptoKey id / Key Vault key id)
//	cellplane:allowedCidrs       CIDRs allowed to reach the private API endpoint (YAML list or comma list)
//	cellplane:privateEndpoint    bool, default true
//	cellplane:deletionProtection bool, default true (Redis, KMS keys)
//	cellplane:dnsZone            zone the ingress hostname is published in (default cells.cellplane.io)
//	cellplane:rtcPortStart/End   LiveKit UDP range (default 50000-60000)
//	cellplane:tags               map of extra tags
//	cellplane:livekitApiKey      LiveKit API key name (default "cellplane")
//	cellplane:livekitApiSecret   secret; required on clouds for org and cell (`cellplane stack`
//	                             generates one into the stack's workspace when it is missing)
//
// Local cloud only:
//
//	cellplane:localCellDir       directory of the local cell's cell.json (else $CELLPLANE_LOCAL_CELL, else .local)
const ns = "cellplane:"

// Key names (without the namespace).
const (
	KeyRole               = "role"
	KeyTier               = "tier"
	KeyOrg                = "org"
	KeyCloud              = "cloud"
	KeyRegion             = "region"
	KeyVersion            = "version"
	KeySizing             = "sizing"
	KeyCell               = "cell"
	KeyKubernetesVersion  = "kubernetesVersion"
	KeyKMSKeyID           = "kmsKeyId"
	KeyAllowedCIDRs       = "allowedCidrs"
	KeyPrivateEndpoint    = "privateEndpoint"
	KeyDeletionProtection = "deletionProtection"
	KeyDNSZone            = "dnsZone"
	KeyRTCPortStart       = "rtcPortStart"
	KeyRTCPortEnd         = "rtcPortEnd"
	KeyTags               = "tags"
	KeyLiveKitAPIKey      = "livekitApiKey"
	KeyLiveKitAPISecret   = "livekitApiSecret"
	KeyLocalCellDir       = "localCellDir"
)

// GeneratedSecrets are config keys a runner may fill with a fresh random secret when a stack
// that needs them has none (see RequiresGeneratedSecrets).
var GeneratedSecrets = []string{ns + KeyLiveKitAPISecret}

// DefaultDNSZone is the zone cells publish their ingress hostname in unless told otherwise.
const DefaultDNSZone = "cells.cellplane.io"

// Spec is the validated parameter set of one stack.
type Spec struct {
	Stack   string
	Role    spec.Role
	Tier    spec.Tier
	Org     string // org slug; for a cell, the cell's name (its stack name)
	Cloud   spec.Cloud
	Region  string
	Version string
	Sizing  spec.Sizing
	Cell    string // tenant: the cell stack

	KubernetesVersion  string
	KMSKeyID           string
	AllowedCIDRs       []string
	PrivateEndpoint    bool
	DeletionProtection bool
	DNSZone            string
	RTCPortStart       int
	RTCPortEnd         int
	Tags               map[string]string
	LiveKitAPIKey      string
	LiveKitAPISecret   string // plaintext here; wrapped as a secret before it reaches a resource

	LocalCellDir string
}

// Hostname is the ingress/signal name of an org's or cell's cluster.
func (s *Spec) Hostname() string { return s.Org + "." + s.DNSZone }

// ConfigError is one invalid key: its value and what is allowed.
type ConfigError struct {
	Key, Value, Problem string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s%s = %q: %s", ns, e.Key, e.Value, e.Problem)
}

// ConfigErrors is every invalid key of a stack, reported together.
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return "invalid stack config:\n  " + strings.Join(s, "\n  ")
}

// Getter reads one raw config value by its full key ("cellplane:role").
type Getter func(key string) (string, bool)

// ParseSpec reads and validates the stack config. It returns ConfigErrors listing every
// problem, so a stack file is fixed in one round.
func ParseSpec(stack string, get Getter, getenv func(string) string) (*Spec, error) {
	var errs ConfigErrors
	bad := func(key, value, format string, args ...any) {
		errs = append(errs, &ConfigError{Key: key, Value: value, Problem: fmt.Sprintf(format, args...)})
	}
	val := func(key string) string { v, _ := get(ns + key); return strings.TrimSpace(v) }
	// wrap turns a spec error (which already names value and allowed values) into a keyed one.
	wrap := func(key, value string, err error) {
		if err != nil {
			bad(key, value, "%s", err.Error())
		}
	}

	s := &Spec{Stack: stack, PrivateEndpoint: true, DeletionProtection: true, DNSZone: DefaultDNSZone,
		RTCPortStart: cluster.DefaultRTCPortStart, RTCPortEnd: cluster.DefaultRTCPortEnd, LiveKitAPIKey: "cellplane"}

	roleV := val(KeyRole)
	if roleV == "" {
		bad(KeyRole, "", "required; allowed: org, cell, tenant")
	} else if r, err := spec.ParseRole(roleV); err != nil {
		wrap(KeyRole, roleV, err)
	} else {
		s.Role = r
	}
	switch s.Role {
	case spec.RoleOrg:
		s.Tier = spec.Dedicated
	case spec.RoleCell, spec.RoleTenant:
		s.Tier = spec.Shared
	}
	if v := val(KeyTier); v != "" {
		if t, err := spec.ParseTier(v); err != nil {
			wrap(KeyTier, v, err)
		} else if s.Tier != "" && t != s.Tier {
			bad(KeyTier, v, "role %s is tier %s; allowed: %s (or leave it out)", s.Role, s.Tier, s.Tier)
		}
	}

	cloudV := val(KeyCloud)
	if cloudV == "" {
		bad(KeyCloud, "", "required; allowed: aws, gcp, azure, local")
	} else if c, err := spec.ParseCloud(cloudV); err != nil {
		wrap(KeyCloud, cloudV, err)
	} else {
		s.Cloud = c
	}
	regionV := val(KeyRegion)
	if s.Cloud == spec.Local && regionV == "" {
		regionV = "local"
	}
	if s.Cloud != "" {
		if regionV == "" {
			bad(KeyRegion, "", "required; allowed for %s: %s", s.Cloud, strings.Join(spec.Regions(s.Cloud), ", "))
		} else if err := spec.ValidateRegion(s.Cloud, regionV); err != nil {
			wrap(KeyRegion, regionV, err)
		} else {
			s.Region = regionV
		}
	}

	orgV := val(KeyOrg)
	switch {
	case s.Role == spec.RoleCell:
		s.Org = stack // a cell is named after its stack; cellplane:org is not used
	case orgV == "" && s.Role != "":
		bad(KeyOrg, "", "required for role %s (the org's slug)", s.Role)
	case orgV != "":
		wrap(KeyOrg, orgV, spec.ValidateSlug(orgV))
		s.Org = orgV
	}

	versionV := val(KeyVersion)
	if versionV == "" && (s.Role == spec.RoleOrg || s.Role == spec.RoleTenant) {
		bad(KeyVersion, "", "required for role %s (the product version, e.g. 1.4.5)", s.Role)
	} else if versionV != "" {
		wrap(KeyVersion, versionV, spec.ValidateVersion(versionV))
		s.Version = versionV
	}

	s.Sizing = spec.Small
	if v := val(KeySizing); v != "" {
		if z, err := spec.ParseSizing(v); err != nil {
			wrap(KeySizing, v, err)
		} else {
			s.Sizing = z
		}
	}

	s.Cell = val(KeyCell)
	if s.Role == spec.RoleTenant && s.Cell == "" {
		bad(KeyCell, "", "required for role tenant: the cell stack it lives in (e.g. cell-%s-%s-1)", orDefault(cloudV, "aws"), orDefault(regionV, "us-east-1"))
	}
	if s.Role != spec.RoleTenant && s.Cell != "" && s.Role != "" {
		bad(KeyCell, s.Cell, "only a tenant lives in a cell; remove it for role %s", s.Role)
	}

	if v := val(KeyKubernetesVersion); v != "" {
		if !kubeVersionOK(v) {
			bad(KeyKubernetesVersion, v, "not a Kubernetes version; allowed: MAJOR.MINOR or MAJOR.MINOR.PATCH, 1.28 or newer (e.g. 1.33)")
		} else {
			s.KubernetesVersion = v
		}
	}
	s.KMSKeyID = val(KeyKMSKeyID)
	if v := val(KeyAllowedCIDRs); v != "" {
		cidrs, err := parseList(v)
		if err != nil {
			bad(KeyAllowedCIDRs, v, "%v; allowed: a list of CIDRs such as [\"10.0.0.0/8\"]", err)
		}
		for _, c := range cidrs {
			if _, err := netip.ParsePrefix(c); err != nil {
				bad(KeyAllowedCIDRs, c, "not a CIDR; allowed: address/prefix such as 203.0.113.0/24")
			}
		}
		s.AllowedCIDRs = cidrs
	}
	parseBool := func(key string, dst *bool) {
		if v := val(key); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				bad(key, v, "allowed: true, false")
				return
			}
			*dst = b
		}
	}
	parseBool(KeyPrivateEndpoint, &s.PrivateEndpoint)
	parseBool(KeyDeletionProtection, &s.DeletionProtection)
	if v := val(KeyDNSZone); v != "" {
		s.DNSZone = strings.TrimSuffix(v, ".")
	}
	parsePort := func(key string, dst *int) {
		if v := val(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1024 || n > 65535 {
				bad(key, v, "allowed: a port number 1024-65535")
				return
			}
			*dst = n
		}
	}
	parsePort(KeyRTCPortStart, &s.RTCPortStart)
	parsePort(KeyRTCPortEnd, &s.RTCPortEnd)
	if s.RTCPortEnd < s.RTCPortStart {
		bad(KeyRTCPortEnd, strconv.Itoa(s.RTCPortEnd), "must not be below %s%s (%d)", ns, KeyRTCPortStart, s.RTCPortStart)
	}
	if v := val(KeyTags); v != "" {
		if err := json.Unmarshal([]byte(v), &s.Tags); err != nil {
			bad(KeyTags, v, "allowed: a map of string to string")
		}
	}
	if v := val(KeyLiveKitAPIKey); v != "" {
		s.LiveKitAPIKey = v
	}
	s.LiveKitAPISecret = val(KeyLiveKitAPISecret)
	if s.Cloud != "" && s.Cloud != spec.Local && (s.Role == spec.RoleOrg || s.Role == spec.RoleCell) && s.LiveKitAPISecret == "" {
		bad(KeyLiveKitAPISecret, "", "required (secret) for role %s on %s: the LiveKit API secret; `cellplane stack` generates one", s.Role, s.Cloud)
	}
	if s.LiveKitAPISecret != "" && len(s.LiveKitAPISecret) < 32 {
		bad(KeyLiveKitAPISecret, "(secret)", "too short: LiveKit needs at least 32 characters")
	}

	s.LocalCellDir = val(KeyLocalCellDir)
	if s.LocalCellDir == "" && getenv != nil {
		s.LocalCellDir = getenv("CELLPLANE_LOCAL_CELL")
	}
	if s.LocalCellDir == "" {
		s.LocalCellDir = ".local"
	}

	errs = append(errs, validateCloud(s)...) // cloudconfig.go
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
		return nil, errs
	}
	return s, nil
}

// RequiresGeneratedSecrets reports whether a stack with this role and cloud needs the
// GeneratedSecrets (LiveKit keys of a cloud cluster); local clusters take the cell's keys.
func RequiresGeneratedSecrets(role, cloud string) bool {
	return (role == string(spec.RoleOrg) || role == string(spec.RoleCell)) && cloud != "" && cloud != string(spec.Local)
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func kubeVersionOK(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return false
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || (len(p) > 1 && p[0] == '0') {
			return false
		}
		nums[i] = n
	}
	return nums[0] == 1 && nums[1] >= 28
}

// parseList accepts a JSON/YAML list as Pulumi stores structured config, or a comma list.
func parseList(v string) ([]string, error) {
	if strings.HasPrefix(v, "[") {
		var out []string
		if err := json.Unmarshal([]byte(v), &out); err != nil {
			return nil, errors.New("not a list of strings")
		}
		return out, nil
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}
