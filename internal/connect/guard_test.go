package connect

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// A DataSource cannot make the manager or a worker read its own secrets or state: the
// ServiceAccount token, /proc/self/environ (the store's password), directly or through
// a symlink. An ordinary file is fine.
func TestCheckFileURL(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ledger.csv")
	if err := os.WriteFile(ok, []byte("id\n1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "innocent.csv")
	if err := os.Symlink("/proc/self/environ", link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		url  string
		want string // "" when allowed
	}{
		{"file://" + ok, ""},
		{"https://files.example.com/ledger.csv", ""},
		{"file:///proc/self/environ", "is under /proc"},
		{"file:///var/run/secrets/kubernetes.io/serviceaccount/token", "is under /var/run"},
		{"file:///run/secrets/kubernetes.io/serviceaccount/token", "is under /run"},
		{"file:///data/../proc/1/environ", "is under /proc"},
		{"file://" + link, "is under /proc"},
	} {
		err := checkFileURL("ns/ds", c.url)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.url, err, c.want)
		}
	}
}

// The default HTTP client refuses the cloud metadata service, whatever the URL says.
func TestGuardedClientRefusesLinkLocal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/x"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := guardedClient().Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "link-local") {
			t.Errorf("%s: %v, want a refusal", u, err)
		}
	}
}

// Credentials never go over plain http, except to this machine.
func TestNoCredentialsOverHTTP(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"http://files.example.com/bank.csv", false},
		{"https://files.example.com/bank.csv", true},
		{"http://127.0.0.1:8080/bank.csv", true},
	} {
		src := &Source{Name: "ns/bank", DataSource: fileDataSource(c.url), cred: &Credential{Username: "u", Password: "pw-123"}}
		_, _, err := src.FileOptions(OpenOptions{})
		if (err == nil) != c.ok || err != nil && (!strings.Contains(err.Error(), "use https://") || strings.Contains(err.Error(), "pw-123")) {
			t.Errorf("%s: %v", c.url, err)
		}
	}
}

func fileDataSource(url string) *chv1.DataSource {
	return &chv1.DataSource{Spec: chv1.DataSourceSpec{Type: chv1.DataSourceFile,
		File: &chv1.FileSource{URL: url, Format: chv1.FileCSV}}}
}
