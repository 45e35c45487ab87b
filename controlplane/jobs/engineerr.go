package jobs

import (
	"strings"
)

// engineError turns a failed run's error into what an operation records: the engine's
// diagnostics ("<resource>: <error>", the generic "update failed" left out), or the error
// itself when it has none. The engine's whole output is in the operation's log.
func engineError(err error) string {
	msg := err.Error()
	i := strings.Index(msg, "\nDiagnostics:\n")
	if i < 0 {
		return clip(strings.TrimSpace(msg), maxErrorLen)
	}
	var out []string
	resource := ""
	collecting := false
	for _, line := range strings.Split(msg[i+len("\nDiagnostics:\n"):], "\n") {
		trimmed := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		switch {
		case trimmed == "":
			collecting = false
		case indent <= 2 && strings.HasSuffix(trimmed, "):"):
			resource, collecting = strings.TrimSuffix(trimmed, ":"), false
		case indent <= 2:
			// The end of the diagnostics (Outputs:, Resources:, ...).
			return summary(out, msg)
		case strings.HasPrefix(trimmed, "error: "):
			text := strings.TrimPrefix(trimmed, "error: ")
			collecting = text != "update failed"
			if collecting {
				out = append(out, resource+": "+text)
			}
		case strings.HasPrefix(trimmed, "warning: ") || strings.HasPrefix(trimmed, "info: "):
			collecting = false
		case collecting:
			out[len(out)-1] += " " + trimmed
		}
	}
	return summary(out, msg)
}

const maxErrorLen = 2000

func summary(diags []string, msg string) string {
	if len(diags) == 0 {
		return clip(strings.TrimSpace(msg), maxErrorLen)
	}
	return clip(strings.Join(diags, "\n"), maxErrorLen)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
