package main

import (
	"strings"
	"testing"
)

func TestJoinRefusesBadUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"join"}, "needs the session's livekit_url"},
		{[]string{"join", "ws://127.0.0.1:7880"}, "needs a participant token"},
		{[]string{"join", "--for", "-1s", "ws://127.0.0.1:7880", "tok"}, "--for must not be negative"},
		{[]string{"join", "a", "b", "c"}, "got 3 arguments"},
	} {
		if code, _, errOut := cli(t, c.args...); code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
	if _, _, errOut := cli(t, "join", "--help"); !strings.Contains(errOut, "usage: cellplane join") || !strings.Contains(errOut, "-for duration") {
		t.Errorf("join --help: %q", errOut)
	}
}
