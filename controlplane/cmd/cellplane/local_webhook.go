package main

// defaultLocalWebhookURL is where the local cell's LiveKit nodes send their webhooks when
// --webhook-url is not given: the session meter of the control plane `local up` starts
// (on CELLPLANE_LISTEN, 127.0.0.1:8080 by default). Without it, sessions in the local
// platform would never see a participant join.
func defaultLocalWebhookURL(e env) string {
	if e.getenv("CELLPLANE_LOCAL_CONTROLPLANE") == "off" {
		return ""
	}
	return "http://" + envOr(e, "CELLPLANE_LISTEN", "127.0.0.1:8080") + "/v1/livekit/webhook"
}
