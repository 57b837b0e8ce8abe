// Package render turns Clearhouse resources, read from YAML files, directories or a
// stream, into every manifest the operator would create for them, for GitOps
// repositories that commit rendered manifests (clearhouse render).
//
// Rendered today: the change-data-capture pipeline of each DataSource with
// spec.capture (internal/pipeline). Kinds that render manifests add their part in
// Objects; BusinessModule (KafkaTopic per stream, KafkaUser, Role/RoleBinding) is the
// next one, and is reported as not rendered until then.
package render

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/pipeline"
)

// Input says what to read.
type Input struct {
	// Paths are files, directories (their .yaml, .yml and .json files, by name) or
	// "-" for Stdin, read in this order.
	Paths []string
	// Recursive descends into subdirectories of directories.
	Recursive bool
	// Namespace of resources that name none (default "default").
	Namespace string
	// Stdin is read for "-".
	Stdin io.Reader
	// Notes receives one line per skipped document or partial rendering (stderr).
	Notes io.Writer
}

// Run reads in and writes the manifests to w as one YAML stream.
func Run(in Input, w io.Writer) error {
	objs, err := Objects(in)
	if err != nil {
		return err
	}
	b, err := pipeline.YAML(objs)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Objects reads in and returns every manifest the operator would create for its
// resources, sorted by namespace, kind and name.
func Objects(in Input) ([]*unstructured.Unstructured, error) {
	if in.Namespace == "" {
		in.Namespace = "default"
	}
	if in.Notes == nil {
		in.Notes = io.Discard
	}
	docs, err := readDocuments(in.Stdin, in.Paths, in.Recursive)
	if err != nil {
		return nil, err
	}
	res, err := decodeResources(docs, in.Namespace, in.Notes)
	if err != nil {
		return nil, err
	}
	return renderResources(res, in.Notes)
}

// document is one YAML document of an input, with where it came from.
type document struct {
	where string // "config/samples/a.yaml document 2"
	json  []byte
}

// resources are the Clearhouse resources read, by kind.
type resources struct {
	dataSources []*chv1.DataSource
	modules     map[string]*chv1.BusinessModule // by namespace/name
}

// readDocuments splits every input into its YAML documents, in the order given
// (a directory's files by name).
func readDocuments(stdin io.Reader, inputs []string, recursive bool) ([]document, error) {
	var docs []document
	for _, in := range inputs {
		if in == "-" {
			d, err := splitDocuments(stdin, "stdin")
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
			continue
		}
		files, err := inputFiles(in, recursive)
		if err != nil {
			return nil, err
		}
		for _, path := range files {
			d, err := readFile(path)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
		}
	}
	return docs, nil
}

func readFile(path string) ([]document, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w", err)
	}
	defer func() { _ = fh.Close() }()
	return splitDocuments(fh, path)
}

// inputFiles is path itself, or the manifest files of a directory.
func inputFiles(path string, recursive bool) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && !recursive {
				return fs.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w", err)
	}
	return files, nil // WalkDir visits in lexical order
}

// splitDocuments reads a YAML stream ("---" separated; a JSON file is one document).
// Empty documents are dropped, but still counted, so numbers match the file.
func splitDocuments(r io.Reader, name string) ([]document, error) {
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var docs []document
	for n := 1; ; n++ {
		b, err := yr.Read()
		if err == io.EOF {
			return docs, nil
		}
		where := fmt.Sprintf("%s document %d", name, n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if len(bytes.TrimSpace(stripComments(b))) == 0 {
			continue
		}
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid YAML: %w", where, err)
		}
		if string(j) == "null" {
			continue
		}
		docs = append(docs, document{where: where, json: j})
	}
}

