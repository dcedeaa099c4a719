package main

import (
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress is a progress bar on stderr, or nothing when stderr is not a terminal (CI,
// logs piped to a file).
type progress struct{ bar *progressbar.ProgressBar }

func newProgress(total int, what string) *progress { return newProgressOf(total, what, "readings") }

// newProgressOf is newProgress counting unit (shown in the rate, e.g. "epochs").
func newProgressOf(total int, what, unit string) *progress {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)}
}

// update sets the bar to n done, with a description.
func (p *progress) update(n int, desc string) {
	if p.bar != nil {
		p.bar.Describe(desc)
		p.bar.Set(n)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
