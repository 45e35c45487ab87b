// Package spec holds the vocabulary both halves of cellplane validate against: clouds and
// their regions, tiers, sizings, roles and product versions. The infrastructure program and
// the control plane read the same tables, so a region accepted by the API is one the
// program can build.
package spec

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Cloud names a cluster implementation.
type Cloud string

const (
	AWS   Cloud = "aws"
	GCP   Cloud = "gcp"
	Azure Cloud = "azure"
	Local Cloud = "local"
)

// Clouds lists every cloud, in display order.
var Clouds = []Cloud{AWS, GCP, Azure, Local}

// regions lists the regions cellplane builds cells in, per cloud. Adding a region here is
// all it takes for the API and the program to accept it.
var regions = map[Cloud][]string{
	AWS: {"us-east-1", "us-east-2", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
		"eu-central-1", "eu-north-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-south-1", "sa-east-1"},
	GCP: {"us-central1", "us-east1", "us-east4", "us-west1", "northamerica-northeast1", "europe-west1",
		"europe-west2", "europe-west3", "europe-west4", "europe-north1", "asia-southeast1", "asia-northeast1", "australia-southeast1"},
	Azure: {"eastus", "eastus2", "westus2", "westus3", "canadacentral", "northeurope", "westeurope",
		"uksouth", "ukwest", "germanywestcentral", "swedencentral", "southeastasia", "australiaeast", "japaneast"},
	Local: {"local"},
}

// Regions returns the regions of cloud (nil for an unknown cloud).
func Regions(c Cloud) []string { return slices.Clone(regions[c]) }

// ParseCloud validates a cloud name.
func ParseCloud(s string) (Cloud, error) {
	c := Cloud(s)
	if _, ok := regions[c]; !ok {
		return "", fmt.Errorf("unknown cloud %q; allowed: %s", s, joinClouds())
	}
	return c, nil
}

// ValidateRegion checks that region belongs to cloud.
func ValidateRegion(c Cloud, region string) error {
	rs, ok := regions[c]
	if !ok {
		return fmt.Errorf("unknown cloud %q; allowed: %s", c, joinClouds())
	}
	if !slices.Contains(rs, region) {
		return fmt.Errorf("region %q is not a %s region; allowed: %s", region, c, strings.Join(rs, ", "))
	}
	return nil
}

func joinClouds() string {
	s := make([]string, len(Clouds))
	for i, c := range Clouds {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// Tier is how an org is isolated.
type Tier string

const (
	Dedicated Tier = "dedicated" // tier A: a cluster of its own
	Shared    Tier = "shared"    // tier B: a namespace in a shared regional cell
)

// ParseTier validates a tier.
func ParseTier(s string) (Tier, error) {
	switch Tier(s) {
	case Dedicated, Shared:
		return Tier(s), nil
	}
	return "", fmt.Errorf("unknown tier %q; allowed: dedicated, shared", s)
}

// Sizing is the t-shirt size of an org's or a cell's capacity.
type Sizing string

const (
	Small  Sizing = "small"
	Medium Sizing = "medium"
	Large  Sizing = "large"
)

// Sizings lists every sizing, smallest first.
var Sizings = []Sizing{Small, Medium, Large}

// ParseSizing validates a sizing.
func ParseSizing(s string) (Sizing, error) {
	if slices.Contains(Sizings, Sizing(s)) {
		return Sizing(s), nil
	}
	return "", fmt.Errorf("unknown sizing %q; allowed: small, medium, large", s)
}

// Role is what a stack builds.
type Role string

const (
	RoleOrg    Role = "org"    // tier A: cluster + platform + the org's release
	RoleCell   Role = "cell"   // tier B: shared cluster + platform
	RoleTenant Role = "tenant" // tier B: the org's release in its cell
)

// ParseRole validates a role.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleOrg, RoleCell, RoleTenant:
		return Role(s), nil
	}
	return "", fmt.Errorf("unknown role %q; allowed: org, cell, tenant", s)
}

var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`)

// ValidateVersion checks that v is a semantic version such as 1.4.5 (no leading "v").
func ValidateVersion(v string) error {
	if !semverRE.MatchString(v) {
		return fmt.Errorf("version %q is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.4.5)", v)
	}
	return nil
}

var slugRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)

// ValidateSlug checks that slug can name a namespace, a stack and a hostname label: a DNS
// label of at most 40 characters (room for prefixes such as "tenant-").
func ValidateSlug(slug string) error {
	if !slugRE.MatchString(slug) {
		return fmt.Errorf("slug %q must be 1-40 lowercase letters, digits or '-', starting and ending with a letter or digit", slug)
	}
	return nil
}

// AllRegions returns "cloud/region" for every region, sorted (for docs and errors).
func AllRegions() []string {
	var out []string
	for c, rs := range regions {
		for _, r := range rs {
			out = append(out, string(c)+"/"+r)
		}
	}
	sort.Strings(out)
	return out
}