// stripComments drops whole-line comments, to tell an empty document from one with
// content.
func stripComments(b []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

// decodeResources decodes the Clearhouse resources among docs; other documents are
// skipped with a note on stderr.
func decodeResources(docs []document, namespace string, stderr io.Writer) (*resources, error) {
	res := &resources{modules: map[string]*chv1.BusinessModule{}}
	seen := map[string]string{}
	for _, d := range docs {
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(d.json); err != nil {
			// No apiVersion/kind (a kustomization.yaml, a values file): not a resource.
			fmt.Fprintf(stderr, "%s: skipped, not a Kubernetes resource (no apiVersion and kind)\n", d.where)
			continue
		}
		gvk := u.GroupVersionKind()
		if gvk.Group != chv1.GroupVersion.Group {
			fmt.Fprintf(stderr, "%s: skipped %s %s (not a Clearhouse resource)\n", d.where, u.GetAPIVersion(), u.GetKind())
			continue
		}
		if gvk.Version != chv1.GroupVersion.Version {
			return nil, fmt.Errorf("%s: apiVersion %s is not served; use %s", d.where, u.GetAPIVersion(), chv1.GroupVersion)
		}
		if u.GetNamespace() == "" {
			u.SetNamespace(namespace)
		}
		id := gvk.Kind + " " + u.GetNamespace() + "/" + u.GetName()
		if u.GetName() == "" {
			return nil, fmt.Errorf("%s: %s has no metadata.name", d.where, gvk.Kind)
		}
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("%s: %s is also defined in %s", d.where, id, prev)
		}
		seen[id] = d.where
		j, err := u.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.where, err)
		}
		switch gvk.Kind {
		case "DataSource":
			var ds chv1.DataSource
			if err := strictJSON(j, &ds); err != nil {
				return nil, fmt.Errorf("%s: DataSource %s: %w", d.where, u.GetName(), err)
			}
			res.dataSources = append(res.dataSources, &ds)
		case "BusinessModule":
			var bm chv1.BusinessModule
			if err := strictJSON(j, &bm); err != nil {
				return nil, fmt.Errorf("%s: BusinessModule %s: %w", d.where, u.GetName(), err)
			}
			res.modules[bm.Namespace+"/"+bm.Name] = &bm
		case "ReconciliationJob", "SettlementWindow":
			// The operator creates nothing declarative for these (runs are Jobs
			// made at run time, not manifests to commit).
		default:
			fmt.Fprintf(stderr, "%s: skipped unknown kind %s %s\n", d.where, u.GetAPIVersion(), gvk.Kind)
		}
	}
	return res, nil
}

func strictJSON(j []byte, v any) error {
	return yaml.UnmarshalStrict(j, v)
}

// renderResources returns every manifest the operator would create for res, sorted by
// namespace, kind and name. Each kind that renders manifests adds its part here.
func renderResources(res *resources, stderr io.Writer) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, ds := range res.dataSources {
		opts, note := pipeline.OptionsFor(ds, res.modules[ds.Namespace+"/"+ds.Spec.Module])
		objs, err := pipeline.Render(ds, opts)
		if err != nil {
			return nil, fmt.Errorf("%w", err)
		}
		if note != "" {
			fmt.Fprintf(stderr, "DataSource %s/%s: no KafkaTopic rendered (Kafka Connect will create the topics): %s\n", ds.Namespace, ds.Name, note)
		}
		out = append(out, objs...)
	}
	for _, key := range sortedKeys(res.modules) {
		// BusinessModule renderings (KafkaTopic per stream, KafkaUser, RBAC) are not
		// built yet; say so rather than print a partial set silently.
		fmt.Fprintf(stderr, "BusinessModule %s: its manifests (KafkaTopic, KafkaUser, Role/RoleBinding) are not rendered yet\n", key)
	}
	slices.SortStableFunc(out, func(a, b *unstructured.Unstructured) int {
		if c := strings.Compare(a.GetNamespace(), b.GetNamespace()); c != 0 {
			return c
		}
		if c := strings.Compare(a.GetKind(), b.GetKind()); c != 0 {
			return c
		}
		return strings.Compare(a.GetName(), b.GetName())
	})
	for i := 1; i < len(out); i++ {
		a, b := out[i-1], out[i]
		if a.GetNamespace() == b.GetNamespace() && a.GetKind() == b.GetKind() && a.GetName() == b.GetName() {
			return nil, fmt.Errorf("two resources render %s %s/%s (DataSources %s and %s)", a.GetKind(), a.GetNamespace(), a.GetName(),
				a.GetLabels()[pipeline.DataSourceLabel], b.GetLabels()[pipeline.DataSourceLabel])
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
