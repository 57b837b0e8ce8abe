package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

// runRenderCommand runs `clearhouse render args...` (from the repository root: the
// tests chdir there, as a GitOps pipeline runs from its repository's root).
func runRenderCommand(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd, _ := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(append([]string{"render"}, args...))
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func readGolden(t *testing.T, name string) string {
	t.Helper()
	// The same golden files as internal/render's own tests (go test
	// ./internal/render -update rewrites them).
	b, err := os.ReadFile(filepath.Join("internal", "render", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRenderCommand(t *testing.T) {
	t.Chdir(testenv.RepoRoot())
	cases := []struct {
		name, golden string
		args         []string
	}{
		{"samples", "samples", []string{"-f", "config/samples"}},
		{"testdata", "gitops", []string{"-f", "internal/render/testdata/gitops", "-n", "shop"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, notes, err := runRenderCommand(t, "", c.args...)
			if err != nil {
				t.Fatal(err)
			}
			if want := readGolden(t, c.golden+".golden"); out != want {
				t.Errorf("stdout differs from internal/render/testdata/%s.golden:\n%s", c.golden, out)
			}
			notes = strings.ReplaceAll(notes, "internal/render/testdata/", "testdata/")
			if want := readGolden(t, c.golden+".stderr.golden"); notes != want {
				t.Errorf("stderr differs from internal/render/testdata/%s.stderr.golden:\n%s", c.golden, notes)
			}
		})
	}
}

func TestRenderCommandStdinAndErrors(t *testing.T) {
	t.Chdir(testenv.RepoRoot())
	b, err := os.ReadFile(filepath.Join("internal", "render", "testdata", "gitops", "payments.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := runRenderCommand(t, string(b), "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "kind: KafkaTopic\n") || !strings.Contains(out, "name: payments-ledger-cdc\n") {
		t.Errorf("stdin rendering:\n%s", out)
	}

	_, _, err = runRenderCommand(t, "", "-f", "internal/render/testdata/bad-yaml.yaml")
	if want := "render: internal/render/testdata/bad-yaml.yaml document 2: invalid YAML"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want it to start with %q", err, want)
	}
	_, _, err = runRenderCommand(t, "")
	if err == nil || !strings.Contains(err.Error(), "give at least one -f") {
		t.Errorf("no -f: error %v", err)
	}
}
