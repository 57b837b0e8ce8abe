package alert

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

const (
	smtpUser     = "alerts@clearhouse.example"
	smtpPassword = "pa55-w0rd-n0t-in-errors"
)

// relay is a real SMTP server (go-smtp) on a local address that keeps what it is sent.
type relay struct {
	srv  *smtp.Server
	addr *net.TCPAddr

	mu       sync.Mutex
	mails    []received
	auths    []string // "user:password" of each AUTH PLAIN
	sessions int
	// reject, when set, answers MAIL FROM in session n (1-based) with its error.
	reject func(n int) error
	// password the relay accepts; empty: any.
	password string
}

type received struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
}

type relaySession struct {
	r    *relay
	c    *smtp.Conn
	n    int
	user string
	from string
	to   []string
}

func (s *relaySession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *relaySession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.r.mu.Lock()
		defer s.r.mu.Unlock()
		s.r.auths = append(s.r.auths, user+":"+pass)
		if s.r.password != "" && pass != s.r.password {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	if s.r.reject != nil {
		if err := s.r.reject(s.n); err != nil {
			return err
		}
	}
	s.from = from
	return nil
}

func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "nobody@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.c.TLSConnectionState()
	s.r.mu.Lock()
	s.r.mails = append(s.r.mails, received{from: s.from, to: s.to, data: b, tls: isTLS, user: s.user})
	s.r.mu.Unlock()
	return nil
}

func (s *relaySession) Reset()        { s.from, s.to = "", nil }
func (s *relaySession) Logout() error { return nil }

// newRelay starts a relay on host (an IP), offering STARTTLS when cert is given and AUTH
// in clear text when insecureAuth.
func newRelay(t *testing.T, host string, cert *tls.Certificate, insecureAuth bool) *relay {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	return serveRelay(t, l, l.Addr(), cert, insecureAuth)
}

func serveRelay(t *testing.T, l net.Listener, addr net.Addr, cert *tls.Certificate, insecureAuth bool) *relay {
	r := &relay{addr: addr.(*net.TCPAddr)}
	r.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		r.mu.Lock()
		r.sessions++
		n := r.sessions
		r.mu.Unlock()
		return &relaySession{r: r, c: c, n: n}, nil
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

func (r *relay) received() ([]received, []string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.mails), slices.Clone(r.auths), r.sessions
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool trusting it.
func selfSigned(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "relay.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func emailChannel(r *relay, withAuth bool, to ...string) []chv1.AlertChannel {
	if len(to) == 0 {
		to = []string{"ops@bank.example", "treasury@bank.example"}
	}
	ch := &chv1.EmailChannel{
		To: to, From: "alerts@clearhouse.example",
		SMTP: chv1.SMTPServer{Host: r.addr.IP.String(), Port: int32(r.addr.Port)},
	}
	if withAuth {
		ch.SMTP.SecretRef = &chv1.CredentialsSecretRef{Name: "smtp"} // default keys username/password
	}
	return []chv1.AlertChannel{{Name: "ops-mail", Email: ch}}
}

var smtpSecrets = map[string]string{"smtp/username": smtpUser, "smtp/password": smtpPassword}

const wantEmailBody = `Clearhouse payments/ledger-vs-bank: run ledger-vs-bank-20261120-1000 found 10 discrepancies, more than the threshold of 5.
Run ledger-vs-bank-20261120-1000: Discrepant, trigger Schedule, started 2026-11-20T10:00:00Z, finished 2026-11-20T10:01:30Z (took 1m30s), 11 rows/s.
Compared 1000: matched 990, missing in target 4, missing in source 3, mismatched 2, duplicate keys 1, invalid rows 0.
Inspect: kubectl get reconciliationjob ledger-vs-bank -n payments -o yaml

Sample: 3 of 10 discrepancies (sensitive values are masked).

KIND               KEY      DETAIL
missing_in_target  id=1001
mismatch           id=1002  amount: 10.00 vs 10.01; iban: ***faf7e1c0 vs ***0fdfced1; memo: a <b> & c vs NULL
duplicate_key      id=1003  2 rows on the target side
`

// checkMail parses a received message and checks its envelope, headers and body.
func checkMail(t *testing.T, m received) {
	t.Helper()
	if m.from != "alerts@clearhouse.example" || !slices.Equal(m.to, []string{"ops@bank.example", "treasury@bank.example"}) {
		t.Fatalf("envelope from %q to %q", m.from, m.to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.data)))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"From":                      "<alerts@clearhouse.example>",
		"To":                        "<ops@bank.example>, <treasury@bank.example>",
		"Subject":                   "[Clearhouse] payments/ledger-vs-bank: run ledger-vs-bank-20261120-1000 Discrepant, 10 discrepancies",
		"Date":                      "Fri, 20 Nov 2026 10:02:00 +0000",
		"Message-Id":                "<clearhouse.ledger-vs-bank-20261120-1000.ops-mail@clearhouse.example>",
		"X-Clearhouse-Run":          "ledger-vs-bank-20261120-1000",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
	} {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != wantEmailBody {
		t.Fatalf("body:\n%s\nwant:\n%s", got, wantEmailBody)
	}
	for _, raw := range []string{rawIBAN, rawIBANTarget} {
		if strings.Contains(string(m.data), raw) {
			t.Fatalf("mail holds the unmasked value %s", raw)
		}
	}
}

