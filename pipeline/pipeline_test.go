package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/transform"
)

// fakeSource serves conversations like the API: filtered by window, newest
// creation first, pages of size with `after` cursors.
type fakeSource struct {
	convs []extract.Conversation
	size  int
	calls atomic.Int64 // Stats is read by the loader while Pages runs
}

func (s *fakeSource) Stats() extract.Stats { return extract.Stats{APICalls: s.calls.Load()} }

func (s *fakeSource) Pages(ctx context.Context, w extract.Window, after string, fn func(extract.Page) error) error {
	var in []extract.Conversation
	for _, c := range s.convs {
		if !c.LastUpdatedTime.Before(w.Lo) && c.LastUpdatedTime.Before(w.Hi) {
			in = append(in, c)
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i].CreationTime.After(in[j].CreationTime.Time) })
	start := 0
	if after != "" {
		start = -1
		for i, c := range in {
			if c.ID == after {
				start = i + 1
			}
		}
		if start < 0 {
			return fmt.Errorf("unknown cursor %s", after)
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.calls.Add(1)
		end := min(start+s.size, len(in))
		p := extract.Page{Conversations: in[start:end]}
		if end < len(in) {
			p.Next = in[end-1].ID
		}
		if err := fn(p); err != nil {
			return err
		}
		if p.Next == "" {
			return nil
		}
		start = end
	}
}

// fakeSink keeps the latest version of each conversation and the state. It
// fails the commit numbered failAt (1-based), leaving everything unchanged.
type fakeSink struct {
	st      load.State
	convs   map[string]time.Time
	commits int
	failAt  int
	runs    map[string]load.Run
}

func newFakeSink() *fakeSink {
	return &fakeSink{convs: map[string]time.Time{}, runs: map[string]load.Run{}}
}

func (s *fakeSink) State(context.Context) (load.State, error) { return s.st, nil }

func (s *fakeSink) Record(_ context.Context, r load.Run) error { s.runs[r.ID] = r; return nil }

func (s *fakeSink) Commit(_ context.Context, b *transform.Batch, st load.State, r load.Run) (load.Counts, error) {
	s.commits++
	if s.commits == s.failAt {
		return load.Counts{}, errors.New("disk full")
	}
	var c load.Counts
	for _, row := range b.Conversations {
		old, ok := s.convs[row.ID]
		switch {
		case !ok:
			c.Inserted++
		case row.LastUpdatedTime.After(old):
			c.Updated++
		default:
			c.Unchanged++
			continue
		}
		s.convs[row.ID] = row.LastUpdatedTime
	}
	s.st, s.runs[r.ID] = st, r
	return c, nil
}

func convsEvery(n int, step time.Duration) []extract.Conversation {
	var out []extract.Conversation
	for i := range n {
		ts := t0.Add(time.Duration(i) * step)
		out = append(out, extract.Conversation{ID: fmt.Sprintf("CVR-%06d", i), CreationTime: extract.Time{Time: ts}, LastUpdatedTime: extract.Time{Time: ts}})
	}
	return out
}

func TestRun_ReadsWindowAndMovesWatermark(t *testing.T) {
	src := &fakeSource{convs: convsEvery(100, time.Hour), size: 10}
	sink := newFakeSink()
	o := Options{Start: t0, SliceSize: 24 * time.Hour, BatchSize: 15, Now: func() time.Time { return at(200) }}
	run, err := Run(context.Background(), src, sink, o)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != "succeeded" || run.Inserted != 100 || len(sink.convs) != 100 {
		t.Errorf("run = %+v, sink has %d", run, len(sink.convs))
	}
	if !sink.st.Watermark.Equal(at(200)) || sink.st.Pending != nil {
		t.Errorf("state = %+v", sink.st)
	}
	if got := sink.runs[run.ID]; got.Status != "succeeded" || got.End == nil {
		t.Errorf("ledger row = %+v", got)
	}
	// 9 slices (8 of 24h + 8h); 5 hold 24,24,24,24,4 conversations → 3+3+3+3+1 pages, 4 empty slices → 1 page each.
	if run.APICalls != 17 {
		t.Errorf("api calls = %d, want 17", run.APICalls)
	}
}

