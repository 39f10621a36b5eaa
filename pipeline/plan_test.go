package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/load"
)

var t0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func TestPlan_Windows(t *testing.T) {
	now := func() time.Time { return at(100).Add(123456789) }
	base := Options{Start: at(0), Lookback: time.Hour, SettleLag: 2 * time.Hour, SliceSize: 24 * time.Hour, Now: now}
	tests := []struct {
		name    string
		mode    Mode
		st      load.State
		from    time.Time
		to      time.Time
		wantLo  time.Time
		wantHi  time.Time
		slices  int
		wantErr bool
	}{
		{"first run starts at start", Incremental, load.State{}, time.Time{}, time.Time{}, at(0), at(98).Add(123 * time.Millisecond), 5, false},
		{"next run starts lookback before the watermark", Incremental, load.State{Watermark: at(90)}, time.Time{}, time.Time{}, at(89), at(98).Add(123 * time.Millisecond), 1, false},
		{"full refresh ignores the watermark", FullRefresh, load.State{Watermark: at(90)}, time.Time{}, time.Time{}, at(0), at(98).Add(123 * time.Millisecond), 5, false},
		{"backfill reads its range", Backfill, load.State{Watermark: at(90)}, at(10), at(34), at(10), at(34), 1, false},
		{"a cursor later than the clock allows (it moved back more than the lookback) is an error", Incremental, load.State{Watermark: at(99.5)}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, 0, true},
		{"a cursor later than the clock by less than the lookback reads from before it", Incremental, load.State{Watermark: at(98.5)}, time.Time{}, time.Time{}, at(97.5), at(98).Add(123 * time.Millisecond), 1, false},
		{"a backfill rounds its range up to the millisecond", Backfill, load.State{}, at(10).Add(500 * time.Microsecond), at(20).Add(1500 * time.Microsecond), at(10).Add(time.Millisecond), at(20).Add(2 * time.Millisecond), 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			o.Mode, o.From, o.To = tt.mode, tt.from, tt.to
			o.defaults()
			p, err := plan(tt.st, o)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !p.window.Lo.Equal(tt.wantLo) || !p.window.Hi.Equal(tt.wantHi) {
				t.Errorf("window = [%s, %s), want [%s, %s)", p.window.Lo, p.window.Hi, tt.wantLo, tt.wantHi)
			}
			if len(p.slices) != tt.slices {
				t.Fatalf("%d slices, want %d", len(p.slices), tt.slices)
			}
			if tt.slices > 0 && (!p.slices[0].Lo.Equal(p.window.Lo) || !p.slices[len(p.slices)-1].Hi.Equal(p.window.Hi)) {
				t.Errorf("slices %v do not cover the window", p.slices)
			}
			for i := 1; i < len(p.slices); i++ {
				if !p.slices[i].Lo.Equal(p.slices[i-1].Hi) {
					t.Errorf("slice %d starts at %s, previous ends at %s", i, p.slices[i].Lo, p.slices[i-1].Hi)
				}
			}
		})
	}
}

// TestPlan_BackfillStopsAtTheSettleLag: a backfill reaching past now less
// the settle lag reads up to there, as any run (a version read earlier
// could still change in the same second); its window stays the range asked
// for, so running it again resumes it.
func TestPlan_BackfillStopsAtTheSettleLag(t *testing.T) {
	o := Options{Mode: Backfill, From: at(90), To: at(120), SettleLag: 2 * time.Hour, SliceSize: 24 * time.Hour, Now: func() time.Time { return at(100) }}
	o.defaults()
	p := mustPlan(t, load.State{}, o)
	if !p.window.Hi.Equal(at(120)) || len(p.slices) != 1 || !p.slices[0].Hi.Equal(at(98)) {
		t.Errorf("window %v, slices %v; want [90h, 120h) read up to 98h", p.window, p.slices)
	}
	st := p.progress(load.State{}, "r", 0, "CVR-A")
	if again := mustPlan(t, st, o); again.resume != st.Backfill {
		t.Errorf("the same backfill does not resume: %+v", again)
	}
}

// TestPlan_StartLaterThanTheClock: a first run, or a full refresh, whose
// source.start is later than now less the settle lag is an error, not a
// run that reads nothing and succeeds.
func TestPlan_StartLaterThanTheClock(t *testing.T) {
	for _, mode := range []Mode{Incremental, FullRefresh} {
		o := Options{Mode: mode, Start: at(200), Now: func() time.Time { return at(100) }}
		o.defaults()
		if _, err := plan(load.State{}, o); err == nil || !strings.Contains(err.Error(), "source.start") {
			t.Errorf("%s: err = %v, want source.start named", mode, err)
		}
	}
}

