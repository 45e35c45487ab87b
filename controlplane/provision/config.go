package provision

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadStackConfig reads <dir>/Pulumi.<stack>.yaml into the flat form the program reads:
// full keys ("cellplane:role"; a key without a namespace belongs to the project), scalar
// values as strings, lists and maps as JSON. Encrypted (secure) values are not taken from
// stack files: a stack's secrets live in its workspace, encrypted by its own provider.
func LoadStackConfig(dir, stack string) (map[string]string, error) {
	if err := validateStackName(stack); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "Pulumi."+stack+".yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("no stack %q: %s does not exist", stack, path)
		}
		return nil, err
	}
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[string]string, len(file.Config))
	for k, v := range file.Config {
		if !strings.Contains(k, ":") {
			k = "cellplane:" + k
		}
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
			out[k] = ""
		case map[string]any:
			if _, ok := v["secure"]; ok && len(v) == 1 {
				return nil, fmt.Errorf("%s: %s is an encrypted value; keep secrets out of stacks/ (the runner keeps them in the stack's workspace)", path, k)
			}
			b, _ := json.Marshal(v)
			out[k] = string(b)
		case []any:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}