// TestRun_FailedCommitResumes: a commit that fails leaves the previous
// state; the next run resumes the same window where the last commit left it
// and ends with every conversation loaded.
func TestRun_FailedCommitResumes(t *testing.T) {
	for failAt := 1; failAt <= 6; failAt++ {
		t.Run(fmt.Sprintf("fail commit %d", failAt), func(t *testing.T) {
			src := &fakeSource{convs: convsEvery(100, time.Hour), size: 10}
			sink := newFakeSink()
			sink.failAt = failAt
			o := Options{Start: t0, SliceSize: 48 * time.Hour, BatchSize: 20, Now: func() time.Time { return at(200) }}
			first, err := Run(context.Background(), src, sink, o)
			if err == nil || first.Status != "failed" || sink.runs[first.ID].Error == "" {
				t.Fatalf("first run: err %v, run %+v", err, first)
			}
			before := sink.st
			o.Now = func() time.Time { return at(300) } // a later clock must not move the frozen window
			second, err := Run(context.Background(), src, sink, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(sink.convs) != 100 {
				t.Errorf("after resume: %d conversations, want 100", len(sink.convs))
			}
			if second.ID == first.ID || sink.runs[first.ID].Status != "failed" {
				t.Errorf("the resuming run %s overwrote the ledger row of %s", second.ID, first.ID)
			}
			if committed := sink.runs[first.ID].Inserted; committed+second.Inserted != 100 {
				t.Errorf("inserted %d before the failure and %d after, want 100 in all", committed, second.Inserted)
			}
			if before.Pending != nil && !sink.st.Watermark.Equal(at(200)) {
				t.Errorf("watermark %s, want the frozen window end %s", sink.st.Watermark, at(200))
			}
		})
	}
}

// failOnRows fails every commit that holds a conversation.
type failOnRows struct{ *fakeSink }

func (s failOnRows) Commit(ctx context.Context, b *transform.Batch, st load.State, r load.Run) (load.Counts, error) {
	if len(b.Conversations) > 0 {
		return load.Counts{}, errors.New("disk full")
	}
	return s.fakeSink.Commit(ctx, b, st, r)
}

// TestRun_LargeConversationsMakeSmallerBatches: a batch also ends once its
// conversations' JSON passes BatchBytes (on a whole page), so conversations
// far larger than usual cannot make a batch of BatchSize of them gigabytes.
func TestRun_LargeConversationsMakeSmallerBatches(t *testing.T) {
	convs := convsEvery(100, time.Minute)
	for i := range convs {
		convs[i].Raw = strings.Repeat("x", 1000)
	}
	src := &fakeSource{convs: convs, size: 10}
	sink := newFakeSink()
	o := Options{Start: t0, SliceSize: -1, BatchSize: 1000, BatchBytes: 25_000, Now: func() time.Time { return at(200) }}
	run, err := Run(context.Background(), src, sink, o)
	if err != nil {
		t.Fatal(err)
	}
	// Three pages of 10,000 bytes pass 25,000: batches of 30, 30, 30 and 10.
	if sink.commits != 4 || run.Inserted != 100 || len(sink.convs) != 100 {
		t.Errorf("%d commits, run %+v, sink has %d; want 4 commits of all 100", sink.commits, run.Counts, len(sink.convs))
	}
}

// TestRun_EmptySlicesAreCommitted: a finished slice is committed even when
// it held nothing, so a run that fails after reading empty slices does not
// make the next run read them again.
func TestRun_EmptySlicesAreCommitted(t *testing.T) {
	convs := convsEvery(10, time.Hour)
	for i := range convs {
		convs[i].CreationTime.Time = convs[i].CreationTime.Add(100 * time.Hour)
		convs[i].LastUpdatedTime = convs[i].CreationTime
	}
	src := &fakeSource{convs: convs, size: 10}
	sink := newFakeSink()
	// Slices of a day from t0 to hour 120: four empty, then the one with the ten.
	o := Options{Start: t0, SliceSize: 24 * time.Hour, Now: func() time.Time { return at(120) }}
	if _, err := Run(context.Background(), src, failOnRows{sink}, o); err == nil {
		t.Fatal("first run succeeded; want the failed commit of the conversations")
	}
	if p := sink.st.Pending; p == nil || !p.SliceLo.Equal(at(96)) {
		t.Fatalf("pending after the failed run: %+v, want the last slice, from %s", p, at(96))
	}
	second, err := Run(context.Background(), src, sink, o)
	if err != nil {
		t.Fatal(err)
	}
	if second.APICalls != 1 || second.Inserted != 10 {
		t.Errorf("resumed run: %d API calls, %d inserted; want 1 call (the last slice only) and 10", second.APICalls, second.Inserted)
	}
}

// cancelAfterLast cancels the run's context right after committing the
// run's last batch: a signal that comes once the work is done.
type cancelAfterLast struct {
	*fakeSink
	cancel context.CancelFunc
}

func (s cancelAfterLast) Commit(ctx context.Context, b *transform.Batch, st load.State, r load.Run) (load.Counts, error) {
	c, err := s.fakeSink.Commit(ctx, b, st, r)
	if err == nil && st.Pending == nil {
		s.cancel()
	}
	return c, err
}

// TestRun_SignalAfterTheLastCommitSucceeds: a run whose every batch is
// committed has succeeded, whatever comes after.
func TestRun_SignalAfterTheLastCommitSucceeds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := newFakeSink()
	o := Options{Start: t0, BatchSize: 10, Now: func() time.Time { return at(200) }}
	run, err := Run(ctx, &fakeSource{convs: convsEvery(100, time.Hour), size: 10}, cancelAfterLast{sink, cancel}, o)
	if err != nil || run.Status != "succeeded" || ctx.Err() == nil {
		t.Errorf("run %s, err %v (context cancelled: %v); want succeeded after the cancel", run.Status, err, ctx.Err())
	}
}