// TestPlan_FullRefreshResetsAWatermarkAhead: a full refresh sets the
// watermark to its window's end even when that is earlier (the remedy for a
// cursor saved by a clock that was ahead); an incremental run never moves
// it back.
func TestPlan_FullRefreshResetsAWatermarkAhead(t *testing.T) {
	ahead := load.State{Watermark: at(150)}
	o := Options{Mode: FullRefresh, Start: at(0), SliceSize: -1, Now: func() time.Time { return at(100) }}
	o.defaults()
	if st := mustPlan(t, ahead, o).progress(ahead, "r", 0, ""); !st.Watermark.Equal(at(100)) {
		t.Errorf("full refresh: watermark %s, want %s", st.Watermark, at(100))
	}
	// Interrupted, then finished by a plain run (a CronJob's next sync):
	// the same.
	interrupted := ahead
	interrupted.Pending = &load.Progress{RunID: "r0", WindowLo: at(0), WindowHi: at(90), SliceLo: at(0), SliceHi: at(90), After: "CVR-X"}
	o.Mode = Incremental
	if st := mustPlan(t, interrupted, o).progress(interrupted, "r", 0, ""); !st.Watermark.Equal(at(90)) || st.Pending != nil {
		t.Errorf("full refresh resumed by a plain run: watermark %s, pending %+v; want %s", st.Watermark, st.Pending, at(90))
	}
	o.Lookback = 100 * time.Hour
	if st := mustPlan(t, ahead, o).progress(ahead, "r", 0, ""); !st.Watermark.Equal(at(150)) {
		t.Errorf("incremental: watermark %s, want it kept at %s", st.Watermark, at(150))
	}
}

func TestPlan_ResumesInterruptedRun(t *testing.T) {
	pending := &load.Progress{RunID: "run-1", WindowLo: at(0), WindowHi: at(72), SliceLo: at(24), SliceHi: at(48), After: "CVR-X"}
	o := Options{Start: at(0), SliceSize: 24 * time.Hour, Now: func() time.Time { return at(500) }}
	o.defaults()
	p := mustPlan(t, load.State{Watermark: at(-10), Pending: pending}, o)
	if p.resume != pending || p.firstAfter != "CVR-X" {
		t.Fatalf("plan does not resume: %+v", p)
	}
	want := []extract.Window{{Lo: at(24), Hi: at(48)}, {Lo: at(48), Hi: at(72)}}
	if len(p.slices) != len(want) || p.slices[0] != want[0] || p.slices[1] != want[1] {
		t.Errorf("slices = %v, want %v", p.slices, want)
	}
	// A full refresh resumes an interrupted run that read from Start too
	// (an interrupted full refresh or first sync), not an incremental one.
	o.Mode = FullRefresh
	if p := mustPlan(t, load.State{Pending: pending}, o); p.resume != pending || p.firstAfter != "CVR-X" {
		t.Errorf("full refresh does not resume the interrupted one: %+v", p)
	}
	incremental := *pending
	incremental.WindowLo = at(10)
	if p := mustPlan(t, load.State{Pending: &incremental}, o); p.resume != nil || !p.window.Lo.Equal(at(0)) {
		t.Errorf("full refresh resumes an incremental run: %+v", p)
	}
	// A backfill resumes only the same range.
	o.Mode, o.From, o.To = Backfill, at(0), at(72)
	bf := *pending
	if p := mustPlan(t, load.State{Backfill: &bf}, o); p.resume != &bf {
		t.Errorf("backfill of the same range does not resume")
	}
	o.To = at(96)
	if p := mustPlan(t, load.State{Backfill: &bf}, o); p.resume != nil {
		t.Errorf("backfill of another range resumes the old one")
	}
}

func TestPlan_ProgressMovesWatermarkOnlyAtTheEnd(t *testing.T) {
	o := Options{Start: at(0), SliceSize: 24 * time.Hour, Now: func() time.Time { return at(48) }}
	o.defaults()
	p := mustPlan(t, load.State{}, o)
	st := p.progress(load.State{}, "r", 0, "CVR-A")
	if !st.Watermark.IsZero() || st.Pending == nil || st.Pending.After != "CVR-A" || !st.Pending.SliceLo.Equal(at(0)) {
		t.Errorf("mid-slice state = %+v", st)
	}
	st = p.progress(st, "r", 0, "")
	if !st.Watermark.IsZero() || st.Pending == nil || st.Pending.After != "" || !st.Pending.SliceLo.Equal(at(24)) {
		t.Errorf("after slice 0 = %+v %+v", st, st.Pending)
	}
	st = p.progress(st, "r", 1, "")
	if !st.Watermark.Equal(at(48)) || st.Pending != nil {
		t.Errorf("final state = %+v", st)
	}
	// A backfill never moves the watermark.
	o.Mode, o.From, o.To = Backfill, at(0), at(24)
	p = mustPlan(t, load.State{Watermark: at(5)}, o)
	st = p.progress(load.State{Watermark: at(5)}, "r", 0, "")
	if !st.Watermark.Equal(at(5)) || st.Backfill != nil {
		t.Errorf("backfill final state = %+v", st)
	}
}

func mustPlan(t *testing.T, st load.State, o Options) runPlan {
	t.Helper()
	p, err := plan(st, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
