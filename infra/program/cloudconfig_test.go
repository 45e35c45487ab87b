package program

import (
	"errors"
	"strings"
	"testing"
)

// cloudOrgConfig is a valid tier A stack on cloud/region; tests change one key at a time.
func cloudOrgConfig(cloud, region string) map[string]string {
	return map[string]string{
		"cellplane:role": "org", "cellplane:org": "mercy-health", "cellplane:cloud": cloud,
		"cellplane:region": region, "cellplane:version": "1.4.5",
		"cellplane:livekitApiSecret": strings.Repeat("s", 40),
	}
}

func parseCloudConfig(cfg map[string]string) (*Spec, error) {
	return ParseSpec("org-test", func(k string) (string, bool) { v, ok := cfg[k]; return v, ok }, func(string) string { return "" })
}

func TestCloudSpecialRequirements(t *testing.T) {
	cases := []struct {
		name, cloud, region, key, value string
		wantKey, wantProblem            string // "" = valid
	}{
		{"aws key arn", "aws", "us-east-1", "kmsKeyId", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "", ""},
		{"aws multi-region key", "aws", "us-east-1", "kmsKeyId", "arn:aws:kms:us-east-1:111122223333:key/mrk-1234567890abcdef1234567890abcdef", "", ""},
		{"aws alias is not a key", "aws", "us-east-1", "kmsKeyId", "arn:aws:kms:us-east-1:111122223333:alias/eks", "kmsKeyId", "not a KMS key ARN"},
		{"aws key elsewhere", "aws", "us-east-1", "kmsKeyId", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "kmsKeyId", "cluster's region us-east-1"},
		{"aws gcp key", "aws", "us-east-1", "kmsKeyId", "projects/p-12345/locations/us-east1/keyRings/r/cryptoKeys/k", "kmsKeyId", "not a KMS key ARN"},
		{"gcp key", "gcp", "europe-west3", "kmsKeyId", "projects/charite-kms/locations/europe-west3/keyRings/hospital/cryptoKeys/gke", "", ""},
		{"gcp key elsewhere", "gcp", "europe-west3", "kmsKeyId", "projects/charite-kms/locations/global/keyRings/hospital/cryptoKeys/gke", "kmsKeyId", "region europe-west3"},
		{"gcp key version", "gcp", "europe-west3", "kmsKeyId", "projects/charite-kms/locations/europe-west3/keyRings/h/cryptoKeys/gke/cryptoKeyVersions/1", "kmsKeyId", "not a Cloud KMS key"},
		{"azure key", "azure", "uksouth", "kmsKeyId", "https://nhs-keys.vault.azure.net/keys/aks/0123456789abcdef", "", ""},
		{"azure key without version", "azure", "uksouth", "kmsKeyId", "https://nhs-keys.vault.azure.net/keys/aks", "kmsKeyId", "versioned Key Vault key"},
		{"aws minor version", "aws", "us-east-1", "kubernetesVersion", "1.31", "", ""},
		{"aws patch version", "aws", "us-east-1", "kubernetesVersion", "1.31.2", "kubernetesVersion", "e.g. 1.31"},
		{"gcp patch version", "gcp", "europe-west3", "kubernetesVersion", "1.31.2", "", ""},
		{"cidr", "azure", "uksouth", "allowedCidrs", `["203.0.113.0/24","198.51.100.7/32"]`, "", ""},
		{"cidr host bits", "gcp", "europe-west3", "allowedCidrs", "10.1.2.3/8", "allowedCidrs", "did you mean 10.0.0.0/8"},
		{"cidr everyone", "aws", "us-east-1", "allowedCidrs", "0.0.0.0/0", "allowedCidrs", "everyone"},
		{"cidr v6", "aws", "us-east-1", "allowedCidrs", "2001:db8::/32", "allowedCidrs", "IPv4"},
		{"cidr garbage", "aws", "us-east-1", "allowedCidrs", "10.0.0.0/33", "allowedCidrs", "not a CIDR"},
		{"public endpoint unlimited", "gcp", "europe-west3", "privateEndpoint", "false", "privateEndpoint", "must be limited"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := cloudOrgConfig(c.cloud, c.region)
			cfg["cellplane:"+c.key] = c.value
			s, err := parseCloudConfig(cfg)
			if c.wantKey == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var errs ConfigErrors
			if !errors.As(err, &errs) {
				t.Fatalf("want a config error on %s, got %v (spec %+v)", c.wantKey, err, s)
			}
			for _, e := range errs {
				if e.Key == c.wantKey && strings.Contains(e.Problem, c.wantProblem) {
					if !strings.Contains(err.Error(), "cellplane:"+c.wantKey) {
						t.Errorf("message does not name the key: %v", err)
					}
					return
				}
			}
			t.Errorf("want %s: ...%s..., got %v", c.wantKey, c.wantProblem, err)
		})
	}
}

func TestPublicEndpointWithAllowedCIDRsIsAccepted(t *testing.T) {
	cfg := cloudOrgConfig("aws", "us-east-1")
	cfg["cellplane:privateEndpoint"] = "false"
	cfg["cellplane:allowedCidrs"] = "203.0.113.0/24"
	s, err := parseCloudConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.PrivateEndpoint || len(s.AllowedCIDRs) != 1 {
		t.Errorf("spec %+v", s)
	}
}
