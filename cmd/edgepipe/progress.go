package main

import (
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressEvery is the shortest time between two redraws of a progress bar.
const progressEvery = 100 * time.Millisecond

// progress is a progress bar on stderr (github.com/schollz/progressbar), or nothing when
// stderr is not a terminal (CI, logs piped to a file). Its methods are safe for concurrent
// use.
type progress struct {
	bar   *progressbar.ProgressBar
	total int
	mu    sync.Mutex
	desc  string
	last  time.Time
}

func newProgress(total int, what string) *progress { return newProgressOf(total, what, "readings") }

// newProgressOf is newProgress counting unit (shown in the rate, e.g. "epochs").
func newProgressOf(total int, what, unit string) *progress {
	return newProgressOn(os.Stderr, total, what, unit)
}

// newProgressOn is newProgressOf drawing on f, or nothing when f is not a terminal.
func newProgressOn(f *os.File, total int, what, unit string) *progress {
	if !term.IsTerminal(int(f.Fd())) {
		return &progress{}
	}
	return &progress{total: total, desc: what, bar: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionClearOnFinish(),
	)}
}

// update sets the bar to n done, with a description. It redraws at most every
// progressEvery (and always at the total), with the count and description of the
// latest call: an update in between is skipped, not drawn late.
func (p *progress) update(n int, desc string) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n < p.total && time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	if desc != p.desc {
		p.desc = desc
		p.bar.Describe(desc)
	}
	p.bar.Set(n)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.bar.Finish()
	}
}
