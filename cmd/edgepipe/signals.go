package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// drainOnSignal returns a context cancelled by the first SIGINT or SIGTERM, so a command
// can drain and report; after it the signals are no longer caught, so a second Ctrl-C
// kills the process at once. Call stop when done.
func drainOnSignal() (ctx context.Context, stop context.CancelFunc) {
	ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}
