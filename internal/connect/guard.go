package connect

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// A DataSource's file is opened by the manager (probes, inline runs) and by workers,
// on behalf of whoever may create DataSources. Those processes hold what a tenant must
// not read: the ServiceAccount token, the environment (the store's password), and the
// cloud metadata service. Such files and hosts are refused. (The CLI's diff reads what
// its user asks: it does not come through here.)

// forbiddenDirs are the trees of a pod's own secrets and process state.
var forbiddenDirs = []string{"/proc", "/sys", "/dev", "/run", "/var/run"}

// checkFileURL refuses a file:// URL whose path, symlinks resolved, is under one of
// forbiddenDirs.
func checkFileURL(name, raw string) error {
	if !strings.HasPrefix(raw, "file://") {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("datasource %s: url: %w", name, err)
	}
	p := filepath.Clean(u.Path)
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	for _, d := range forbiddenDirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return fmt.Errorf("datasource %s: file %s is under %s, which holds the reading process's own secrets and state: not a data file", name, u.Path, d)
		}
	}
	return nil
}

// guardedClient is an HTTP client that refuses link-local addresses (169.254.0.0/16,
// fe80::/10: the cloud metadata service) whatever the URL's host resolves to.
func guardedClient() *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip != nil && (ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()) {
				return fmt.Errorf("refusing %s: a link-local address (the cloud metadata service) is not a data source", host)
			}
			return nil
		}}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

// loopback reports whether host is this machine (a test server): credentials may go to
// it over plain http.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
