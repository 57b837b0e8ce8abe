package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// postWebhook makes one attempt at posting msg. Errors show the URL as
// scheme://host/… only.
func (n *Notifier) postWebhook(ctx context.Context, ch *chv1.WebhookChannel, msg *message) error {
	ref := ch.URLSecretRef
	raw, err := n.Secrets(ctx, ref.Name, ref.Key)
	if err != nil {
		return fmt.Errorf("read webhook URL from secret %s key %s: %w", ref.Name, ref.Key, err)
	}
	raw = strings.TrimSpace(raw) // a Secret written with echo ends in a newline
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// url.Parse's error quotes the URL: never show it.
		return permanent{fmt.Errorf("secret %s key %s does not hold an http(s) URL", ref.Name, ref.Key)}
	}
	where := u.Scheme + "://" + u.Host + "/…"
	secrets := []string{raw, u.Path, u.RawQuery, u.RawPath, u.User.String()}
	if u.User != nil {
		p, _ := u.User.Password()
		secrets = append(secrets, p)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(msg.webhook))
	if err != nil {
		return permanent{fmt.Errorf("webhook %s: cannot build request", where)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "clearhouse-alert")
	// Lets a receiver drop a duplicate if the caller ever sends the same run twice.
	req.Header.Set("X-Clearhouse-Job", msg.namespace+"/"+msg.job)
	req.Header.Set("X-Clearhouse-Run", oneLine(msg.runID))

	hc := n.HTTPClient
	if hc == nil {
		// Follow no redirect: a webhook answering 3xx is a failure to fix, not a reason
		// to post the alert elsewhere.
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error quotes the whole URL: keep only its cause, and scrub that too.
		var ue *url.Error
		cause := err
		if errors.As(err, &ue) {
			cause = ue.Err
		}
		return redacted{text: fmt.Sprintf("POST %s: %s", where, scrub(cause.Error(), secrets...)), cause: cause}
	}
	defer func() { _ = resp.Body.Close() }()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	text := fmt.Sprintf("POST %s: %s", where, resp.Status)
	if s := strings.TrimSpace(oneLine(string(snippet))); s != "" {
		text += ": " + scrub(s, secrets...) // Slack says why ("invalid_token", "no_service")
	}
	err = redacted{text: text}
	switch {
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		return err
	default: // 3xx and other 4xx: the same request will get the same answer
		return permanent{err}
	}
}
