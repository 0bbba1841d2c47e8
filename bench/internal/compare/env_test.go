package compare

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestGatewayEnvIsTheDeployment keeps DefaultGatewayEnv, what the
// benchmark's gateways run with, equal to the Go runtime settings the
// Kubernetes deployment gives the gateway: the recorded figures are the
// deployment's.
func TestGatewayEnvIsTheDeployment(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "k8s", "gateway-deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Name string
						Env  []struct{ Name, Value string }
					}
				}
			}
		}
	}
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, "GO") {
				got = append(got, e.Name+"="+e.Value)
			}
		}
	}
	want := strings.Fields(DefaultGatewayEnv)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the deployment's Go runtime settings are %v, DefaultGatewayEnv %v", got, want)
	}
}
