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
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/alert/alerttest"
)

const (
	smtpUser     = "alerts@clearhouse.example"
	smtpPassword = "pa55-w0rd-n0t-in-errors"
)

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

func emailChannel(r *alerttest.Relay, withAuth bool, to ...string) []chv1.AlertChannel {
	if len(to) == 0 {
		to = []string{"ops@bank.example", "treasury@bank.example"}
	}
	ch := &chv1.EmailChannel{
		To: to, From: "alerts@clearhouse.example",
		SMTP: chv1.SMTPServer{Host: r.Addr.IP.String(), Port: int32(r.Addr.Port)},
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
mismatch           id=1002  amount: 10.00 vs 10.01; iban: ***123af07300a373b2 vs ***febbe7cd92e9d445; memo: a <b> & c vs NULL
duplicate_key      id=1003  2 rows on the target side
`

// checkMail parses a received message and checks its envelope, headers and body.
func checkMail(t *testing.T, m alerttest.Mail) {
	t.Helper()
	if m.From != "alerts@clearhouse.example" || !slices.Equal(m.To, []string{"ops@bank.example", "treasury@bank.example"}) {
		t.Fatalf("envelope from %q to %q", m.From, m.To)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
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
		if strings.Contains(string(m.Data), raw) {
			t.Fatalf("mail holds the unmasked value %s", raw)
		}
	}
}

func TestEmailThroughPlainRelay(t *testing.T) {
	r := alerttest.NewRelay(t, "127.0.0.1", nil, false)
	n := newNotifier(nil, &waits{})
	res := one(t, n.Send(context.Background(), emailChannel(r, false), sampleAlert()))
	if res.Err != nil || res.Attempts != 1 || res.Type != "email" || res.Channel != "ops-mail" {
		t.Fatalf("result = %+v", res)
	}
	mails, auths, _ := r.Received()
	if len(mails) != 1 || len(auths) != 0 || mails[0].TLS {
		t.Fatalf("%d mails (tls %v), auths %q", len(mails), len(mails) > 0 && mails[0].TLS, auths)
	}
	checkMail(t, mails[0])
}

func TestEmailStartTLSAndAuth(t *testing.T) {
	cert, pool := selfSigned(t)
	r := alerttest.NewRelay(t, "127.0.0.1", cert, false) // AUTH only once TLS is up
	n := newNotifier(smtpSecrets, &waits{})
	n.TLS = &tls.Config{RootCAs: pool}
	res := one(t, n.Send(context.Background(), emailChannel(r, true), sampleAlert()))
	if res.Err != nil || res.Attempts != 1 {
		t.Fatalf("result = %+v", res)
	}
	mails, auths, _ := r.Received()
	if len(mails) != 1 || !mails[0].TLS || mails[0].User != smtpUser {
		t.Fatalf("mails %+v", mails)
	}
	if !slices.Equal(auths, []string{smtpUser + ":" + smtpPassword}) {
		t.Fatalf("AUTH PLAIN received %q", auths)
	}
	checkMail(t, mails[0])
}

func TestEmailUntrustedCertificateIsFinal(t *testing.T) {
	cert, _ := selfSigned(t)
	r := alerttest.NewRelay(t, "127.0.0.1", cert, false)
	w := &waits{}
	n := newNotifier(smtpSecrets, w) // system roots: the test certificate is not trusted
	res := one(t, n.Send(context.Background(), emailChannel(r, true), sampleAlert()))
	if res.Attempts != 1 || res.Err == nil || len(w.got()) != 0 {
		t.Fatalf("result = %+v, waits %v", res, w.got())
	}
	wantPrefix := `alert channel "ops-mail" (email), attempt 1 of 3: smtp ` + r.Addr.String() + ` STARTTLS: tls: failed to verify certificate: x509: `
	if !strings.HasPrefix(res.Err.Error(), wantPrefix) {
		t.Fatalf("error %q\nwant prefix %q", res.Err, wantPrefix)
	}
	// Never a fall back to clear text: nothing was authenticated or sent.
	if mails, auths, _ := r.Received(); len(mails) != 0 || len(auths) != 0 {
		t.Fatalf("mails %d, auths %q", len(mails), auths)
	}
}

func TestEmailClearTextAuthOnLoopbackOnly(t *testing.T) {
	// On loopback (a local relay, a sidecar) credentials may go without TLS.
	local := alerttest.NewRelay(t, "127.0.0.1", nil, true)
	n := newNotifier(smtpSecrets, &waits{})
	if res := one(t, n.Send(context.Background(), emailChannel(local, true), sampleAlert())); res.Err != nil {
		t.Fatal(res.Err)
	}
	if _, auths, _ := local.Received(); !slices.Equal(auths, []string{smtpUser + ":" + smtpPassword}) {
		t.Fatalf("AUTH received %q", auths)
	}

	// Over a network address, never.
	ip := nonLoopbackIPv4(t)
	remote := alerttest.NewRelay(t, ip.String(), nil, true)
	res := one(t, n.Send(context.Background(), emailChannel(remote, true), sampleAlert()))
	want := `alert channel "ops-mail" (email), attempt 1 of 3: smtp ` + remote.Addr.String() + ` offers no TLS: refusing to send the credentials of secret smtp in clear`
	if res.Err == nil || res.Err.Error() != want || res.Attempts != 1 {
		t.Fatalf("result %+v\nwant error %s", res, want)
	}
	if mails, auths, _ := remote.Received(); len(mails) != 0 || len(auths) != 0 {
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
	r := alerttest.NewRelay(t, "127.0.0.1", nil, false)
	r.Reject = func(n int) error {
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
	mails, _, sessions := r.Received()
	if len(mails) != 1 || sessions != 3 {
		t.Fatalf("%d mails over %d sessions", len(mails), sessions)
	}
	checkMail(t, mails[0])
}

func TestEmailRejectedIsReported(t *testing.T) {
	r := alerttest.NewRelay(t, "127.0.0.1", nil, false)
	r.Reject = func(int) error {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	n := newNotifier(nil, &waits{})
	res := one(t, n.Send(context.Background(), emailChannel(r, false), sampleAlert()))
	want := `alert channel "ops-mail" (email), attempt 3 of 3: smtp ` + r.Addr.String() + ` MAIL FROM: 451 4.3.0 try again later`
	if res.Attempts != 3 || res.Err == nil || res.Err.Error() != want {
		t.Fatalf("result %+v\nwant error %s", res, want)
	}

	// A permanent answer (5xx) is not retried.
	res = one(t, n.Send(context.Background(), emailChannel(alerttest.NewRelay(t, "127.0.0.1", nil, false), false, "nobody@bank.example"), sampleAlert()))
	if res.Attempts != 1 || res.Err == nil || !strings.HasSuffix(res.Err.Error(), " RCPT TO nobody@bank.example: 550 5.1.1 no such mailbox") {
		t.Fatalf("result %+v", res)
	}
}

func TestEmailWrongPasswordIsFinalAndHidden(t *testing.T) {
	cert, pool := selfSigned(t)
	r := alerttest.NewRelay(t, "127.0.0.1", cert, false)
	r.Password = "the-right-one"
	n := newNotifier(smtpSecrets, &waits{})
	n.TLS = &tls.Config{RootCAs: pool}
	res := one(t, n.Send(context.Background(), emailChannel(r, true), sampleAlert()))
	want := `alert channel "ops-mail" (email), attempt 1 of 3: smtp ` + r.Addr.String() + ` AUTH: 535 5.7.8 Authentication failed`
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
	r := alerttest.NewRelay(t, "127.0.0.1", nil, false)
	n := newNotifier(map[string]string{"slack/url": h.url()}, &waits{})
	channels := append(emailChannel(r, false), webhookChannel()...)
	rs := n.Send(context.Background(), channels, sampleAlert())
	if len(rs) != 2 || rs[0].Channel != "ops-mail" || rs[0].Err != nil || rs[1].Channel != "ops-slack" || rs[1].Err != nil {
		t.Fatalf("results %+v", rs)
	}
	if mails, _, _ := r.Received(); len(mails) != 1 || len(h.requests()) != 1 {
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
	r := alerttest.ServeRelay(t, tl, l.Addr(), nil, false) // TLS from the listener: AUTH is offered, STARTTLS is not

	n := newNotifier(smtpSecrets, &waits{})
	n.TLS = &tls.Config{RootCAs: pool}
	if res := one(t, n.Send(context.Background(), emailChannel(r, true), sampleAlert())); res.Err != nil {
		t.Fatal(res.Err)
	}
	mails, auths, _ := r.Received()
	if len(mails) != 1 || !mails[0].TLS || !slices.Equal(auths, []string{smtpUser + ":" + smtpPassword}) {
		t.Fatalf("mails %+v, auths %q", mails, auths)
	}
	checkMail(t, mails[0])
}
