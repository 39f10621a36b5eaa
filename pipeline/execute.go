package pipeline

import (
	"context"
	"errors"

	"golang.org/x/sync/errgroup"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/transform"
)

// fetched is one page handed from the reader to the batcher, with where it
// sits in the plan.
type fetched struct {
	page  extract.Page
	slice int
}

// batch is a flattened batch handed from the batcher to the loader, with
// where the plan stands after its last page.
type batch struct {
	rows      *transform.Batch
	pages     int64
	slice     int
	next      string // the cursor after its last page; "" = the slice is done
	sliceDone bool
}

// execute streams the plan through three goroutines it owns: the reader
// fetches and decodes pages, the batcher gathers them into batches and
// flattens them, and the loader commits them. So a page is decoded and a
// batch flattened while the batch before it is being committed. The queues
// between them are bounded (Queue pages, one batch), so memory holds at
// most Queue pages and three batches (one being built, one waiting, one
// committing). All stop at the first error, but for the reader's: the pages
// it fetched before it failed are still committed, with their cursor, so
// the next run does not spend API calls on them again; then its error is
// returned (with the commit's, if that failed too).
func execute(ctx context.Context, src Source, sink Sink, st load.State, p runPlan, run *load.Run, base extract.Stats, o Options) error {
	g, ctx := errgroup.WithContext(ctx)
	pages := make(chan fetched, o.Queue)
	batches := make(chan batch, 1)
	var readErr error // the reader's own failure, returned after the commits
	g.Go(recovered(func() error {
		defer close(pages)
		err := read(ctx, src, p, pages)
		if ctx.Err() != nil {
			return err // stopped by the others, or by the caller
		}
		readErr = err // not returned: it would cancel the commit of what was read
		return nil
	}))
	g.Go(recovered(func() error {
		defer close(batches)
		return gather(ctx, pages, batches, o.BatchSize, o.BatchBytes)
	}))
	g.Go(recovered(func() error {
		l := loader{sink: sink, st: st, plan: p, run: run, base: base, src: src, opts: o}
		return l.consume(ctx, batches)
	}))
	// Both, when the commit of what was read fails (or is cancelled) too:
	// the commit's error alone hid why the read stopped.
	return errors.Join(readErr, g.Wait())
}

// read sends every page of the plan's slices, in order, to pages.
func read(ctx context.Context, src Source, p runPlan, pages chan<- fetched) error {
	for i, w := range p.slices {
		after := ""
		if i == 0 {
			after = p.firstAfter
		}
		err := src.Pages(ctx, w, after, func(pg extract.Page) error {
			select {
			case pages <- fetched{page: pg, slice: i}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// gather groups pages into batches: a batch ends when it holds size items
// (conversations and rejects) or maxBytes of their JSON, or when a slice is
// done, even with nothing in it, so every finished slice is committed and a
// resumed run never reads it again; and when the reader fails, with the
// pages it read before.
func gather(ctx context.Context, pages <-chan fetched, batches chan<- batch, size, maxBytes int) error {
	var convs []extract.Conversation
	var rejs []extract.Reject
	var n int64
	var bytes int
	var last fetched
	send := func() error {
		b := batch{rows: transform.Flatten(convs, rejs), pages: n, slice: last.slice, next: last.page.Next, sliceDone: last.page.Next == ""}
		select {
		case batches <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		// Flatten copied what the batch needs, so the buffers are reused.
		clear(convs)
		clear(rejs)
		convs, rejs, n, bytes = convs[:0], rejs[:0], 0, 0
		return nil
	}
	for f := range pages {
		convs = append(convs, f.page.Conversations...)
		rejs = append(rejs, f.page.Rejects...)
		n++
		last = f
		bytes += pageBytes(f.page)
		// Rejects count as conversations do: a slice whose items are all
		// bad would otherwise be one batch, whatever its size.
		if len(convs)+len(rejs) < size && bytes < maxBytes && f.page.Next != "" {
			continue
		}
		if err := send(); err != nil {
			return err
		}
	}
	// pages closes when read ends. After a read that finished, nothing is
	// left (its last page ended a slice); after one that failed, the pages
	// read before the failure are a batch of their own (read returns the
	// error).
	if n > 0 {
		return send()
	}
	return nil
}

// pageBytes is the JSON of a page's items, rejects included (each keeps its
// raw JSON, copied).
func pageBytes(p extract.Page) int {
	n := 0
	for _, c := range p.Conversations {
		n += len(c.Raw)
	}
	for _, r := range p.Rejects {
		n += len(r.Raw)
	}
	return n
}

// loader commits batches in order.
type loader struct {
	sink Sink
	src  Source
	st   load.State
	plan runPlan
	run  *load.Run
	base extract.Stats
	opts Options
}

func (l *loader) consume(ctx context.Context, batches <-chan batch) error {
	for b := range batches {
		if err := ctx.Err(); err != nil {
			return err // a cancelled run commits nothing more
		}
		if err := l.commit(ctx, b); err != nil {
			return err
		}
	}
	// Every batch is committed (or gather returned an error, which the
	// group returns): a signal that comes now cancels nothing.
	return nil
}

func (l *loader) commit(ctx context.Context, b batch) error {
	st := l.plan.progress(l.st, l.run.ID, b.slice, b.next)
	l.run.Pages += b.pages
	l.run.Rejected += int64(len(b.rows.Rejects))
	applyStats(l.run, l.src.Stats(), l.base)
	counts, err := l.sink.Commit(ctx, b.rows, st, *l.run)
	if err != nil {
		l.run.Pages -= b.pages
		l.run.Rejected -= int64(len(b.rows.Rejects))
		return err
	}
	l.run.Counts.Add(counts)
	l.st = st
	if l.opts.OnCommit != nil {
		done := b.slice
		if b.sliceDone {
			done++
		}
		l.opts.OnCommit(Report{Run: *l.run, SlicesDone: done, SlicesTotal: len(l.plan.slices)})
	}
	return nil
}
