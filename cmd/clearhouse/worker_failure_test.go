package main

import (
	"strings"
	"testing"
)

// TestWorkerStoreUnreachable: a worker whose store refuses connections exits 2
// naming the store, and never prints the store's password (raw or URL-decoded).
func TestWorkerStoreUnreachable(t *testing.T) {
	t.Parallel()
	const plan = `CLEARHOUSE_PLAN={"job":"a/b","spec":{"keys":[{"name":"id"}]}}`
	for _, uri := range []string{
		"postgres://clearhouse:s3cr%2Fet-pw@127.0.0.1:1/results?connect_timeout=3",
		"postgres://clearhouse:s3cret-pw@no-such-host.invalid:5432/results?connect_timeout=3",
		"postgres://clearhouse@127.0.0.1:1/results?password=s3cret-pw&connect_timeout=3",
	} {
		out, code := worker(t, []string{plan, "CLEARHOUSE_STORE=" + uri}, "--run", "r", "--index", "0")
		if code != 2 || !strings.Contains(out, "clearhouse: open results store:") {
			t.Errorf("%s: exit %d, output %q", uri, code, out)
		}
		for _, secret := range []string{"s3cret-pw", "s3cr%2Fet-pw", "s3cr/et-pw"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s: output shows the password: %q", uri, out)
			}
		}
	}
}
