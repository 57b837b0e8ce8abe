// Command clearhouse is the one Clearhouse binary: the operator's manager, and the tools
// that work without a cluster (diff, gen, render).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal the default handling comes back: a second one ends the
	// process at once, whatever is still stopping.
	go func() {
		<-ctx.Done()
		stop()
	}()
	root, done := newRootCommand()
	err := root.ExecuteContext(ctx)
	done()
	stop()
	var ec exitCodeError
	if errors.As(err, &ec) {
		os.Exit(ec.code)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "clearhouse:", err)
		os.Exit(2)
	}
}

// exitCodeError ends the process with a code and no message (a diff that found
// discrepancies exits 1 after printing them).
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }
