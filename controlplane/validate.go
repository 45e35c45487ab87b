package controlplane

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cellplane/cellplane/infra/spec"
)

// Limits of free-text fields.
const (
	MaxNameLen         = 200
	MaxRequirements    = 32
	MaxRequirementLen  = 500
	MaxClusterCapacity = 10000
	MinLiveKitSecret   = 32 // livekit-server refuses shorter secrets
)

var (
	requirementKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,62}$`)
	clusterNameRE    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	stackNameRE      = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	apiKeyIDRE       = regexp.MustCompile(`^[a-z0-9]{16}$`)
)

// ValidName checks a display name: 1-200 characters, no control characters.
func ValidName(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("name is required")
	}
	if utf8.RuneCountInString(s) > MaxNameLen {
		return fmt.Errorf("name must be at most %d characters", MaxNameLen)
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fmt.Errorf("name must be printable text without control characters")
	}
	return nil
}

// Validate checks every field of oc and reports all bad ones at once.
func (oc OrgCreate) Validate() error {
	var v Validation
	if oc.Slug == "" {
		v.Add("slug", "slug is required")
	} else {
		v.Check("slug", spec.ValidateSlug(oc.Slug))
	}
	v.Check("name", ValidName(oc.Name))
	if oc.Tier == "" {
		v.Add("tier", "tier is required; allowed: dedicated, shared")
	} else if _, err := spec.ParseTier(oc.Tier); err != nil {
		v.Check("tier", err)
	}
	cloudOK := false
	if oc.Cloud == "" {
		v.Add("cloud", "cloud is required; allowed: %s", cloudList())
	} else if _, err := spec.ParseCloud(oc.Cloud); err != nil {
		v.Check("cloud", err)
	} else {
		cloudOK = true
	}
	if oc.Region == "" {
		v.Add("region", "region is required")
	} else if cloudOK {
		v.Check("region", spec.ValidateRegion(spec.Cloud(oc.Cloud), oc.Region))
	}
	if oc.Version == "" {
		v.Add("version", "version is required (MAJOR.MINOR.PATCH, e.g. 1.4.5)")
	} else {
		v.Check("version", spec.ValidateVersion(oc.Version))
	}
	if oc.Sizing == "" {
		v.Add("sizing", "sizing is required; allowed: small, medium, large")
	} else if _, err := spec.ParseSizing(oc.Sizing); err != nil {
		v.Check("sizing", err)
	}
	validateRequirements(&v, oc.Requirements)
	return v.Err()
}

func validateRequirements(v *Validation, req map[string]string) {
	if len(req) > MaxRequirements {
		v.Add("requirements", "at most %d requirements", MaxRequirements)
		return
	}
	keys := make([]string, 0, len(req))
	for k := range req {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !requirementKeyRE.MatchString(k) {
			v.Add("requirements."+k, "requirement names are 1-63 lowercase letters, digits, '_', '.' or '-', starting with a letter")
			continue
		}
		val := req[k]
		if utf8.RuneCountInString(val) > MaxRequirementLen || !utf8.ValidString(val) || strings.IndexFunc(val, unicode.IsControl) >= 0 {
			v.Add("requirements."+k, "a requirement is printable text of at most %d characters", MaxRequirementLen)
		}
	}
}

// Validate checks the fields an update may change, and refuses the ones it may not.
// Cloud and region are checked against the current org by the store (an equal value is
// not a change).
func (u OrgUpdate) Validate() error {
	var v Validation
	if u.Name != nil {
		v.Check("name", ValidName(*u.Name))
	}
	if u.Version != nil {
		v.Check("version", spec.ValidateVersion(*u.Version))
	}
	if u.Sizing != nil {
		if _, err := spec.ParseSizing(*u.Sizing); err != nil {
			v.Check("sizing", err)
		}
	}
	return v.Err()
}

// ImmutableField is the error for an attempt to change a field that never changes.
func ImmutableField(field, why string) error {
	return &Error{Code: EINVALID, Message: "the request changes an immutable field",
		Fields: []FieldError{{Field: field, Message: field + " cannot be changed: " + why}}}
}

// Validate checks every field of cc.
func (cc ClusterCreate) Validate() error {
	var v Validation
	if cc.Name == "" {
		v.Add("name", "name is required")
	} else if !clusterNameRE.MatchString(cc.Name) {
		v.Add("name", "cluster name %q must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit", cc.Name)
	}
	cloudOK := false
	if cc.Cloud == "" {
		v.Add("cloud", "cloud is required; allowed: %s", cloudList())
	} else if _, err := spec.ParseCloud(cc.Cloud); err != nil {
		v.Check("cloud", err)
	} else {
		cloudOK = true
	}
	if cc.Region == "" {
		v.Add("region", "region is required")
	} else if cloudOK {
		v.Check("region", spec.ValidateRegion(spec.Cloud(cc.Cloud), cc.Region))
	}
	switch cc.Kind {
	case ClusterDedicated, ClusterShared:
	case "":
		v.Add("kind", "kind is required; allowed: dedicated, shared")
	default:
		v.Add("kind", "unknown kind %q; allowed: dedicated, shared", cc.Kind)
	}
	if cc.APIURL != "" {
		v.Check("api_url", validURL(cc.APIURL, "http", "https"))
	}
	if cc.LiveKitURL == "" {
		v.Add("livekit_url", "livekit_url is required (ws://, wss://, http:// or https://)")
	} else {
		v.Check("livekit_url", validURL(cc.LiveKitURL, "ws", "wss", "http", "https"))
	}
	if cc.LiveKitVersion != "" {
		v.Check("livekit_version", spec.ValidateVersion(cc.LiveKitVersion))
	}
	if cc.LiveKitAPIKey == "" {
		v.Add("livekit_api_key", "livekit_api_key is required")
	} else if len(cc.LiveKitAPIKey) > 200 || strings.IndexFunc(cc.LiveKitAPIKey, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		v.Add("livekit_api_key", "livekit_api_key must be at most 200 printable ASCII characters without spaces")
	}
	if cc.LiveKitAPISecret == "" {
		v.Add("livekit_api_secret", "livekit_api_secret is required")
	} else if len(cc.LiveKitAPISecret) < MinLiveKitSecret || len(cc.LiveKitAPISecret) > 500 {
		v.Add("livekit_api_secret", "livekit_api_secret must be %d to 500 characters", MinLiveKitSecret)
	}
	if cc.Capacity == nil {
		if cc.Kind == ClusterShared {
			v.Add("capacity", "capacity (the most orgs the cluster takes) is required for a shared cluster")
		}
	} else if *cc.Capacity < 1 || *cc.Capacity > MaxClusterCapacity {
		v.Add("capacity", "capacity must be between 1 and %d", MaxClusterCapacity)
	} else if cc.Kind == ClusterDedicated && *cc.Capacity != 1 {
		v.Add("capacity", "a dedicated cluster holds exactly one org: capacity must be 1")
	}
	if cc.Status != "" && !slices.Contains(ClusterStatuses, cc.Status) {
		v.Add("status", "unknown status %q; allowed: %s", cc.Status, strings.Join(ClusterStatuses, ", "))
	}
	if cc.Stack != "" && !stackNameRE.MatchString(cc.Stack) {
		v.Add("stack", "stack name must be 1-100 letters, digits, '_', '.' or '-'")
	}
	return v.Err()
}

func validURL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("%q is not an absolute URL with scheme %s", s, strings.Join(schemes, ", "))
	}
	if len(s) > 2000 {
		return fmt.Errorf("URL must be at most 2000 characters")
	}
	return nil
}

// Validate checks a new key's fields.
func (kc APIKeyCreate) Validate() error {
	var v Validation
	v.Check("name", ValidName(kc.Name))
	return v.Err()
}

// ValidAPIKeyID reports whether id has the shape of a key id (so a malformed id is a
// plain 404, never a query).
func ValidAPIKeyID(id string) bool { return apiKeyIDRE.MatchString(id) }

func cloudList() string {
	s := make([]string, len(spec.Clouds))
	for i, c := range spec.Clouds {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
