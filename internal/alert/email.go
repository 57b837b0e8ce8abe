package alert

// Email goes through net/smtp's client. go-smtp's client (also in go.mod) only offers
// mandatory STARTTLS or none, while an alert relay must be used with STARTTLS when it
// offers it; net/smtp exposes Extension and StartTLS for exactly that. The SASL
// mechanisms come from go-sasl, and the policy on clear-text credentials is ours (below).

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
)

// DefaultSMTPPort is the submission port, used when the channel gives none.
const DefaultSMTPPort = 587

// sendEmail makes one attempt at mailing msg through the channel's relay:
//
//   - port 465 speaks TLS from the start; any other port upgrades with STARTTLS whenever
//     the relay offers it, and a failed upgrade fails the attempt (never a silent
//     downgrade);
//   - with a secretRef it authenticates (PLAIN, else LOGIN), but only over TLS or to a
//     relay on a loopback address (a local relay or a test server): credentials are never
//     sent in clear over a network;
//   - answers 4xx are retried, 5xx are final; a recipient refused with 5xx fails the
//     attempt, but the message still goes to the recipients accepted.
func (n *Notifier) sendEmail(ctx context.Context, channel string, ch *chv1.EmailChannel, msg *message) error {
	host := ch.SMTP.Host
	port := int(ch.SMTP.Port)
	if port == 0 {
		port = DefaultSMTPPort
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	data, err := n.buildEmail(channel, ch, msg)
	if err != nil {
		return permanent{err}
	}
	var user, pass string
	ref := ch.SMTP.SecretRef
	if ref != nil {
		userKey, passKey := connect.Keys(*ref)
		if user, err = n.Secrets(ctx, ref.Name, userKey); err != nil {
			return fmt.Errorf("read smtp user name from secret %s key %s: %w", ref.Name, userKey, err)
		}
		if pass, err = n.Secrets(ctx, ref.Name, passKey); err != nil {
			return fmt.Errorf("read smtp password from secret %s key %s: %w", ref.Name, passKey, err)
		}
	}
	// Scrubbed from every error, in case a relay echoes what it was sent.
	secrets := []string{pass, base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))}
	fail := func(stage string, err error) error { return smtpError(addr, stage, err, secrets) }

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fail("connect", err)
	}
	// Bound every read and write by ctx: its deadline, and closing on cancellation.
	defer context.AfterFunc(ctx, func() { _ = conn.Close() })()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	remote := conn.RemoteAddr()
	tlsConf := n.tlsConfig(host)
	encrypted := port == 465
	if encrypted {
		conn = tls.Client(conn, tlsConf)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		return fail("greeting", err)
	}
	defer func() { _ = c.Close() }()
	if !encrypted {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConf); err != nil {
				return fail("STARTTLS", err)
			}
			encrypted = true
		}
	}
	if ref != nil {
		if !encrypted && !isLoopback(remote) {
			return permanent{fmt.Errorf("smtp %s offers no TLS: refusing to send the credentials of secret %s in clear", addr, ref.Name)}
		}
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return permanent{fmt.Errorf("smtp %s does not offer AUTH, but secretRef %s gives credentials", addr, ref.Name)}
		}
		var auth sasl.Client
		switch offered := strings.Fields(strings.ToUpper(mechs)); {
		case contains(offered, sasl.Plain):
			auth = sasl.NewPlainClient("", user, pass)
		case contains(offered, sasl.Login):
			auth = sasl.NewLoginClient(user, pass)
		default:
			return permanent{fmt.Errorf("smtp %s offers AUTH %s; Clearhouse speaks PLAIN and LOGIN", addr, mechs)}
		}
		if err := c.Auth(saslAuth{auth}); err != nil {
			return fail("AUTH", err)
		}
	}
	if err := c.Mail(ch.From); err != nil {
		return fail("MAIL FROM", err)
	}
	// A recipient refused for good (5xx: no such mailbox) does not keep the alert from
	// the others: it goes to those accepted and the attempt still fails, naming the
	// refused one (final, so the others do not get it twice). A temporary refusal (4xx)
	// fails the attempt before DATA, so its retry sends to everyone once.
	var refused error
	accepted := 0
	for _, to := range ch.To {
		if err := c.Rcpt(to); err != nil {
			err = fail("RCPT TO "+to, err)
			var p permanent
			if !errors.As(err, &p) {
				return err
			}
			if refused == nil {
				refused = err
			}
			continue
		}
		accepted++
	}
	if accepted == 0 {
		return refused
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := w.Write(data); err != nil {
		return fail("DATA", err)
	}
	if err := w.Close(); err != nil {
		return fail("DATA", err)
	}
	// The relay accepted the message at the end of DATA; a failed QUIT loses nothing.
	_ = c.Quit()
	return refused
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// saslAuth adapts a go-sasl client to net/smtp. net/smtp's own PlainAuth decides on
// clear text by host name; ours decides on the connected address (sendEmail).
type saslAuth struct{ c sasl.Client }

func (a saslAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return a.c.Start() }

func (a saslAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	return a.c.Next(fromServer)
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

func (n *Notifier) tlsConfig(host string) *tls.Config {
	c := &tls.Config{}
	if n.TLS != nil {
		c = n.TLS.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// smtpError names the relay and the stage; a 5xx answer, a certificate the relay's name
// does not match, and a TLS failure are final, the rest is retried.
func smtpError(addr, stage string, err error, secrets []string) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		e := redacted{text: fmt.Sprintf("smtp %s %s: %d %s", addr, stage, te.Code, scrub(oneLine(te.Msg), secrets...))}
		if te.Code >= 500 {
			return permanent{e}
		}
		return e
	}
	e := redacted{text: fmt.Sprintf("smtp %s %s: %s", addr, stage, scrub(err.Error(), secrets...)), cause: err}
	var cv *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var ad tls.AlertError
	if errors.As(err, &cv) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &ad) {
		return permanent{e}
	}
	return e
}

// buildEmail renders the message: plain text, quoted-printable (long sample values stay
// within SMTP's line limit), UTF-8 subject encoded when needed.
func (n *Notifier) buildEmail(channel string, ch *chv1.EmailChannel, msg *message) ([]byte, error) {
	from, err := mail.ParseAddress(ch.From)
	if err != nil {
		return nil, fmt.Errorf("email.from %q is not an address: %w", ch.From, err)
	}
	if len(ch.To) == 0 {
		return nil, errors.New("email.to lists no recipient")
	}
	to := make([]string, len(ch.To))
	for i, t := range ch.To {
		a, err := mail.ParseAddress(t)
		if err != nil {
			return nil, fmt.Errorf("email.to[%d] %q is not an address: %w", i, t, err)
		}
		to[i] = a.String()
	}
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]

	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", msg.subject))
	header("Date", now().Format(time.RFC1123Z))
	// A stable Message-ID: a relay or a mail client can tell a repeat of the same run.
	header("Message-ID", "<clearhouse."+idPart(msg.runID)+"."+idPart(channel)+"@"+domain+">")
	header("X-Clearhouse-Job", msg.namespace+"/"+msg.job)
	header("X-Clearhouse-Run", mime.QEncoding.Encode("utf-8", oneLine(msg.runID)))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := msg.text
	if msg.table != "" {
		body += "\n" + msg.table
	}
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("encode email body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encode email body: %w", err)
	}
	return b.Bytes(), nil
}

// idPart keeps the characters a Message-ID may hold without quoting.
func idPart(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}
