package localcell

import (
	"strings"
	"testing"
)

func TestMissingToolsNameTheBuildCommand(t *testing.T) {
	t.Setenv("CELLPLANE_TOOLS", t.TempDir())
	t.Setenv("PATH", "/usr/bin:/bin")
	_, err := FindTools()
	if err == nil {
		t.Fatal("FindTools succeeded with an empty tool cache and no tools on PATH")
	}
	for _, want := range []string{"kube-apiserver", "etcd", "livekit-server", "deploy/local/tools.sh", " kubernetes", " kwok", " livekit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
