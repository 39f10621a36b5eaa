package pipeline

import (
	"fmt"
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
	// fromStart marks a window that reads everything from Options.Start (a
	// full refresh, a first sync, or one of them resumed): its end may set
	// the watermark back.
	fromStart bool
}

// plan works out the window of a run from the stored state. An interrupted
// run of the same kind is resumed exactly where its last commit left it (a
// backfill only when asked for the same range, a full refresh only when
// the interrupted run read from Start too); otherwise the window is
// frozen now, so data that arrives while the run goes is the next run's.
// No run reads past now less the settle lag: a backfill's range is cut
// there (its window stays the range asked for, which names it).
//
// A window that would start after it ends is an error, not an empty run:
// the cursor is later than the clock (it moved back by more than the
// lookback since the cursor was saved), or Start is; reading from there
// would skip what the API writes in between.
func plan(st load.State, o Options) (runPlan, error) {
	p := runPlan{mode: o.Mode}
	start := o.Start.UTC().Truncate(time.Millisecond)
	end := o.Now().Add(-o.SettleLag).UTC().Truncate(time.Millisecond)
	switch o.Mode {
	case Backfill:
		// Rounded up to the millisecond, the API's precision: a time of
		// [From, To) is one from ceil(From) up to ceil(To), excluded.
		p.window = extract.Window{Lo: ceilMilli(o.From.UTC()), Hi: ceilMilli(o.To.UTC())}
		if b := st.Backfill; SameRange(b, o.From, o.To) {
			p.resume = b
		}
	case FullRefresh:
		// An interrupted full refresh (or first sync: the same window start)
		// is resumed, as a retried Job would want, not begun again.
		if st.Pending != nil && st.Pending.WindowLo.Equal(start) {
			p.resume = st.Pending
			break
		}
		p.window = extract.Window{Lo: start, Hi: end}
	default:
		if st.Pending != nil {
			p.resume = st.Pending
			break
		}
		p.window = extract.Window{Lo: start, Hi: end}
		if !st.Watermark.IsZero() {
			p.window.Lo = st.Watermark.Add(-o.Lookback).UTC().Truncate(time.Millisecond)
		}
	}
	switch {
	case p.resume != nil || o.Mode == Backfill || !p.window.Lo.After(end):
	case p.window.Lo.Equal(start):
		return p, fmt.Errorf("source.start %s is later than now less the settle lag (%s): nothing can have been updated since", stamp(start), stamp(end))
	default:
		return p, fmt.Errorf("the cursor (watermark %s) is later than this machine's clock allows (now less the settle lag is %s) by more than the lookback: "+
			"the clock moved back since the cursor was saved (or was ahead then), and a run from the cursor would skip what the API wrote in between; "+
			"check the clock, then run `convsync sync --full-refresh`, which rereads everything and sets the cursor to the clock", stamp(st.Watermark), stamp(end))
	}
	// read is how far the run reads: a backfill's range cut at end.
	read := func(hi time.Time) time.Time {
		if o.Mode == Backfill && hi.After(end) {
			return end
		}
		return hi
	}
	if r := p.resume; r != nil {
		p.window = extract.Window{Lo: r.WindowLo, Hi: r.WindowHi}
		p.slices = append([]extract.Window{{Lo: r.SliceLo, Hi: r.SliceHi}}, extract.Slices(r.SliceHi, read(r.WindowHi), o.SliceSize)...)
		p.firstAfter = r.After
	} else {
		p.slices = extract.Slices(p.window.Lo, read(p.window.Hi), o.SliceSize) // nil when empty
	}
	p.fromStart = p.mode != Backfill && p.window.Lo.Equal(start)
	return p, nil
}

// SameRange says whether b is the progress of a backfill of [from, to),
// which a backfill of that range resumes; a backfill of another range
// starts over and replaces it.
func SameRange(b *load.Progress, from, to time.Time) bool {
	return b != nil && b.WindowLo.Equal(ceilMilli(from.UTC())) && b.WindowHi.Equal(ceilMilli(to.UTC()))
}

// ceilMilli is t rounded up to the millisecond.
func ceilMilli(t time.Time) time.Time {
	if f := t.Truncate(time.Millisecond); f.Before(t) {
		return f.Add(time.Millisecond)
	}
	return t
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// progress is the state to commit once slice i has been read up to page
// cursor next ("" = the slice is finished). When the last slice is finished
// the run is complete: the progress is cleared and, unless this is a
// backfill, the watermark moves to the window's end: forward only, but a
// window read from Start (a full refresh, also when a plain run resumes
// it), which read everything before its end, sets it even back (the remedy
// for a cursor saved by a clock that was ahead).
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
	if pr == nil && (p.window.Hi.After(st.Watermark) || p.fromStart) {
		st.Watermark = p.window.Hi
	}
	return st
}
