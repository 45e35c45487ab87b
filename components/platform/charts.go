package platform

// Chart is an outside Helm chart, pinned. Every outside chart's repository and version is
// here and only here, so an upgrade of the platform is a one-line diff.
type Chart struct {
	Name, Repo, Version string
}

// Pinned charts of the in-cluster platform on clouds. On `local` none of them is deployed
// (the repositories cannot be reached and kwok runs no containers).
var (
	LiveKitChart             = Chart{"livekit-server", "https://helm.livekit.io", "1.9.0"}
	IngressNginxChart        = Chart{"ingress-nginx", "https://kubernetes.github.io/ingress-nginx", "4.12.3"}
	CertManagerChart         = Chart{"cert-manager", "https://charts.jetstack.io", "v1.17.2"}
	KubePrometheusStackChart = Chart{"kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts", "72.9.1"}
	OTelCollectorChart       = Chart{"opentelemetry-collector", "https://open-telemetry.github.io/opentelemetry-helm-charts", "0.126.0"}
)

// LiveKitVersion is the livekit-server image every media pod of a cluster runs (LiveKit is
// homogeneous inside a cluster). It matches the livekit-server the local cell runs.
const LiveKitVersion = "v1.13.5"

// LiveKit's ports inside the media pod.
const (
	LiveKitHTTPPort       = 7880 // signal + API
	LiveKitPrometheusPort = 6789
)
