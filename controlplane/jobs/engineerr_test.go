package jobs

import (
	"errors"
	"strings"
	"testing"
)

func TestEngineError(t *testing.T) {
	out := "failed to run update: exit status 1\ncode: 1\nstdout: Updating (tenant-x):\n" +
		" ~  kubernetes:helm.sh/v3:Release x updating (0s); error: 1 error occurred:\n" +
		"Diagnostics:\n" +
		"  pulumi:pulumi:Stack (cellplane-tenant-x):\n" +
		"    warning: using pulumi-resource-kubernetes from $PATH\n" +
		"    error: update failed\n" +
		"\n" +
		"  kubernetes:helm.sh/v3:Release (x-release):\n" +
		"    error: 1 error occurred:\n" +
		"    \t* Helm release \"org-x/sim-platform\" failed: metadata.labels: Invalid value: \"1.5.0+b\"\n" +
		"\n" +
		"Outputs:\n    namespace: \"org-x\"\n\nResources:\n    2 errored\n\nstderr: \n"
	got := engineError(errors.New(out))
	want := `kubernetes:helm.sh/v3:Release (x-release): 1 error occurred: * Helm release "org-x/sim-platform" failed: metadata.labels: Invalid value: "1.5.0+b"`
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	// Without diagnostics (the engine never ran): the error as it is.
	if got := engineError(errors.New("stack name \"X\": allowed: lowercase")); got != `stack name "X": allowed: lowercase` {
		t.Fatalf("plain: %q", got)
	}
	// A program error (bad config) names the key.
	cfg := "failed to run update: exit status 255\ncode: 255\nstdout: Updating (tenant-y):\nDiagnostics:\n" +
		"  pulumi:pulumi:Stack (cellplane-tenant-y):\n    error: invalid stack config:\n      cellplane:rtcPortStart = \"80\": allowed: a port number 1024-65535\n\n" +
		"Resources:\n\nstderr: \n"
	if got := engineError(errors.New(cfg)); !strings.Contains(got, `invalid stack config: cellplane:rtcPortStart = "80": allowed: a port number 1024-65535`) {
		t.Fatalf("config error: %q", got)
	}
	if got := engineError(errors.New(strings.Repeat("x", 5000))); len(got) != maxErrorLen+3 {
		t.Fatalf("not clipped: %d", len(got))
	}
}
