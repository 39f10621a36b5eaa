package pipeline

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/transform"
)

// fetched is one page handed from the reader to the loader, with where it
// sits in the plan.
type fetched struct {
	page  extract.Page
	slice int
}

// execute streams the plan: one goroutine reads and decodes pages while
// the caller's goroutine flattens and commits the pages before them. The
// queue between them is bounded, so memory holds at most Queue pages plus
// one batch. Both goroutines stop at the first error.
func execute(ctx context.Context, src Source, sink Sink, st load.State, p runPlan, run *load.Run, base extract.Stats, o Options) error {
	g, ctx := errgroup.WithContext(ctx)
	pages := make(chan fetched, o.Queue)
	g.Go(func() error {
		defer close(pages)
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
	})
	g.Go(func() error {
		l := loader{sink: sink, st: st, plan: p, run: run, base: base, src: src, opts: o}
		return l.consume(ctx, pages)
	})
	return g.Wait()
}

// loader accumulates pages into batches and commits them.
type loader struct {
	sink  Sink
	src   Source
	st    load.State
	plan  runPlan
	run   *load.Run
	base  extract.Stats
	opts  Options
	convs []extract.Conversation
	rejs  []extract.Reject
	pages int64
}

func (l *loader) consume(ctx context.Context, pages <-chan fetched) error {
	last := len(l.plan.slices) - 1
	for f := range pages {
		if err := ctx.Err(); err != nil {
			return err // a cancelled run commits nothing more
		}
		l.convs = append(l.convs, f.page.Conversations...)
		l.rejs = append(l.rejs, f.page.Rejects...)
		l.pages++
		sliceDone := f.page.Next == ""
		full := len(l.convs) >= l.opts.BatchSize
		runDone := sliceDone && f.slice == last
		if !full && !runDone && !(sliceDone && len(l.convs)+len(l.rejs) > 0) {
			continue
		}
		st := l.plan.progress(l.st, l.run.ID, f.slice, f.page.Next)
		if err := l.commit(ctx, st, f.slice, sliceDone); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (l *loader) commit(ctx context.Context, st load.State, slice int, sliceDone bool) error {
	b := transform.Flatten(l.convs, l.rejs)
	l.run.Pages += l.pages
	l.run.Rejected += int64(len(b.Rejects))
	applyStats(l.run, l.src.Stats(), l.base)
	counts, err := l.sink.Commit(ctx, b, st, *l.run)
	if err != nil {
		l.run.Pages -= l.pages
		l.run.Rejected -= int64(len(b.Rejects))
		return err
	}
	l.run.Counts.Add(counts)
	l.st, l.convs, l.rejs, l.pages = st, l.convs[:0], l.rejs[:0], 0
	if l.opts.OnCommit != nil {
		done := slice
		if sliceDone {
			done++
		}
		l.opts.OnCommit(Report{Run: *l.run, SlicesDone: done, SlicesTotal: len(l.plan.slices)})
	}
	return nil
}
