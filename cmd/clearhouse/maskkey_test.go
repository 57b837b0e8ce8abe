package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenMaskKeyFileRoundTrip: gen writes the key its expected.json masks with, and
// diff given that file returns exactly expected.json; without it, diff masks with a key
// of its own and the masked values differ.
func TestGenMaskKeyFileRoundTrip(t *testing.T) {
	t.Setenv(envMaskKey, "") // not from the environment of whoever runs the tests
	_ = os.Unsetenv(envMaskKey)
	dir := t.TempDir()
	root, _ := newRootCommand()
	var genOut bytes.Buffer
	root.SetOut(&genOut)
	root.SetArgs([]string{"gen", "--dir", dir, "--rows", "300", "--seed", "9"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "mask.key")
	if !strings.Contains(genOut.String(), "pass --mask-key-file "+keyFile+" to diff") {
		t.Errorf("gen output does not point at the key file:\n%s", genOut.String())
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp expectedSet
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	want := canonical(exp.Discrepancies)
	maskedAccount := false
	for _, w := range want {
		maskedAccount = maskedAccount || strings.Contains(w, `"name":"account","source":"***`)
	}
	if !maskedAccount {
		t.Fatal("expected.json masks no account: the test checks nothing")
	}
	run := func(args ...string) []string {
		t.Helper()
		root, _ := newRootCommand()
		var out, errOut bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(append([]string{"diff", "--source", filepath.Join(dir, "source.csv"), "--target", filepath.Join(dir, "target.csv"),
			"--key", "id", "--tolerance", "amount=0.01", "--time-tolerance", "booked_at=2s", "--type", "value_date=date",
			"--sensitive", "account", "--output", "json", "--progress=false"}, args...))
		_ = root.Execute() // exit status 1: discrepancies found
		var got expectedSet
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut.String())
		}
		return canonical(got.Discrepancies)
	}
	got := run("--mask-key-file", keyFile)
	assertSameSet(t, exp.Summary, want, exp.Summary, got)

	key, _ := os.ReadFile(keyFile)
	t.Setenv(envMaskKey, string(key))
	assertSameSet(t, exp.Summary, want, exp.Summary, run())

	_ = os.Unsetenv(envMaskKey)
	if other := run(); strings.Join(other, "\n") == strings.Join(want, "\n") {
		t.Error("without the key, diff masked as expected.json: the masks would be guessable")
	}
}

func TestMaskKeyErrors(t *testing.T) {
	short := filepath.Join(t.TempDir(), "short.key")
	if err := os.WriteFile(short, []byte("tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, env, want string }{
		{short, "", "--mask-key-file " + short + ": the mask key has 8 bytes; want at least 32 (head -c 32 /dev/urandom | base64 makes one)"},
		{"", "  x  ", "$CLEARHOUSE_MASK_KEY: the mask key has 1 bytes; want at least 32 (head -c 32 /dev/urandom | base64 makes one)"},
		{filepath.Join(t.TempDir(), "none"), "", "--mask-key-file: open "},
	} {
		t.Setenv(envMaskKey, tc.env)
		if tc.env == "" {
			_ = os.Unsetenv(envMaskKey)
		}
		_, err := maskKey(tc.file)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("maskKey(%q) with $%s=%q: %v, want %q", tc.file, envMaskKey, tc.env, err, tc.want)
		}
	}
	for _, v := range []string{"", " \n"} {
		t.Setenv(envMaskKey, v) // exported empty: as if unset
		if k, err := maskKey(""); k != nil || err != nil {
			t.Errorf("$%s=%q: %q, %v; want nil (a key drawn for the run)", envMaskKey, v, k, err)
		}
	}
	_ = os.Unsetenv(envMaskKey)
	if k, err := maskKey(""); k != nil || err != nil {
		t.Errorf("no key given: %q, %v; want nil (a key drawn for the run)", k, err)
	}
}
