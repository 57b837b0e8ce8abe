// Package redact makes URIs safe to show: in messages, logs and status.
package redact

import (
	"net/url"
	"strings"
)

// URL returns raw without user info, query and fragment, any of which may hold a
// credential (postgres://u:pw@h/db, ?password=…, a signed URL's token).
func URL(raw string) string {
	if u, err := url.Parse(raw); err == nil && (u.User != nil || !strings.Contains(raw, "@")) {
		c := *u
		c.User = nil
		c.RawQuery = ""
		c.ForceQuery = false
		c.Fragment = ""
		c.RawFragment = ""
		return c.String()
	}
	// Not a URL, or an '@' the parser did not take as the end of user info: a password
	// with '/', '?' or '#' in it. Drop everything up to the last '@', then the query.
	s := raw
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.LastIndex(s[i+3:], "@"); j >= 0 {
			s = s[:i+3] + s[i+3+j+1:]
		}
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	return s
}

// HasPassword reports whether a URI carries a credential: a password in its user info,
// or a query parameter that holds one (?password=…, as PostgreSQL drivers read, a token
// or a secret). A URI that does not parse and has an '@' is taken to carry one.
func HasPassword(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return strings.Contains(raw, "@")
	}
	if _, ok := u.User.Password(); ok {
		return true
	}
	if u.User == nil && strings.Contains(raw, "@") {
		// An '@' the parser did not take for the end of user info: maybe a password with
		// '/', '?' or '#' in it. (A path with an '@' is taken for one too: better safe.)
		return true
	}
	for name := range u.Query() {
		n := strings.ToLower(name)
		for _, secret := range []string{"password", "passwd", "token", "secret"} {
			if strings.Contains(n, secret) {
				return true
			}
		}
	}
	return false
}
