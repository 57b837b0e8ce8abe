package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// runDiffCmd runs `clearhouse diff` with args and returns stdout, stderr and the
// error Execute returns (nil: exit 0; exitCodeError{1}: exit 1; anything else: exit 2).
func runDiffCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd, _ := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"diff", "--progress=false"}, args...))
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func exitCode(err error) int {
	var ec exitCodeError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ec):
		return ec.code
	}
	return 2
}

// A generated JSON Lines pair where one side has no rows (every key missing on it)
// is an empty .jsonl file. Diffing it with the comparison of manifest.json must
// return expected.json (every row missing on the empty side), for every strategy,
// not fail with "neither a key nor a compared column" or "ordered-by column ... is
// not a column of the file (columns: [])".
func TestEmptyJSONLSideFindsTheGeneratedSet(t *testing.T) {
	for _, kind := range []string{"missingInTarget", "missingInSource"} {
		for _, sorted := range []bool{false, true} {
			dir := t.TempDir()
			cfg := gen.DefaultConfig(dir)
			cfg.Rows, cfg.Format, cfg.Sorted = 3, source.FormatJSONL, sorted
			cfg.Inject = gen.Injections{}
			if err := cfg.Inject.Set(kind, 3); err != nil {
				t.Fatal(err)
			}
			if err := gen.Generate(cfg); err != nil {
				t.Fatal(err)
			}
			p := &pair{dir: dir, format: source.FormatJSONL}
			b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &p.expected); err != nil {
				t.Fatal(err)
			}
			strategies := []string{"hash", "auto"}
			if sorted {
				strategies = append(strategies, "merge")
			}
			for _, strategy := range strategies {
				t.Run(fmt.Sprintf("%s/sorted=%t/%s", kind, sorted, strategy), func(t *testing.T) {
					gotSum, got := runJSON(t, diffRun{
						flags:  diffFlagsFor(false, strategy),
						srcURI: p.file("source"), tgtURI: p.file("target"),
						sorted: sorted, memory: 256 << 20, tempDir: t.TempDir(),
					})
					assertSameSet(t, p.expected.Summary, canonical(p.expected.Discrepancies), gotSum, got)
				})
			}
		}
	}
}

func smallCSVPair(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	src, tgt := filepath.Join(dir, "s.csv"), filepath.Join(dir, "t.csv")
	if err := os.WriteFile(src, []byte("id,amount\n1,10.5\n2,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tgt, []byte("id,amount\n1,10.50\n3,4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return src, tgt
}

// --memory 0 is not a budget: it must be refused (exit 2, naming the flag), not run
// silently with the default budget.
func TestMemoryZeroRefused(t *testing.T) {
	src, tgt := smallCSVPair(t)
	for _, m := range []string{"0", "0B"} {
		_, _, err := runDiffCmd(t, "--source", src, "--target", tgt, "--key", "id", "--memory", m, "--output", "json")
		if exitCode(err) != 2 || !strings.Contains(err.Error(), "--memory") {
			t.Errorf("--memory %s: exit %d, error %v; want exit 2 naming --memory", m, exitCode(err), err)
		}
	}
}

// --map SRC=TGT with a TGT the target lacks must name that mapping and the missing
// target column, not claim SRC "is neither a key nor a compared column".
func TestMapToMissingTargetColumn(t *testing.T) {
	src, tgt := smallCSVPair(t)
	_, _, err := runDiffCmd(t, "--source", src, "--target", tgt, "--key", "id", "--map", "amount=nosuch")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), `--map amount=nosuch`) || !strings.Contains(err.Error(), "nosuch") ||
		strings.Contains(err.Error(), "neither a key nor a compared column") {
		t.Errorf("exit %d, error %v; want exit 2 naming --map amount=nosuch and the missing target column", exitCode(err), err)
	}
}

// Exit 1 when the only discrepancies are invalid rows, or only duplicate keys.
func TestExitOneForInvalidOrDuplicateOnly(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tgt := write("t.csv", "id,a\n1,x\n")
	for name, body := range map[string]string{"dup.csv": "id,a\n1,x\n1,x\n", "nullkey.csv": "id,a\n1,x\n,y\n", "bad.csv": "id,a\n1,x\n2,y\n"} {
		src := write(name, body)
		args := []string{"--source", src, "--target", tgt, "--key", "id", "--output", "json"}
		if name == "bad.csv" {
			// 2 is missing in target too; an integer column that does not parse is the
			// only other outcome. Use a target with both keys.
			tgt2 := write("t2.csv", "id,a\n1,x\n2,y\n")
			args = []string{"--source", src, "--target", tgt2, "--key", "id", "--type", "a=integer", "--output", "json"}
		}
		_, _, err := runDiffCmd(t, args...)
		if exitCode(err) != 1 {
			t.Errorf("%s: exit %d (%v), want 1", name, exitCode(err), err)
		}
	}
}

// --output json stays one valid JSON document when --max-discrepancies cuts the run
// short, and says so.
func TestJSONTruncatedIsOneDocument(t *testing.T) {
	p := generated(t, 1000, source.FormatCSV, false, false)
	out, _, err := runDiffCmd(t, "--source", p.file("source"), "--target", p.file("target"), "--key", "id",
		"--tolerance", "amount=0.01", "--time-tolerance", "booked_at=2s", "--type", "value_date=date",
		"--max-discrepancies", "3", "--output", "json")
	if exitCode(err) != 1 {
		t.Fatalf("exit %d (%v)", exitCode(err), err)
	}
	var doc struct {
		Summary       map[string]any
		Discrepancies []json.RawMessage
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("more than one document: %s", out)
	}
	if doc.Summary["truncated"] != true || len(doc.Discrepancies) != 3 {
		t.Errorf("truncated %v, %d discrepancies; want true, 3", doc.Summary["truncated"], len(doc.Discrepancies))
	}
}