func TestEmailThroughPlainRelay(t *testing.T) {
	r := newRelay(t, "127.0.0.1", nil, false)
	n := newNotifier(nil, &waits{})
	res := one(t, n.Send(context.Background(), emailChannel(r, false), sampleAlert()))
	if res.Err != nil || res.Attempts != 1 || res.Type != "email" || res.Channel != "ops-mail" {
		t.Fatalf("result = %+v", res)
	}
	mails, auths, _ := r.received()
	if len(mails) != 1 || len(auths) != 0 || mails[0].tls {
		t.Fatalf("%d mails (tls %v), auths %q", len(mails), len(mails) > 0 && mails[0].tls, auths)
	}
	checkMail(t, mails[0])
}

func TestEmailStartTLSAndAuth(t *testing.T) {
	cert, pool := selfSigned(t)
	r := newRelay(t, "127.0.0.1", cert, false) // AUTH only once TLS is up
	n := newNotifier(smtpSecrets, &waits{})
	n.TLS = &tls.Config{RootCAs: pool}
	res := one(t, n.Send(context.Background(), emailChannel(r, true), sampleAlert()))
	if res.Err != nil || res.Attempts != 1 {
		t.Fatalf("result = %+v", res)
	}
	mails, auths, _ := r.received()
	if len(mails) != 1 || !mails[0].tls || mails[0].user != smtpUser {
		t.Fatalf("mails %+v", mails)
	}
	if !slices.Equal(auths, []string{smtpUser + ":" + smtpPassword}) {
		t.Fatalf("AUTH PLAIN received %q", auths)
	}
	checkMail(t, mails[0])
}

func TestEmailUntrustedCertificateIsFinal(t *testing.T) {
	cert, _ := selfSigned(t)
	r := newRelay(t, "127.0.0.1", cert, false)
	w := &waits{}
	n := newNotifier(smtpSecrets, w) // system roots: the test certificate is not trusted
	res := one(t, n.Send(context.Background(), emailChannel(r, true), sampleAlert()))
	if res.Attempts != 1 || res.Err == nil || len(w.got()) != 0 {
		t.Fatalf("result = %+v, waits %v", res, w.got())
	}
	wantPrefix := `alert channel "ops-mail" (email), attempt 1 of 3: smtp ` + r.addr.String() + ` STARTTLS: tls: failed to verify certificate: x509: `
	if !strings.HasPrefix(res.Err.Error(), wantPrefix) {
		t.Fatalf("error %q\nwant prefix %q", res.Err, wantPrefix)
	}
	// Never a fall back to clear text: nothing was authenticated or sent.
	if mails, auths, _ := r.received(); len(mails) != 0 || len(auths) != 0 {
		t.Fatalf("mails %d, auths %q", len(mails), auths)
	}
}

func TestEmailClearTextAuthOnLoopbackOnly(t *testing.T) {
	// On loopback (a local relay, a sidecar) credentials may go without TLS.
	local := newRelay(t, "127.0.0.1", nil, true)
	n := newNotifier(smtpSecrets, &waits{})
	if res := one(t, n.Send(context.Background(), emailChannel(local, true), sampleAlert())); res.Err != nil {
		t.Fatal(res.Err)
	}
	if _, auths, _ := local.received(); !slices.Equal(auths, []string{smtpUser + ":" + smtpPassword}) {
		t.Fatalf("AUTH received %q", auths)
	}

	// Over a network address, never.
	ip := nonLoopbackIPv4(t)
	remote := newRelay(t, ip.String(), nil, true)
	res := one(t, n.Send(context.Background(), emailChannel(remote, true), sampleAlert()))
	want := `alert channel "ops-mail" (email), attempt 1 of 3: smtp ` + remote.addr.String() + ` offers no TLS: refusing to send the credentials of secret smtp in clear`
	if res.Err == nil || res.Err.Error() != want || res.Attempts != 1 {
		t.Fatalf("result %+v\nwant error %s", res, want)
	}
	if mails, auths, _ := remote.received(); len(mails) != 0 || len(auths) != 0 {
		t.Fatalf("mails %d, auths %q", len(mails), auths)
	}
}

func nonLoopbackIPv4(t *testing.T) net.IP {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to run a network relay on")
	return nil
}

func TestEmailTemporaryRejectionRetried(t *testing.T) {
	r := newRelay(t, "127.0.0.1", nil, false)
	r.reject = func(n int) error {
		if n <= 2 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		return nil
	}
	w := &waits{}
	n := newNotifier(nil, w)
	res := one(t, n.Send(context.Background(), emailChannel(r, false), sampleAlert()))
	if res.Err != nil || res.Attempts != 3 {
		t.Fatalf("result = %+v", res)
	}
	if got := w.got(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Fatalf("waits %v", got)
	}
	mails, _, sessions := r.received()
	if len(mails) != 1 || sessions != 3 {
		t.Fatalf("%d mails over %d sessions", len(mails), sessions)
	}
	checkMail(t, mails[0])
}

