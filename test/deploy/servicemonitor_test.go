package deploy

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestServiceMonitorSelectsTheMetricsService: a ServiceMonitor's selector picks
// Services by their labels. The chart's must match the metrics Service's own labels,
// or Prometheus has no target and every clearhouse_* series (and every alert rule on
// them) is silently absent. Same for the kustomize ServiceMonitor (config/prometheus)
// against config/default's Service.
func TestServiceMonitorSelectsTheMetricsService(t *testing.T) {
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run through `make test`, which installs Helm into bin/")
	}
	type object struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Ports []struct {
				Name string `json:"name"`
			} `json:"ports"`
			Endpoints []struct {
				Port string `json:"port"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
	parse := func(rendered string) []object {
		var out []object
		for _, doc := range strings.Split(rendered, "\n---\n") {
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatal(err)
			}
			if o.Kind != "" {
				out = append(out, o)
			}
		}
		return out
	}
	check := func(what string, objs []object) {
		t.Helper()
		var monitors, services []object
		for _, o := range objs {
			switch o.Kind {
			case "ServiceMonitor":
				monitors = append(monitors, o)
			case "Service":
				services = append(services, o)
			}
		}
		if len(monitors) != 1 {
			t.Fatalf("%s: %d ServiceMonitors", what, len(monitors))
		}
		m := monitors[0]
		var selected []string
		for _, s := range services {
			ok := len(m.Spec.Selector.MatchLabels) > 0
			for k, v := range m.Spec.Selector.MatchLabels {
				if s.Metadata.Labels[k] != v {
					ok = false
				}
			}
			if !ok {
				continue
			}
			for _, p := range s.Spec.Ports {
				if p.Name == m.Spec.Endpoints[0].Port {
					selected = append(selected, s.Metadata.Name)
				}
			}
		}
		if len(selected) != 1 {
			t.Errorf("%s: ServiceMonitor %s (matchLabels %v) selects Services %v with port %q, want exactly the metrics Service",
				what, m.Metadata.Name, m.Spec.Selector.MatchLabels, selected, m.Spec.Endpoints[0].Port)
		}
	}
	check("helm", parse(run(t, nil, helm, "template", "clearhouse", "charts/clearhouse",
		"--namespace", "clearhouse-system", "--set", "metrics.serviceMonitor.enabled=true")))
	kustomized := run(t, nil, env.Kubectl(), "kustomize", "config/default") + "\n---\n" +
		run(t, nil, env.Kubectl(), "kustomize", "config/prometheus")
	check("kustomize", parse(kustomized))
}
