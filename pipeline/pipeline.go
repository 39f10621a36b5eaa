// Package pipeline runs a sync: it plans the window, reads it slice by slice
// from the source, flattens pages into batches and commits each batch with
// the cursor that says how far the run got. Data flows one way: extract →
// transform → load. The cursor only moves inside the sink's commit.
package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/transform"
)

// Source reads conversations from the API. *extract.Client implements it.
type Source interface {
	// Pages calls fn with every page of window w, starting at the page after
	// cursor after ("" = the first page). It calls fn at least once, with an
	// empty page when the window is empty. An error from fn stops it.
	Pages(ctx context.Context, w extract.Window, after string, fn func(extract.Page) error) error
	// Stats reports the API calls made so far. It is called while Pages
	// runs, from another goroutine.
	Stats() extract.Stats
}

// Sink is a warehouse. *load.DuckDB and *load.Parquet implement it.
type Sink interface {
	// State returns the state of the last commit.
	State(ctx context.Context) (load.State, error)
	// Commit writes the batch, the state and the run's ledger row
	// atomically: after an error none of them changed.
	Commit(ctx context.Context, b *transform.Batch, st load.State, run load.Run) (load.Counts, error)
	// Record writes the run's ledger row alone.
	Record(ctx context.Context, run load.Run) error
}

var (
	_ Source = (*extract.Client)(nil)
	_ Sink   = (*load.DuckDB)(nil)
	_ Sink   = (*load.Parquet)(nil)
)

// Mode is the kind of run.
type Mode string

// The kinds of run.
const (
	// Incremental reads from the watermark (less the lookback) to now (less
	// the settle lag) and moves the watermark.
	Incremental Mode = "incremental"
	// FullRefresh reads from Options.Start to now and moves the watermark.
	FullRefresh Mode = "full-refresh"
	// Backfill reads [Options.From, Options.To) and never moves the watermark.
	Backfill Mode = "backfill"
)

// Options configure a run. Zero values take the documented defaults.
type Options struct {
	Mode Mode
	// Start is where the first incremental run (and a full refresh) starts.
	Start time.Time
	// From and To bound a backfill.
	From, To time.Time
	// Lookback re-reads this much before the watermark, for updates the API
	// made visible late. Default 0.
	Lookback time.Duration
	// SettleLag keeps the window's end this far behind now, so updates in
	// flight at the source are read by the next run. Default 0.
	SettleLag time.Duration
	// SliceSize splits the window into slices read oldest first; progress is
	// durable slice by slice. Default 30 days; a negative value means one slice.
	SliceSize time.Duration
	// BatchSize is how many conversations one commit holds at most, the
	// items rejected counted as conversations (whole pages: a batch may
	// exceed it by less than a page). Default 5000.
	BatchSize int
	// BatchBytes ends a batch early once its items' JSON passes it
	// (whole pages again), so that conversations far larger than usual
	// (thousands of answers) cannot make a batch of BatchSize of them
	// gigabytes. Default DefaultBatchBytes.
	BatchBytes int
	// Queue is how many decoded pages may wait for the loader. Default 4.
	Queue int
	// Now is the source's clock: it sets the window's end. Default time.Now.
	// (The ledger's start and end times are always wall-clock times.)
	Now func() time.Time
	// RunID names the run in the ledger and lineage columns. Default: a new
	// time-ordered random id.
	RunID string
	// OnCommit, if set, is called after each commit with the run so far.
	OnCommit func(Report)
}

// Report is how far a run got, for progress displays.
type Report struct {
	Run         load.Run
	SlicesDone  int
	SlicesTotal int
}

