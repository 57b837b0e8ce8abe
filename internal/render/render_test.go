package render_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/golden"
	"github.com/clearhouse-dev/clearhouse/internal/render"
)

func run(t *testing.T, in render.Input) (stdout, stderr []byte, err error) {
	t.Helper()
	var out, notes bytes.Buffer
	in.Notes = &notes
	err = render.Run(in, &out)
	return out.Bytes(), notes.Bytes(), err
}

// GoldenCases are shared with cmd/clearhouse's test of the command: the paths are
// relative to the repository root there, to this package here.
func TestGolden(t *testing.T) {
	samples := filepath.Join("..", "..", "config", "samples")
	cases := []struct {
		name      string
		in        render.Input
		stdinFile string
	}{
		{name: "gitops", in: render.Input{Paths: []string{"testdata/gitops"}, Namespace: "shop"}},
		{name: "samples", in: render.Input{Paths: []string{samples}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, notes, err := run(t, c.in)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "./internal/render", c.name+".golden", out)
			golden.Check(t, "./internal/render", c.name+".stderr.golden", bytes.ReplaceAll(notes, []byte(samples+"/"), []byte("config/samples/")))
		})
	}
}

// TestSameInputsSameBytes: order of the inputs, stdin versus file, and -R over a
// directory with nothing more to render change nothing in the output.
func TestSameInputsSameBytes(t *testing.T) {
	want, _, err := run(t, render.Input{Paths: []string{"testdata/gitops"}, Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("nothing rendered")
	}
	stdin, err := os.ReadFile("testdata/gitops/payments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string]render.Input{
		"reversed":  {Paths: []string{"testdata/gitops/payments.yaml", "testdata/gitops/orders.json"}, Namespace: "shop"},
		"stdin":     {Paths: []string{"testdata/gitops/orders.json", "-"}, Namespace: "shop", Stdin: bytes.NewReader(stdin)},
		"recursive": {Paths: []string{"testdata/gitops"}, Namespace: "shop", Recursive: true},
	}
	for name, in := range variants {
		got, _, err := run(t, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: output differs:\n%s", name, got)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name  string
		paths []string
		want  string
	}{
		{"invalid yaml", []string{"testdata/bad-yaml.yaml"}, "testdata/bad-yaml.yaml document 2: invalid YAML"},
		{"unknown field", []string{"testdata/unknown-field.yaml"}, `testdata/unknown-field.yaml document 1: DataSource typo: error unmarshaling JSON: while decoding JSON: json: unknown field "captur"`},
		{"query capture", []string{"testdata/query-capture.yaml"}, "datasource payments/by-query: spec.capture: a query-based source cannot be captured"},
		{"missing file", []string{"testdata/nope.yaml"}, "testdata/nope.yaml: no such file or directory"},
		{"defined twice", []string{"testdata/gitops", "testdata/gitops/orders.json"}, "testdata/gitops/orders.json document 1: DataSource shop/orders is also defined in testdata/gitops/orders.json document 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := run(t, render.Input{Paths: c.paths, Namespace: "shop"})
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\ndoes not contain %q", err, c.want)
			}
			if len(out) != 0 {
				t.Errorf("wrote output despite the error:\n%s", out)
			}
		})
	}
}
