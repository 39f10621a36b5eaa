package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/convsync/convsync/pipeline"
)

// progress draws a run's progress on a terminal: slices done of the total
// (with the ETA the bar predicts from them), conversations so far and their
// rate. A nil *progress draws nothing, so callers need not check.
type progress struct {
	w     io.Writer
	label string
	start time.Time

	mu  sync.Mutex
	bar *progressbar.ProgressBar // made at the first report, when the total is known
}

// newProgress returns a progress display on w if w is a terminal, else nil:
// logs and files never get a progress bar.
func newProgress(w io.Writer, label string) *progress {
	if !isTerminal(w) {
		return nil
	}
	return newBar(w, label)
}

// newBar returns a progress display on w, terminal or not.
func newBar(w io.Writer, label string) *progress {
	return &progress{w: w, label: label, start: time.Now()}
}

// update shows report r; it is the run's pipeline.Options.OnCommit.
func (p *progress) update(r pipeline.Report) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		p.bar = progressbar.NewOptions(max(r.SlicesTotal, 1),
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetWidth(24),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetItsString("slices"),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	n := r.Run.Inserted + r.Run.Updated + r.Run.Unchanged
	rate := float64(n) / max(time.Since(p.start).Seconds(), 1e-3)
	p.bar.Describe(fmt.Sprintf("%s: %d conversations (%.0f/s), slices done", p.label, n, rate))
	_ = p.bar.Set(r.SlicesDone) // a terminal write error is not the run's concern
}

// logTo is where the run's log lines go when they are written to w: through
// the bar, which clears itself before each line and is drawn again at the
// next commit. Written to w itself, a retry warning, or the summary line of a
// run that was stopped or failed (a bar that reaches its end clears itself),
// was glued to the bar's last drawing. A nil *progress logs to w.
func (p *progress) logTo(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	return p
}

// Write clears the bar, if one is drawn, then writes b.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	return p.w.Write(b)
}

// done removes the bar, so the summary line that follows stands alone.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Clear()
	}
}