// https: a TLS source is read (trusting the server's certificate through the
// default transport, as SSL_CERT_FILE would for the binary), and a server that dies
// mid-body is an error (exit 2), never a silent partial comparison.
func TestHTTPS(t *testing.T) {
	body := "id,amount\n"
	for i := range 2000 {
		body += fmt.Sprintf("%05d,%d.00\n", i, i)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/500.csv" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/broken.csv" {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			_, _ = w.Write([]byte(body[:len(body)/2]))
			hj, ok := w.(http.Hijacker)
			if !ok {
				panic("no hijacker")
			}
			w.(http.Flusher).Flush()
			c, _, _ := hj.Hijack()
			_ = c.Close()
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	old := http.DefaultClient.Transport
	http.DefaultClient.Transport = srv.Client().Transport
	defer func() { http.DefaultClient.Transport = old }()

	_, _, err := runDiffCmd(t, "--source", srv.URL+"/ok.csv", "--target", srv.URL+"/ok.csv", "--key", "id", "--output", "json")
	if exitCode(err) != 0 {
		t.Errorf("https pair: exit %d (%v), want 0", exitCode(err), err)
	}
	_, _, err = runDiffCmd(t, "--source", srv.URL+"/500.csv", "--target", srv.URL+"/ok.csv", "--key", "id", "--output", "json")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "500") {
		t.Errorf("HTTP 500: exit %d (%v), want 2 naming the status", exitCode(err), err)
	}
	for _, strategy := range []string{"hash", "merge"} {
		_, _, err = runDiffCmd(t, "--source", srv.URL+"/broken.csv", "--target", srv.URL+"/ok.csv", "--key", "id",
			"--output", "json", "--strategy", strategy, "--sorted")
		if exitCode(err) != 2 {
			t.Errorf("%s: server dying mid-body: exit %d (%v), want 2", strategy, exitCode(err), err)
		}
	}
}

// A generated JSON Lines pair of 0 rows is two empty files: no discrepancies, exit 0,
// with the comparison of manifest.json (rules naming columns) and with --sorted.
func TestBothJSONLSidesEmpty(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.DefaultConfig(dir)
	cfg.Rows, cfg.Format, cfg.Inject = 0, source.FormatJSONL, gen.Injections{}
	if err := gen.Generate(cfg); err != nil {
		t.Fatal(err)
	}
	for _, strategy := range []string{"hash", "merge"} {
		out, _, err := runDiffCmd(t, "--source", filepath.Join(dir, "source.jsonl"), "--target", filepath.Join(dir, "target.jsonl"),
			"--key", "id", "--tolerance", "amount=0.01", "--time-tolerance", "booked_at=2s", "--type", "value_date=date",
			"--sensitive", "account", "--strategy", strategy, "--sorted", "--output", "json")
		if exitCode(err) != 0 || !strings.Contains(out, `"compared":0`) {
			t.Errorf("%s: exit %d (%v), output %s; want exit 0 and nothing compared", strategy, exitCode(err), err, out)
		}
	}
}

// Every malformed flag exits 2 with a message naming the flag and the value given.
func TestMalformedFlagsNamed(t *testing.T) {
	src, tgt := smallCSVPair(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--map", "a=b=c"}, []string{"--map", "a"}},
		{[]string{"--compare", "nosuch"}, []string{"nosuch"}},
		{[]string{"--type", "amount=money"}, []string{"--type", "money"}},
		{[]string{"--tolerance", "amount=abc"}, []string{"--tolerance", "amount=abc"}},
		{[]string{"--tolerance", "amount=-1"}, []string{"--tolerance", "amount=-1"}},
		{[]string{"--tolerance-relative", "amount=x"}, []string{"--tolerance-relative", "amount=x"}},
		{[]string{"--time-tolerance", "amount=5"}, []string{"--time-tolerance", "amount=5"}},
		{[]string{"--memory", "1KiB"}, []string{"--memory", "1KiB"}},
		{[]string{"--memory", "lots"}, []string{"--memory", "lots"}},
		{[]string{"--max-discrepancies", "-1"}, []string{"--max-discrepancies", "-1"}},
		{[]string{"--rows-per-second", "-5"}, []string{"--rows-per-second", "-5"}},
		{[]string{"--key", "id"}, []string{"--key", "id"}},
		{[]string{"--source-format", "xml"}, []string{"xml"}},
		{[]string{"--strategy", "bogus"}, []string{"--strategy", "bogus"}},
		{[]string{"--output", "yaml"}, []string{"--output", "yaml"}},
	} {
		_, _, err := runDiffCmd(t, append([]string{"--source", src, "--target", tgt, "--key", "id"}, tc.args...)...)
		if exitCode(err) != 2 {
			t.Errorf("%v: exit %d (%v), want 2", tc.args, exitCode(err), err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not name %q", tc.args, err, w)
			}
		}
	}
}

// The same command names the same flag at fault every time (the rule flags were
// checked in map order: a run said --sensitive, the next --type).
func TestUnusedRuleErrorIsStable(t *testing.T) {
	f := diffFlags{keys: []string{"id"}, types: []string{"x=date"}, sensitive: []string{"y"}, trim: []string{"z"}, timeTols: []string{"w=2s"}}
	for range 50 {
		_, _, err := buildSpec(f, []string{"id", "a"}, []string{"id", "a"})
		if err == nil || err.Error() != "--type x: x is neither a key nor a compared column" {
			t.Fatalf("error %v, want always the --type one", err)
		}
	}
}
