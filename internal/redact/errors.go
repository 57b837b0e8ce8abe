package redact

import (
	"context"
	"errors"
	"net/url"
	"strings"
)

// Placeholder is what stands where a credential was.
const Placeholder = "<redacted>"

// Error returns err with every occurrence of each non-empty secret in its message
// replaced by Placeholder: the last line of defence should a driver or server echo a
// credential. An error whose message holds none is returned as it is. One that does is
// replaced by an error that keeps only the redacted message and whether it was a
// cancellation or a deadline (errors.Is): the rest of its chain held the secret, and
// whoever unwrapped it could print it.
func Error(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	found := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, Placeholder)
			found = true
		}
	}
	if !found {
		return err
	}
	re := &redactedError{msg: msg}
	switch {
	case errors.Is(err, context.Canceled):
		re.cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		re.cause = context.DeadlineExceeded
	}
	return re
}

type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// URLSecrets returns the credentials a URI carries, for Error: the password of its
// user info and the values of its query parameters that HasPassword takes for
// credentials. Nil when it does not parse.
func URLSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []string
	if pw, ok := u.User.Password(); ok {
		out = append(out, pw)
	}
	for name, vs := range u.Query() {
		if secretParam(name) {
			out = append(out, vs...)
		}
	}
	return out
}