func TestEmailRejectedIsReported(t *testing.T) {
	r := newRelay(t, "127.0.0.1", nil, false)
	r.reject = func(int) error {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	n := newNotifier(nil, &waits{})
	res := one(t, n.Send(context.Background(), emailChannel(r, false), sampleAlert()))
	want := `alert channel "ops-mail" (email), attempt 3 of 3: smtp ` + r.addr.String() + ` MAIL FROM: 451 4.3.0 try again later`
	if res.Attempts != 3 || res.Err == nil || res.Err.Error() != want {
		t.Fatalf("result %+v\nwant error %s", res, want)
	}

	// A permanent answer (5xx) is not retried.
	res = one(t, n.Send(context.Background(), emailChannel(newRelay(t, "127.0.0.1", nil, false), false, "nobody@bank.example"), sampleAlert()))
	if res.Attempts != 1 || res.Err == nil || !strings.HasSuffix(res.Err.Error(), " RCPT TO nobody@bank.example: 550 5.1.1 no such mailbox") {
		t.Fatalf("result %+v", res)
	}
}

func TestEmailWrongPasswordIsFinalAndHidden(t *testing.T) {
	cert, pool := selfSigned(t)
	r := newRelay(t, "127.0.0.1", cert, false)
	r.password = "the-right-one"
	n := newNotifier(smtpSecrets, &waits{})
	n.TLS = &tls.Config{RootCAs: pool}
	res := one(t, n.Send(context.Background(), emailChannel(r, true), sampleAlert()))
	want := `alert channel "ops-mail" (email), attempt 1 of 3: smtp ` + r.addr.String() + ` AUTH: 535 5.7.8 Authentication failed`
	if res.Attempts != 1 || res.Err == nil || res.Err.Error() != want {
		t.Fatalf("result %+v\nwant error %s", res, want)
	}
	if strings.Contains(res.Err.Error(), smtpPassword) {
		t.Fatal("the error leaks the password")
	}
}

func TestEmailRelayDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	_ = l.Close()
	n := newNotifier(nil, &waits{})
	ch := []chv1.AlertChannel{{Name: "ops-mail", Email: &chv1.EmailChannel{
		To: []string{"ops@bank.example"}, From: "alerts@clearhouse.example",
		SMTP: chv1.SMTPServer{Host: "127.0.0.1", Port: int32(addr.Port)},
	}}}
	res := one(t, n.Send(context.Background(), ch, sampleAlert()))
	wantPrefix := `alert channel "ops-mail" (email), attempt 3 of 3: smtp 127.0.0.1:` + strconv.Itoa(addr.Port) + ` connect: dial tcp `
	if res.Attempts != 3 || res.Err == nil || !strings.HasPrefix(res.Err.Error(), wantPrefix) {
		t.Fatalf("result %+v", res)
	}
	var op *net.OpError
	if !errors.As(res.Err, &op) {
		t.Fatalf("the cause is not kept for errors.As: %#v", res.Err)
	}
}

// One Send reaches every channel, each with its own result, in the order of the spec.
func TestSendToEveryChannel(t *testing.T) {
	h := newHook(t, http.StatusOK)
	r := newRelay(t, "127.0.0.1", nil, false)
	n := newNotifier(map[string]string{"slack/url": h.url()}, &waits{})
	channels := append(emailChannel(r, false), webhookChannel()...)
	rs := n.Send(context.Background(), channels, sampleAlert())
	if len(rs) != 2 || rs[0].Channel != "ops-mail" || rs[0].Err != nil || rs[1].Channel != "ops-slack" || rs[1].Err != nil {
		t.Fatalf("results %+v", rs)
	}
	if mails, _, _ := r.received(); len(mails) != 1 || len(h.requests()) != 1 {
		t.Fatalf("%d mails, %d posts", len(mails), len(h.requests()))
	}
}

// Port 465 speaks TLS from the first byte (RFC 8314), with no STARTTLS.
func TestEmailImplicitTLSOn465(t *testing.T) {
	cert, pool := selfSigned(t)
	l, err := net.Listen("tcp", "127.0.0.1:465")
	if err != nil {
		t.Skipf("cannot listen on port 465 here: %v", err)
	}
	tl := tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12})
	r := serveRelay(t, tl, l.Addr(), nil, false) // TLS from the listener: AUTH is offered, STARTTLS is not

	n := newNotifier(smtpSecrets, &waits{})
	n.TLS = &tls.Config{RootCAs: pool}
	if res := one(t, n.Send(context.Background(), emailChannel(r, true), sampleAlert())); res.Err != nil {
		t.Fatal(res.Err)
	}
	mails, auths, _ := r.received()
	if len(mails) != 1 || !mails[0].tls || !slices.Equal(auths, []string{smtpUser + ":" + smtpPassword}) {
		t.Fatalf("mails %+v, auths %q", mails, auths)
	}
	checkMail(t, mails[0])
}