// TestRun_RequestTimeoutFailsNotCancels: an error that wraps
// context.DeadlineExceeded (an HTTP client's timeout) while the run's own
// context is live is a failed run, not a cancelled one.
func TestRun_RequestTimeoutFailsNotCancels(t *testing.T) {
	src := &failingSource{err: fmt.Errorf("fetch first page: Get \"…\": %w (Client.Timeout exceeded while awaiting headers)", context.DeadlineExceeded)}
	run, err := Run(context.Background(), src, newFakeSink(), Options{Start: t0, Now: func() time.Time { return at(200) }})
	if err == nil || run.Status != "failed" {
		t.Errorf("run %s, err %v; want failed", run.Status, err)
	}
}

type failingSource struct{ err error }

func (s *failingSource) Stats() extract.Stats { return extract.Stats{} }

func (s *failingSource) Pages(context.Context, extract.Window, string, func(extract.Page) error) error {
	return s.err
}

func TestRun_CancelledRollsBackAndSaysSo(t *testing.T) {
	src := &fakeSource{convs: convsEvery(100, time.Hour), size: 10}
	sink := newFakeSink()
	ctx, cancel := context.WithCancelCause(context.Background())
	o := Options{Start: t0, BatchSize: 10, Now: func() time.Time { return at(200) },
		OnCommit: func(Report) { cancel(errors.New("signal terminated")) }}
	run, err := Run(ctx, src, sink, o)
	if !errors.Is(err, context.Canceled) || run.Status != "cancelled" {
		t.Fatalf("err %v, status %s", err, run.Status)
	}
	// The ledger says by what, not only "context canceled".
	if !strings.Contains(run.Error, "context canceled (signal terminated)") {
		t.Errorf("error %q, want the cause named", run.Error)
	}
	if sink.st.Pending == nil || !sink.st.Watermark.IsZero() {
		t.Errorf("state after cancel = %+v: want progress kept, watermark unmoved", sink.st)
	}
	if sink.runs[run.ID].Status != "cancelled" {
		t.Errorf("ledger says %q", sink.runs[run.ID].Status)
	}
}

// TestRun_CursorAheadOfTheClockFails: a stored watermark later than the
// clock allows fails the run, recorded in the ledger, without a call; it
// does not succeed reading nothing.
func TestRun_CursorAheadOfTheClockFails(t *testing.T) {
	src := &fakeSource{convs: convsEvery(10, time.Hour), size: 10}
	sink := newFakeSink()
	sink.st.Watermark = at(300)
	run, err := Run(context.Background(), src, sink, Options{Start: t0, Lookback: 10 * time.Minute, Now: func() time.Time { return at(100) }})
	if err == nil || !strings.Contains(err.Error(), "later than this machine's clock allows") || run.Status != "failed" || src.calls.Load() != 0 {
		t.Errorf("run %s after %d calls, err %v; want failed before any call", run.Status, src.calls.Load(), err)
	}
	if got := sink.runs[run.ID]; got.Status != "failed" || got.Error == "" {
		t.Errorf("ledger row %+v, want the failure recorded", got)
	}
}

// failRecord fails every Record, as a warehouse whose disk is full or whose
// control folder is read-only does.
type failRecord struct{ *fakeSink }

func (s failRecord) Record(context.Context, load.Run) error { return errors.New("disk full") }

// TestRun_FailedStartRecordIsAFailedRun: a run whose first ledger row cannot
// be written has failed: the run returned (the summary line, the metrics)
// says so with the error, not "running" without one.
func TestRun_FailedStartRecordIsAFailedRun(t *testing.T) {
	src := &fakeSource{convs: convsEvery(10, time.Hour), size: 10}
	o := Options{Start: t0, Now: func() time.Time { return at(200) }}
	run, err := Run(context.Background(), src, failRecord{newFakeSink()}, o)
	if err == nil || !strings.Contains(err.Error(), "record run start") {
		t.Fatalf("err = %v, want the failed start record", err)
	}
	if run.Status != "failed" || !strings.Contains(run.Error, "disk full") || run.End == nil {
		t.Errorf("run = status %q, error %q, end %v; want failed with the error and an end", run.Status, run.Error, run.End)
	}
}

