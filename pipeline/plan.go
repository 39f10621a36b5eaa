package pipeline

import (
	"time"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/load"
)

// runPlan is what a run reads: its frozen window, split into slices oldest
// first, the first of which may resume at a page cursor.
type runPlan struct {
	mode       Mode
	window     extract.Window
	slices     []extract.Window
	firstAfter string
	resume     *load.Progress // the interrupted run this one finishes, or nil
}

// plan works out the window of a run from the stored state. An interrupted
// run of the same kind is resumed exactly where its last commit left it (a
// backfill only when asked for the same range, a full refresh only when
// the interrupted run read from Start too); otherwise the window is
// frozen now, so data that arrives while the run goes is the next run's.
func plan(st load.State, o Options) runPlan {
	p := runPlan{mode: o.Mode}
	switch o.Mode {
	case Backfill:
		p.window = extract.Window{Lo: o.From.UTC(), Hi: o.To.UTC()}
		if b := st.Backfill; b != nil && b.WindowLo.Equal(p.window.Lo) && b.WindowHi.Equal(p.window.Hi) {
			p.resume = b
		}
	case FullRefresh:
		// An interrupted full refresh (or first sync: the same window start)
		// is resumed, as a retried Job would want, not begun again.
		if st.Pending != nil && st.Pending.WindowLo.Equal(o.Start.UTC().Truncate(time.Millisecond)) {
			p.resume = st.Pending
			break
		}
		p.window = extract.Window{Lo: o.Start.UTC(), Hi: o.Now().Add(-o.SettleLag).UTC()}
	default:
		if st.Pending != nil {
			p.resume = st.Pending
			break
		}
		lo := st.Watermark.Add(-o.Lookback)
		if st.Watermark.IsZero() {
			lo = o.Start
		}
		p.window = extract.Window{Lo: lo.UTC(), Hi: o.Now().Add(-o.SettleLag).UTC()}
	}
	if r := p.resume; r != nil {
		p.window = extract.Window{Lo: r.WindowLo, Hi: r.WindowHi}
		p.slices = append([]extract.Window{{Lo: r.SliceLo, Hi: r.SliceHi}}, extract.Slices(r.SliceHi, r.WindowHi, o.SliceSize)...)
		p.firstAfter = r.After
		return p
	}
	p.window.Lo, p.window.Hi = p.window.Lo.Truncate(time.Millisecond), p.window.Hi.Truncate(time.Millisecond)
	if p.window.Hi.After(p.window.Lo) {
		p.slices = extract.Slices(p.window.Lo, p.window.Hi, o.SliceSize)
	}
	return p
}

// progress is the state to commit once slice i has been read up to page
// cursor next ("" = the slice is finished). When the last slice is finished
// the run is complete: the progress is cleared and, unless this is a
// backfill, the watermark moves to the window's end.
func (p runPlan) progress(st load.State, runID string, i int, next string) load.State {
	var pr *load.Progress
	switch {
	case next != "":
		pr = &load.Progress{SliceLo: p.slices[i].Lo, SliceHi: p.slices[i].Hi, After: next}
	case i+1 < len(p.slices):
		pr = &load.Progress{SliceLo: p.slices[i+1].Lo, SliceHi: p.slices[i+1].Hi}
	}
	if pr != nil {
		pr.RunID, pr.WindowLo, pr.WindowHi = runID, p.window.Lo, p.window.Hi
	}
	if p.mode == Backfill {
		st.Backfill = pr
		return st
	}
	st.Pending = pr
	if pr == nil && p.window.Hi.After(st.Watermark) {
		st.Watermark = p.window.Hi
	}
	return st
}
