package localcell

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// KubeClient is a minimal client of the cell's Kubernetes API (bearer token over TLS),
// enough to register nodes and check readiness without pulling in client-go.
type KubeClient struct {
	Server string
	Token  string
	http   *http.Client
}

// NewKubeClient returns a client trusting caFile.
func NewKubeClient(server, token, caFile string) (*KubeClient, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s: no certificate", caFile)
	}
	return &KubeClient{Server: server, Token: token, http: &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}}, nil
}

// APIError is a non-2xx answer of the API server.
type APIError struct {
	Code int
	Body string
}

func (e *APIError) Error() string { return fmt.Sprintf("kubernetes API: %d %s", e.Code, e.Body) }

// IsNotFound reports whether err is a 404 of the API server.
func IsNotFound(err error) bool {
	e, ok := err.(*APIError)
	return ok && e.Code == http.StatusNotFound
}

// Do sends method path with body (marshalled as JSON unless nil or []byte) and decodes the
// answer into out when out is not nil.
func (k *KubeClient) Do(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		r = bytes.NewReader(j)
	}
	if method == http.MethodPatch {
		contentType = "application/merge-patch+json"
	}
	req, err := http.NewRequestWithContext(ctx, method, k.Server+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+k.Token)
	req.Header.Set("Accept", "application/json")
	if r != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &APIError{Code: resp.StatusCode, Body: string(bytes.TrimSpace(data))}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// Object is the subset of a Kubernetes object the cell and its tests read.
type Object struct {
	Metadata struct {
		Name            string            `json:"name"`
		Namespace       string            `json:"namespace"`
		Labels          map[string]string `json:"labels"`
		ResourceVersion string            `json:"resourceVersion"`
		DeletionTime    *string           `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec   json.RawMessage `json:"spec"`
	Status json.RawMessage `json:"status"`
}

// List is a Kubernetes list of objects.
type List struct {
	Items []Object `json:"items"`
}

// NodeStatus is the part of a node's status the readiness check reads.
type NodeStatus struct {
	Conditions []struct {
		Type   string `json:"type"`
		Status string `json:"status"`
	} `json:"conditions"`
}

// PodStatus is the part of a pod's status tests read.
type PodStatus struct {
	Phase string `json:"phase"`
}

// PodSpec is the part of a pod's spec tests read.
type PodSpec struct {
	NodeName    string `json:"nodeName"`
	HostNetwork bool   `json:"hostNetwork"`
}
