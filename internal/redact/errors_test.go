package redact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestError(t *testing.T) {
	deadline := fmt.Errorf("connecting: %w", fmt.Errorf("user hunter2: %w", context.DeadlineExceeded))
	err := Error(deadline, "hunter2")
	if err.Error() != "connecting: user <redacted>: context deadline exceeded" || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
	if err := Error(fmt.Errorf("pw hunter2: %w", context.Canceled), "hunter2"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	// The chain held the secret: nothing of it can be reached any more.
	wrapped := fmt.Errorf("read: %w", &holder{secret: "s3cret!"})
	err = Error(wrapped, "s3cret!")
	var h *holder
	if errors.As(err, &h) || errors.Unwrap(err) != nil {
		t.Errorf("the chain is still reachable: %v", err)
	}
	// Every secret goes, however short; empty ones are ignored.
	if got := Error(errors.New("a=ab b=abc"), "", "abc", "ab").Error(); got != "a=<redacted> b=<redacted>" {
		t.Errorf("two secrets: %q", got)
	}
	plain := errors.New("no secret here")
	if Error(plain, "hunter2") != plain || Error(plain) != plain || Error(plain, "") != plain {
		t.Error("an error without the secret is changed")
	}
	if Error(nil, "x") != nil {
		t.Error("nil is not nil")
	}
	if err := Error(io.EOF, "EOF"); errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF") {
		t.Errorf("EOF: %v", err)
	}
}

type holder struct{ secret string }

func (h *holder) Error() string { return "holds " + h.secret }

func TestURLSecrets(t *testing.T) {
	for _, c := range []struct {
		uri  string
		want []string
	}{
		{"postgres://u:pw1@h/db", []string{"pw1"}},
		{"postgres://u@h/db?password=pw2&sslmode=disable", []string{"pw2"}},
		{"postgres://u:pw1@h/db?api_token=t", []string{"pw1", "t"}},
		{"sqlite:/var/lib/x.db", nil},
		{"postgres://h/db\x7f", nil},
	} {
		got := URLSecrets(c.uri)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%q: %q, want %q", c.uri, got, c.want)
		}
	}
}
