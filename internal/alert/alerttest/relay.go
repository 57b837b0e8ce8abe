// Package alerttest gives tests a real SMTP relay (go-smtp) on a local address that
// keeps what it is sent, for the alert package and for tests of alerts sent by the
// controller.
package alerttest

import (
	"crypto/tls"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Relay is a real SMTP server that accepts mail for any recipient but "nobody@…"
// (550), offers AUTH PLAIN, and keeps every message and every AUTH it receives.
type Relay struct {
	// Addr is where the relay listens.
	Addr *net.TCPAddr
	// Reject, when set before the first session, answers MAIL FROM in session n
	// (1-based) with its error.
	Reject func(n int) error
	// Password, when set before the first session, is the only password AUTH accepts;
	// empty: any.
	Password string

	srv      *smtp.Server
	mu       sync.Mutex
	mails    []Mail
	auths    []string // "user:password" of each AUTH PLAIN
	sessions int
}

// Mail is one message the relay accepted.
type Mail struct {
	From string
	To   []string
	Data []byte
	// TLS says whether the session was encrypted; User is who authenticated ("": no one).
	TLS  bool
	User string
}

type session struct {
	r    *Relay
	c    *smtp.Conn
	n    int
	user string
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.r.mu.Lock()
		defer s.r.mu.Unlock()
		s.r.auths = append(s.r.auths, user+":"+pass)
		if s.r.Password != "" && pass != s.r.Password {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.r.Reject != nil {
		if err := s.r.Reject(s.n); err != nil {
			return err
		}
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "nobody@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.c.TLSConnectionState()
	s.r.mu.Lock()
	s.r.mails = append(s.r.mails, Mail{From: s.from, To: s.to, Data: b, TLS: isTLS, User: s.user})
	s.r.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// NewRelay starts a relay on host (an IP), offering STARTTLS when cert is given and AUTH
// in clear text when insecureAuth. It stops when the test ends.
func NewRelay(t testing.TB, host string, cert *tls.Certificate, insecureAuth bool) *Relay {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	return ServeRelay(t, l, l.Addr(), cert, insecureAuth)
}

// ServeRelay serves a relay on l (a TLS listener for implicit TLS), known as addr.
func ServeRelay(t testing.TB, l net.Listener, addr net.Addr, cert *tls.Certificate, insecureAuth bool) *Relay {
	r := &Relay{Addr: addr.(*net.TCPAddr)}
	r.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		r.mu.Lock()
		r.sessions++
		n := r.sessions
		r.mu.Unlock()
		return &session{r: r, c: c, n: n}, nil
	}))
	r.srv.Domain = "relay.test"
	r.srv.AllowInsecureAuth = insecureAuth
	r.srv.ReadTimeout = time.Minute
	r.srv.WriteTimeout = time.Minute
	if cert != nil {
		r.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	go func() { _ = r.srv.Serve(l) }()
	t.Cleanup(func() { _ = r.srv.Close() })
	return r
}

// Received returns the messages accepted, the AUTHs tried ("user:password") and the
// number of sessions so far.
func (r *Relay) Received() ([]Mail, []string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.mails), slices.Clone(r.auths), r.sessions
}
