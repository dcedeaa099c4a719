package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// On a pipe (CI, a log file) the progress bar writes nothing at all.
func TestProgressQuietWhenNotATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := newProgressOn(w, 10, "training", "epochs")
	for i := 1; i <= 10; i++ {
		p.update(i, fmt.Sprintf("epoch %d/10", i))
	}
	p.finish()
	w.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if p.bar != nil || len(out) != 0 {
		t.Fatalf("on a pipe: bar %v, wrote %q; want nothing", p.bar != nil, out)
	}
}

// On a terminal (a pseudo-terminal here) it draws the description and count, at most
// every progressEvery.
func TestProgressDrawsOnATerminal(t *testing.T) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer master.Close()
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		var all strings.Builder
		buf := make([]byte, 4096)
		for !strings.Contains(all.String(), "(4/10") {
			k, err := master.Read(buf)
			all.Write(buf[:k])
			if err != nil {
				break
			}
		}
		got <- all.String()
	}()
	p := newProgressOn(tty, 10, "training", "epochs")
	if p.bar == nil {
		t.Fatal("no bar on a terminal")
	}
	p.update(2, "epoch 2/10")
	p.update(3, "epoch 3/10") // within progressEvery: skipped
	time.Sleep(progressEvery)
	p.update(4, "epoch 4/10")
	select {
	case out := <-got:
		if !strings.Contains(out, "epoch 2/10") || strings.Contains(out, "epoch 3/10") || !regexp.MustCompile(`epoch 4/10 .*\(4/10`).MatchString(out) {
			t.Errorf("terminal shows %q, want epoch 2, not epoch 3 (too soon), then epoch 4 with its count 4/10", out)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("epoch 4 not drawn on the terminal within 5 s")
	}
	p.finish()
	tty.Close()
}
