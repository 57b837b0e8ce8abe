package deploy

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// helmBin is the Helm binary the tests run.
func helmBin(t *testing.T) string {
	t.Helper()
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run through `make test`, which installs Helm into bin/")
	}
	return helm
}

// template renders the chart into clearhouse-system with the given --set values.
func template(t *testing.T, release string, set ...string) string {
	t.Helper()
	args := []string{"template", release, "charts/clearhouse", "--namespace", "clearhouse-system"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return run(t, nil, helmBin(t), args...)
}

// objects parses rendered manifests into generic objects.
func objects(t *testing.T, rendered string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, doc := range strings.Split(rendered, "\n---\n") {
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatal(err)
		}
		if o["kind"] != nil {
			out = append(out, o)
		}
	}
	return out
}

// TestHelmLongReleaseNameIsValid: Helm accepts release names of up to 53 characters,
// and every object the chart renders for one must still be valid: a Service name is a
// DNS label of at most 63 characters, so a suffix must not push it past that.
func TestHelmLongReleaseNameIsValid(t *testing.T) {
	release := "settlement-reconciliation-production-euwest-primary1"
	release += strings.Repeat("x", 53-len(release))
	rendered := template(t, release, "metrics.serviceMonitor.enabled=true", "store.persistence.enabled=true")
	accepted := dryRun(t, []byte(rendered))
	if want := len(objects(t, rendered)); len(accepted) != want {
		t.Errorf("%d objects accepted, want %d:\n%s", len(accepted), want, strings.Join(accepted, "\n"))
	}
}
