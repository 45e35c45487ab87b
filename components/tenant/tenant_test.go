package tenant

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/infra/spec"
)

func TestACLRuleLimitsTheOrgToItsPrefixAndHidesThePassword(t *testing.T) {
	pw := DerivePassword("cluster-auth", "acme")
	rule := ACLRule("acme", pw)
	if strings.Contains(rule, pw) {
		t.Fatal("the rule carries the password in clear")
	}
	for _, want := range []string{"reset ", " on ", "~org-acme:*", "&org-acme:*", "-@all", "-@dangerous", "-scan"} {
		if !strings.Contains(rule, want) {
			t.Errorf("rule %q lacks %q", rule, want)
		}
	}
	if strings.Contains(rule, "~*") || strings.Contains(rule, "allkeys") || strings.Contains(rule, "+@all") {
		t.Errorf("rule %q reaches beyond the prefix", rule)
	}
}

func TestDerivedPasswordsAreStableDistinctAndFollowTheClusterAuth(t *testing.T) {
	a := DerivePassword("auth-1", "acme")
	if a != DerivePassword("auth-1", "acme") {
		t.Error("not stable across runs")
	}
	if a == DerivePassword("auth-1", "acmf") || a == DerivePassword("auth-2", "acme") {
		t.Error("two orgs or two cluster auths share a password")
	}
	if len(a) < 32 {
		t.Errorf("password of %d characters", len(a))
	}
}

// The quota leaves room for every Deployment at its HPA maximum plus a surge pod each.
func TestQuotaFitsTheHPAMaximumsPlusASurge(t *testing.T) {
	const simCPU, agentCPU = 0.5, 0.25 // the chart's requests
	const simLimitCPU, agentLimitCPU = 2, 1
	for _, sz := range spec.Sizings {
		s := Sizes[sz]
		var reqCPU, limCPU float64
		if _, err := fmt.Sscan(s.RequestsCPU, &reqCPU); err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Sscan(s.LimitsCPU, &limCPU); err != nil {
			t.Fatal(err)
		}
		need := float64(s.SimEngineMax+1)*simCPU + float64(s.AgentMax+1)*agentCPU
		needLim := float64(s.SimEngineMax+1)*simLimitCPU + float64(s.AgentMax+1)*agentLimitCPU
		if need > reqCPU || needLim > limCPU || s.SimEngineMax+s.AgentMax+2 > s.Pods {
			t.Errorf("%s: quota %v/%v cpu, %d pods; HPA maximums need %v/%v cpu", sz, reqCPU, limCPU, s.Pods, need, needLim)
		}
		if s.SimEngineMin < 2 || s.AgentMin < 2 {
			t.Errorf("%s: a minimum below 2 leaves the PDB (minAvailable 1) blocking every drain", sz)
		}
	}
}
