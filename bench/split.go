package bench

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/pipeline"
	"github.com/convsync/convsync/transform"
)

// The split phases (Config.Split) time the two halves of a sync from
// captured pages apart: decoding and flattening the pages into batches
// that are dropped, and the DuckDB sink committing the same batches,
// decoded beforehand (untimed) and held in memory. The second is what the
// loader alone costs, whatever the speed of decoding; its RSS is not
// comparable (the held batches are in it) and is not reported.

// commitCall is one Commit the pipeline made, to make again.
type commitCall struct {
	batch *transform.Batch
	state load.State
	run   load.Run
}

// holdSink keeps every Commit's arguments (if keep) and counts what a sink
// would write into an empty warehouse: the data of a full sync does not
// change while it is read, so every conversation is new.
type holdSink struct {
	keep  bool
	calls []commitCall
}

func (h *holdSink) State(context.Context) (load.State, error) { return load.State{}, nil }
func (h *holdSink) Record(context.Context, load.Run) error    { return nil }

func (h *holdSink) Commit(_ context.Context, b *transform.Batch, st load.State, run load.Run) (load.Counts, error) {
	if h.keep {
		h.calls = append(h.calls, commitCall{b, st, run})
	}
	return load.Counts{Inserted: int64(len(b.Conversations)), ChildRows: int64(len(b.Answers) + len(b.Bookings))}, nil
}

// split runs the split phases on the captured pages.
func (b *bencher) split(ctx context.Context, spec SimSpec, url string) error {
	into := func(h *holdSink) sink {
		return func(context.Context) (pipeline.Sink, func() error, error) { return h, func() error { return nil }, nil }
	}
	if err := b.sync(ctx, "decode: captured pages, no sink", spec, url, b.tape.player(), into(&holdSink{})); err != nil {
		return err
	}
	hold := &holdSink{keep: true}
	if err := b.syncInto(ctx, &Phase{}, spec, url, b.tape.player(), into(hold)); err != nil {
		return err
	}
	return b.phase("duckdb: commits alone, from memory", func(p *Phase) error {
		p.NoRSS, p.Full = true, true
		d, closeD, err := duckSink(filepath.Join(b.dir, "split.duckdb"), b.cfg.MemoryLimit)(ctx)
		if err != nil {
			return err
		}
		var run load.Run
		for i, c := range hold.calls {
			n, err := d.Commit(ctx, c.batch, c.state, c.run)
			if err != nil {
				return errors.Join(err, closeD())
			}
			run.Counts.Add(n)
			hold.calls[i] = commitCall{} // freed as it goes, as a sync would
		}
		p.Conversations = run.Inserted + run.Updated + run.Unchanged
		p.Rows = run.Inserted + run.Updated + run.ChildRows
		return closeD()
	})
}
