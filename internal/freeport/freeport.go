// Package freeport finds local TCP ports for tests: servers to start, and ports nothing
// listens on.
package freeport

import (
	"net"
	"testing"
)

// Port returns a TCP port on 127.0.0.1 that was free a moment ago: for a server a test
// starts, or to reach as a closed port.
func Port(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}