// rejectSource serves pages pages of size items that are all rejects, each
// with raw JSON of rawSize bytes: a slice where every item is bad.
type rejectSource struct{ pages, size, rawSize int }

func (s *rejectSource) Stats() extract.Stats { return extract.Stats{} }

func (s *rejectSource) Pages(ctx context.Context, w extract.Window, after string, fn func(extract.Page) error) error {
	for p := 0; p < s.pages; p++ {
		var pg extract.Page
		for i := range s.size {
			pg.Rejects = append(pg.Rejects, extract.Reject{ID: fmt.Sprintf("CVR-%d-%d", p, i), Reason: "bad", Raw: []byte(strings.Repeat("x", s.rawSize))})
		}
		if p < s.pages-1 {
			pg.Next = fmt.Sprintf("CVR-%d-%d", p, s.size-1)
		}
		if err := fn(pg); err != nil {
			return err
		}
	}
	return nil
}

// TestRun_RejectsEndBatchesToo: rejects count towards a batch's size and
// bytes. Counted in neither, a slice whose items were all bad (an API
// change that breaks every item) made one batch of the whole slice: 50,000
// rejects of 11 kB took 2.2 GB and DuckDB ran out of memory appending
// them, in every run again.
func TestRun_RejectsEndBatchesToo(t *testing.T) {
	for _, tt := range []struct {
		name             string
		batchSize, bytes int
	}{
		{"size", 250, 0},
		{"bytes", 1000, 25_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sink := newFakeSink()
			o := Options{Start: t0, SliceSize: -1, BatchSize: tt.batchSize, BatchBytes: tt.bytes, Now: func() time.Time { return at(200) }}
			run, err := Run(context.Background(), &rejectSource{pages: 10, size: 100, rawSize: 100}, sink, o)
			if err != nil {
				t.Fatal(err)
			}
			// Batches of 300, 300, 300 and 100 rejects (whole pages).
			if sink.commits != 4 || run.Rejected != 1000 {
				t.Errorf("%d commits, %d rejects; want 4 commits of all 1000", sink.commits, run.Rejected)
			}
		})
	}
}

// failAfterPages serves the pages of src, then fails with err where the
// next page would be.
type failAfterPages struct {
	*fakeSource
	pages int
	err   error
}

func (s *failAfterPages) Pages(ctx context.Context, w extract.Window, after string, fn func(extract.Page) error) error {
	n := 0
	err := s.fakeSource.Pages(ctx, w, after, func(p extract.Page) error {
		if n == s.pages {
			return s.err
		}
		n++
		return fn(p)
	})
	return err
}

// TestRun_FailedReadAndFailedCommitSayBoth: a page that fails to be read
// (the key revoked) while the pages read before it then fail to commit (the
// disk full) fails the run with both errors: it said only "disk full", and
// the run after a freed disk was the first to say the key was revoked.
func TestRun_FailedReadAndFailedCommitSayBoth(t *testing.T) {
	src := &failAfterPages{fakeSource: &fakeSource{convs: convsEvery(50, time.Minute), size: 10}, pages: 2, err: errors.New("401 key revoked")}
	o := Options{Start: t0, SliceSize: -1, Now: func() time.Time { return at(200) }}
	run, err := Run(context.Background(), src, failOnRows{newFakeSink()}, o)
	if err == nil || !strings.Contains(err.Error(), "401 key revoked") || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err = %v, want the failed read and the failed commit", err)
	}
	if !strings.Contains(run.Error, "401 key revoked") {
		t.Errorf("ledger error %q, want the failed read in it", run.Error)
	}
}

// TestRun_FailedStartRecordKeepsThePlansError: a run whose window cannot be
// planned (a clock behind the watermark) and whose start cannot be recorded
// says both: the start's error alone hid what the user must fix once the
// disk has room again.
func TestRun_FailedStartRecordKeepsThePlansError(t *testing.T) {
	sink := newFakeSink()
	sink.st.Watermark = at(300)
	o := Options{Start: t0, Lookback: 10 * time.Minute, Now: func() time.Time { return at(100) }}
	run, err := Run(context.Background(), &fakeSource{size: 10}, failRecord{sink}, o)
	if err == nil || !strings.Contains(err.Error(), "later than this machine's clock allows") || !strings.Contains(err.Error(), "record run start") {
		t.Errorf("err = %v, want the plan's error and the failed start record", err)
	}
	if !strings.Contains(run.Error, "later than this machine's clock allows") {
		t.Errorf("run error %q, want the plan's error in it", run.Error)
	}
}
