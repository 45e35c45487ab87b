package charts

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// helm finds the pinned helm of the tool cache (or on PATH).
func helm(t *testing.T) string {
	t.Helper()
	var dirs []string
	if out, err := exec.Command(filepath.Join("..", "local", "tools.sh"), "--path").Output(); err == nil {
		dirs = strings.Split(strings.TrimSpace(string(out)), ":")
	}
	for _, d := range append(dirs, filepath.SplitList(os.Getenv("PATH"))...) {
		if p := filepath.Join(d, "helm"); isExec(p) {
			return p
		}
	}
	t.Fatal("helm not found; build it with: deploy/local/tools.sh helm")
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// render runs `helm template` on the embedded chart as the program writes it out.
func render(t *testing.T, args ...string) ([]map[string]any, error) {
	t.Helper()
	dir, err := Dir(SimPlatform, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(helm(t), append([]string{"template", "sim-platform", dir, "--namespace", "org-acme"}, args...)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, errors.New(stderr.String())
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(&out)
	for {
		var d map[string]any
		if err := dec.Decode(&d); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs, nil
}

func get(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

func TestChartRendersHardenedWorkloadsPinnedToTheVersion(t *testing.T) {
	docs, err := render(t, "--set", "version=1.4.5", "--set", "org=acme",
		"--set", "simEngine.autoscaling.minReplicas=3", "--set", "simEngine.autoscaling.maxReplicas=8")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, d := range docs {
		kind, name := d["kind"].(string), get(d, "metadata", "name")
		kinds[kind]++
		if get(d, "metadata", "labels", "app.kubernetes.io/version") != "1.4.5" {
			t.Errorf("%s %v is not labelled with the version", kind, name)
		}
		switch kind {
		case "Deployment":
			pod := get(d, "spec", "template", "spec").(map[string]any)
			if get(pod, "nodeSelector", "cellplane.io/pool") != "workers" {
				t.Errorf("%v nodeSelector %v", name, pod["nodeSelector"])
			}
			if pod["tolerations"] != nil {
				t.Errorf("%v tolerates taints: it could land on the media pool", name)
			}
			if pod["terminationGracePeriodSeconds"] != 18000 {
				t.Errorf("%v grace %v", name, pod["terminationGracePeriodSeconds"])
			}
			if get(pod, "securityContext", "runAsNonRoot") != true || get(pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
				t.Errorf("%v pod securityContext %v", name, pod["securityContext"])
			}
			if get(pod, "serviceAccountName") != "sim-platform" {
				t.Errorf("%v service account %v", name, pod["serviceAccountName"])
			}
			for _, c := range pod["containers"].([]any) {
				img := get(c, "image").(string)
				if !strings.HasSuffix(img, "/"+name.(string)+":1.4.5") {
					t.Errorf("%v image %s", name, img)
				}
				sc := get(c, "securityContext")
				if get(sc, "readOnlyRootFilesystem") != true || get(sc, "allowPrivilegeEscalation") != false ||
					get(sc, "capabilities", "drop").([]any)[0] != "ALL" {
					t.Errorf("%v container securityContext %v", name, sc)
				}
				if get(c, "resources", "requests", "cpu") == nil || get(c, "resources", "limits", "memory") == nil {
					t.Errorf("%v has no requests/limits (the org's quota needs them)", name)
				}
			}
		case "HorizontalPodAutoscaler":
			if name == "sim-engine" && (get(d, "spec", "minReplicas") != 3 || get(d, "spec", "maxReplicas") != 8) {
				t.Errorf("sim-engine HPA %v..%v", get(d, "spec", "minReplicas"), get(d, "spec", "maxReplicas"))
			}
		case "PodDisruptionBudget":
			if get(d, "spec", "minAvailable") != 1 {
				t.Errorf("%v PDB %v", name, get(d, "spec"))
			}
		}
	}
	want := map[string]int{"Deployment": 2, "HorizontalPodAutoscaler": 2, "PodDisruptionBudget": 2, "Service": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s rendered, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
}

func TestChartRefusesToRenderWithoutAVersion(t *testing.T) {
	_, err := render(t, "--set", "org=acme")
	if err == nil || !strings.Contains(err.Error(), "version is required") {
		t.Fatalf("err = %v", err)
	}
}

func TestDirIsStableAndFollowsTheContent(t *testing.T) {
	root := t.TempDir()
	a, err := Dir(SimPlatform, root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Dir(SimPlatform, root)
	if err != nil || a != b {
		t.Fatalf("%s != %s (%v)", a, b, err)
	}
	if _, err := os.Stat(filepath.Join(a, "templates", "workloads.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := Dir("no-such-chart", root); err == nil {
		t.Error("unknown chart accepted")
	}
}
