package program

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/cellplane/cellplane/components/azure"
	"github.com/cellplane/cellplane/infra/spec"
)

// Special requirements whose shape depends on the cloud, checked with the rest of the stack
// config so a wrong key fails before anything is registered:
//
//	kmsKeyId           aws:   a KMS key ARN in the stack's region (EKS takes no alias)
//	                   gcp:   a Cloud KMS CryptoKey id in the stack's region
//	                   azure: a versioned Key Vault key id (AKS KMS needs the version)
//	kubernetesVersion  aws:   MAJOR.MINOR only (EKS picks the patch)
//	allowedCidrs       IPv4 network addresses (10.0.0.0/8, not 10.1.2.3/8), never 0.0.0.0/0
//	privateEndpoint    false only together with allowedCidrs: an API endpoint is never open to all
var (
	awsKeyARN = regexp.MustCompile(`^arn:aws(-[a-z]+)*:kms:([a-z0-9-]+):\d{12}:key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
	gcpKeyID  = regexp.MustCompile(`^projects/([a-z][a-z0-9-]{4,28}[a-z0-9])/locations/([a-z0-9-]+)/keyRings/([A-Za-z0-9_-]{1,63})/cryptoKeys/([A-Za-z0-9_-]{1,63})$`)
)

// validateCloud returns the cloud-specific problems of s (nil when there are none or when
// the stack builds no cloud cluster).
func validateCloud(s *Spec) ConfigErrors {
	if s.Role != spec.RoleOrg && s.Role != spec.RoleCell {
		return nil
	}
	var errs ConfigErrors
	bad := func(key, value, format string, args ...any) {
		errs = append(errs, &ConfigError{Key: key, Value: value, Problem: fmt.Sprintf(format, args...)})
	}
	switch s.Cloud {
	case spec.AWS, spec.GCP, spec.Azure:
	default:
		return nil
	}

	if k := s.KMSKeyID; k != "" {
		switch s.Cloud {
		case spec.AWS:
			if m := awsKeyARN.FindStringSubmatch(k); m == nil {
				bad(KeyKMSKeyID, k, "not a KMS key ARN; allowed: arn:aws:kms:<region>:<account>:key/<key-id> (EKS takes no alias)")
			} else if m[2] != s.Region {
				bad(KeyKMSKeyID, k, "the key is in %s; EKS needs a key in the cluster's region %s", m[2], s.Region)
			}
		case spec.GCP:
			if m := gcpKeyID.FindStringSubmatch(k); m == nil {
				bad(KeyKMSKeyID, k, "not a Cloud KMS key; allowed: projects/<project>/locations/<region>/keyRings/<ring>/cryptoKeys/<key>")
			} else if m[2] != s.Region {
				bad(KeyKMSKeyID, k, "the key is in %s; GKE needs a key in the cluster's region %s", m[2], s.Region)
			}
		case spec.Azure:
			if !azure.ValidKeyID(k) {
				bad(KeyKMSKeyID, k, "not a versioned Key Vault key id; allowed: https://<vault>.vault.azure.net/keys/<name>/<version>")
			}
		}
	}

	if v := s.KubernetesVersion; s.Cloud == spec.AWS && strings.Count(v, ".") > 1 {
		bad(KeyKubernetesVersion, v, "EKS pins MAJOR.MINOR and picks the patch itself; allowed: e.g. %s", minorOf(v))
	}

	for _, c := range s.AllowedCIDRs {
		p, err := netip.ParsePrefix(c)
		switch {
		case err != nil:
			// already reported by ParseSpec
		case !p.Addr().Is4():
			bad(KeyAllowedCIDRs, c, "the %s API endpoint takes IPv4 ranges only", s.Cloud)
		case p.Bits() == 0:
			bad(KeyAllowedCIDRs, c, "opens the API endpoint to everyone; list the networks that need it (e.g. the control plane's egress, a VPN)")
		case p.Masked() != p:
			bad(KeyAllowedCIDRs, c, "not a network address; did you mean %s?", p.Masked())
		}
	}
	if !s.PrivateEndpoint && len(s.AllowedCIDRs) == 0 {
		bad(KeyPrivateEndpoint, "false", "a public API endpoint must be limited to %sallowedCidrs; give those, or leave privateEndpoint true", ns)
	}
	return errs
}

func minorOf(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}
