//go:build !unix

package devenv

import "errors"

// signal is a no-op where processes are not found through /proc.
func signal(int, bool) {}

// Lock: clearhouse dev runs the Linux (or macOS) control plane only.
func Lock(string) (func(), error) {
	return nil, errors.New("clearhouse dev needs Linux or macOS")
}
