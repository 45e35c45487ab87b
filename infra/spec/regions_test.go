package spec

import (
	"strings"
	"testing"
)

func TestValidateRegion(t *testing.T) {
	cases := []struct {
		cloud, region string
		want          string // substring of the error, "" for valid
	}{
		{"aws", "us-east-1", ""},
		{"gcp", "europe-west3", ""},
		{"azure", "uksouth", ""},
		{"local", "local", ""},
		{"aws", "europe-west3", `region "europe-west3" is not a aws region`},
		{"gcp", "us-east-1", "allowed: us-central1"},
		{"ibm", "us-south", `unknown cloud "ibm"`},
	}
	for _, c := range cases {
		err := ValidateRegion(Cloud(c.cloud), c.region)
		if c.want == "" && err != nil {
			t.Errorf("%s/%s: unexpected error %v", c.cloud, c.region, err)
		}
		if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s/%s: error %v, want it to contain %q", c.cloud, c.region, err, c.want)
		}
	}
}

func TestValidateVersionAndSlug(t *testing.T) {
	for _, v := range []string{"1.4.5", "0.0.1", "2.10.0-rc.1", "1.0.0+build.7"} {
		if err := ValidateVersion(v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	for _, v := range []string{"", "1.4", "v1.4.5", "01.2.3", "1.4.5 ", "latest"} {
		if ValidateVersion(v) == nil {
			t.Errorf("%q accepted as a version", v)
		}
	}
	for _, s := range []string{"mercy", "charite-berlin", "a", "nhs-trust-2"} {
		if err := ValidateSlug(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"", "-a", "a-", "Mercy", "a_b", "a.b", strings.Repeat("a", 41)} {
		if ValidateSlug(s) == nil {
			t.Errorf("%q accepted as a slug", s)
		}
	}
}
