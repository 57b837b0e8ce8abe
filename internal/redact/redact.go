// Package redact makes URIs safe to show: in messages, logs and status.
package redact

import (
	"net/url"
	"strings"
)

// URL returns raw without user info, query and fragment, any of which may hold a
// credential (postgres://u:pw@h/db, ?password=…, a signed URL's token).
func URL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err == nil && (u.User != nil || !strings.Contains(raw, "@")):
		return clean(u).String()
	case err == nil && !strings.Contains(u.Path+u.Opaque, "@"):
		// An '@' only past the path (?user=a@b.com), or one the parser did not take for the
		// end of user info because the password holds a '?' or '#' (u:12#pw@host parses
		// with host "u:12"): without the port, neither shows a password.
		c := clean(u)
		c.Host = u.Hostname()
		return c.String()
	}
	// Not a URL, or an '@' in its path: a password with a '/' (u:p/w@host), or a path
	// with an '@'. When the authority plainly ends at its last '@' (no '/', '?' or '#'
	// before it), what follows is shown (postgres://h:99x/db: the bad port); else no more
	// than the scheme.
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 && !strings.ContainsAny(rest[:at], "/?#") {
			rest = rest[at+1:]
			if j := strings.IndexAny(rest, "?#"); j >= 0 {
				rest = rest[:j]
			}
			return raw[:i+3] + rest
		}
		return raw[:i+3] + "<redacted>"
	}
	if err == nil && u.Scheme != "" {
		return u.Scheme + ":<redacted>"
	}
	return "<redacted>"
}

// clean is u without user info, query and fragment.
func clean(u *url.URL) *url.URL {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.ForceQuery = false
	c.Fragment = ""
	c.RawFragment = ""
	return &c
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
		if secretParam(name) {
			return true
		}
	}
	return false
}

// secretParam reports whether a query parameter of that name holds a credential.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, secret := range []string{"password", "passwd", "token", "secret"} {
		if strings.Contains(n, secret) {
			return true
		}
	}
	return false
}
