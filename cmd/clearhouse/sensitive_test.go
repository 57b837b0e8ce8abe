package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSensitiveInput(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Sensitive columns (a key and compared columns) are masked in every output format and
// strategy, in every outcome kind, in errors and in the --stats line.
func TestSensitiveCLI(t *testing.T) {
	dir := t.TempDir()
	// acct (key), amount (decimal) and card are sensitive; every value holding SECRET,
	// and the amounts 12.5/13.5, must never appear.
	src := writeSensitiveInput(t, dir, "s.csv", "acct,amount,card,note\n"+
		"SECRETa1,12.5,SECRETc1,n\n"+ // mismatch amount + card
		"SECRETa2,SECRETamt,SECRETc2,n\n"+ // invalid decimal
		"SECRETa3,1,SECRETc3,n\n"+ // duplicate key
		"SECRETa3,1,SECRETc3,n\n"+
		"SECRETa4,1,SECRETc4,n\n"+ // missing in target
		",1,SECRETc5,n\n"+ // empty key
		"SECRETa6,1,SECRETc6\n"+ // too few fields
		"SECRETa7,1,\"SECRETc7\"x,n\n") // malformed quote
	tgt := writeSensitiveInput(t, dir, "t.csv", "acct,amount,card,note\n"+
		"SECRETa1,13.5,SECRETd1,n\n"+
		"SECRETa2,1,SECRETc2,n\n"+
		"SECRETa3,1,SECRETc3,n\n"+
		"SECRETa5,1,SECRETc5,n\n"+ // missing in source
		"SECRETa7,1,SECRETc7,n\n")
	for _, strategy := range []string{"hash", "merge"} {
		for _, output := range []string{"table", "json", "jsonl", "csv"} {
			out, errOut, err := runDiffCmd(t, "--source", src, "--target", tgt, "--key", "acct",
				"--type", "amount=decimal", "--sensitive", "acct", "--sensitive", "amount", "--sensitive", "card",
				"--strategy", strategy, "--output", output, "--stats")
			all := out + "\n" + errOut
			if err != nil {
				all += "\n" + err.Error()
			}
			if !strings.Contains(all, "***") {
				t.Errorf("%s %s: nothing masked?\n%s", strategy, output, all)
			}
			for _, leak := range []string{"SECRET", "12.5", "13.5"} {
				if strings.Contains(all, leak) {
					t.Errorf("%s %s: %q in clear:\n%s", strategy, output, leak, all)
				}
			}
		}
	}
}

// An out-of-order source under merge fails (exit 2) naming the keys masked.
func TestSensitiveMergeOrderError(t *testing.T) {
	dir := t.TempDir()
	src := writeSensitiveInput(t, dir, "s.csv", "acct,v\nSECRETb,1\nSECRETa,1\n")
	tgt := writeSensitiveInput(t, dir, "t.csv", "acct,v\nSECRETa,1\nSECRETb,1\n")
	for _, output := range []string{"table", "json"} {
		out, errOut, err := runDiffCmd(t, "--source", src, "--target", tgt, "--key", "acct", "--sensitive", "acct",
			"--strategy", "merge", "--output", output)
		if err == nil {
			t.Fatalf("no error:\n%s", out)
		}
		all := out + errOut + err.Error()
		if !strings.Contains(err.Error(), "not in key order") {
			t.Errorf("error %q", err)
		}
		if strings.Contains(all, "SECRET") {
			t.Errorf("%s: sensitive key in clear:\n%s", output, all)
		}
	}
}

// A malformed row's reason does not quote any part of a sensitive value, in CSV and JSON
// Lines: the character after a closing quote, or after a backslash, is the value's.
func TestSensitiveMalformedRowReason(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, src, tgt string }{
		{"s.csv", "acct,card\nk1,\"1234\"5678\n", "acct,card\nk1,12345678\n"},
		{"s.jsonl", `{"acct":"k0","card":"1"}` + "\n" + `{"acct":"k1","card":S3CRET}` + "\n", `{"acct":"k1","card":"1234"}` + "\n"},
		{"s.jsonl", `{"acct":"k0","card":"1"}` + "\n" + `{"acct":"k1","card":{"a":S3}}` + "\n", `{"acct":"k1","card":"1234"}` + "\n"},
		{"s.jsonl", `{"acct":"k0","card":"1"}` + "\n" + `{"acct":"k1","card":"12\34"}` + "\n", `{"acct":"k1","card":"1234"}` + "\n"},
		{"s.jsonl", `{"acct":"k0","card":"1"}` + "\n" + `{"acct":"k1","card":12Z4}` + "\n", `{"acct":"k1","card":"1234"}` + "\n"},
	} {
		ext := filepath.Ext(c.name)
		src := writeSensitiveInput(t, dir, "s"+ext, c.src)
		tgt := writeSensitiveInput(t, dir, "t"+ext, c.tgt)
		out, errOut, err := runDiffCmd(t, "--source", src, "--target", tgt, "--key", "acct", "--sensitive", "card", "--output", "jsonl")
		all := out + errOut
		if err != nil {
			all += err.Error()
		}
		if !strings.Contains(all, "invalid_row") {
			t.Errorf("%s: no invalid_row:\n%s", c.name, all)
		}
		for _, leak := range []string{"'5'", "'3'", "'Z'", "'S'", `"5"`, `"3"`, `"Z"`, "5678"} {
			if strings.Contains(all, leak) {
				t.Errorf("%s: the reason quotes part of the sensitive value (%s):\n%s", c.name, leak, all)
			}
		}
	}
}