func (o *Options) defaults() {
	if o.Mode == "" {
		o.Mode = Incremental
	}
	if o.SliceSize == 0 {
		o.SliceSize = 30 * 24 * time.Hour
	}
	if o.SliceSize < 0 {
		o.SliceSize = 0
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.Queue <= 0 {
		o.Queue = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RunID == "" {
		o.RunID = NewRunID(time.Now())
	}
}

// DefaultBatchSize is Options.BatchSize's default: how many conversations a
// commit holds (see bench/README.md for how it was chosen).
const DefaultBatchSize = 5000

// DefaultBatchBytes is Options.BatchBytes's default: 32 MiB of JSON, four
// times a batch of 5,000 conversations of the usual 1.6 kB, so it bounds
// only unusual data. A batch in memory holds its JSON and the rows made
// from it, and up to three batches are in flight.
const DefaultBatchBytes = 32 << 20

// NewRunID returns an id that sorts by start time: run-20260102T150405Z-1a2b3c.
func NewRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return "run-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Run performs one run and returns its ledger row. The row is recorded in
// the sink at the start and at the end, whatever the outcome, a cancelled
// ctx included (see bookkeeping); a cancelled run ends with status
// "cancelled" and ctx's error. Two failures leave no row: a state that
// cannot be read (Run returns a zero Run) and a start that cannot be
// recorded (Run returns the failed run, unrecorded). Data committed before
// an error stays committed, with the cursor that lets the next run resume;
// when reading a page fails, the pages read before it are committed first
// (see execute). A run that resumes an interrupted one reads the rest of its frozen window
// under its own id: each ledger row counts what its own run did, and the
// interrupted run's row keeps its status.
func Run(ctx context.Context, src Source, sink Sink, opts Options) (load.Run, error) {
	opts.defaults()
	st, err := readState(ctx, sink)
	if err != nil {
		return load.Run{}, fmt.Errorf("read sync state: %w", err)
	}
	p, err := plan(st, opts)
	run := load.Run{ID: opts.RunID, Mode: string(opts.Mode), Start: time.Now().UTC(), Status: "running"}
	run.WindowLo, run.WindowHi = timeRef(p.window.Lo), timeRef(p.window.Hi)
	base := src.Stats()
	if rerr := record(ctx, sink, run); rerr != nil {
		// The run ends here, unrecorded: what it returns (the summary line,
		// the metrics) is all that says it failed, and why (the plan's
		// error too, if it had one).
		err := errors.Join(err, fmt.Errorf("record run start: %w", rerr))
		finish(&run, src.Stats(), base, time.Now(), err, cancelCause(ctx))
		return run, err
	}
	if err == nil { // else the run fails without a call, recorded as such
		err = execute(ctx, src, sink, st, p, &run, base, opts)
	}
	finish(&run, src.Stats(), base, time.Now(), err, cancelCause(ctx))
	if rerr := record(ctx, sink, run); rerr != nil {
		err = errors.Join(err, fmt.Errorf("record run end: %w", rerr))
	}
	return run, err
}

// bookkeepingTimeout bounds each of the run's own reads and writes of the
// warehouse that a cancelled context does not stop (see bookkeeping).
const bookkeepingTimeout = 10 * time.Second

// bookkeeping is the context of the run's own reads and writes of the
// warehouse around its work: the state it starts from and its ledger row,
// at the start and at the end. They are done even when ctx is cancelled:
// the ledger row is what tells the user why the run stopped. Made under
// ctx, a signal in the run's first milliseconds (while the state was read
// or the start recorded) ended the run with no ledger row at all.
func bookkeeping(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
}

func readState(ctx context.Context, sink Sink) (load.State, error) {
	bctx, cancel := bookkeeping(ctx)
	defer cancel()
	return sink.State(bctx)
}

func record(ctx context.Context, sink Sink, run load.Run) error {
	bctx, cancel := bookkeeping(ctx)
	defer cancel()
	return sink.Record(bctx, run)
}

// finish fills in the end of run: succeeded without err; cancelled if the
// run's own context was (cancelled is then its cause: a signal, a caller's
// deadline), whatever err says; else failed. A request's timeout is a failure, not a cancellation.
func finish(run *load.Run, now, base extract.Stats, end time.Time, err error, cancelled error) {
	applyStats(run, now, base)
	e := end.UTC()
	run.End = &e
	switch {
	case err == nil:
		run.Status = "succeeded"
	case cancelled != nil:
		// The error says "context canceled"; the cause says by what (the
		// signal, from main).
		run.Status, run.Error = "cancelled", err.Error()
		if c := cancelled.Error(); !strings.Contains(run.Error, c) {
			run.Error += " (" + c + ")"
		}
	default:
		run.Status, run.Error = "failed", err.Error()
	}
}

// cancelCause is what cancelled ctx (context.Cause: main gives the signal),
// or nil while it is not cancelled.
func cancelCause(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return context.Cause(ctx)
}

func applyStats(run *load.Run, now, base extract.Stats) {
	run.APICalls = now.APICalls - base.APICalls
	run.Retries = now.Retries - base.Retries
	run.RateLimited = now.RateLimited - base.RateLimited
}

func timeRef(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
