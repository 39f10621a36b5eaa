package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	sqlfiles "github.com/convsync/convsync/sql"
	"github.com/convsync/convsync/transform"
)

// Commit writes batch b, the cursor state st and run's ledger row as one new
// version of the dataset: all of it is published together by one manifest
// rename, or, on an error or a cancelled ctx before that rename, none of it
// is and the dataset is exactly as before. The semantics are the DuckDB
// sink's: conversations upserted (only a strictly newer last_updated_time
// replaces a stored row), the whole child set of every written conversation
// replaced, dimensions upserted by id (a deleted row only marking the stored
// one), rejects appended, synced_at (commit time, UTC) and run_id on every
// row written, and the ledger row written with the returned Counts added to
// run.Counts.
//
// Only the partitions holding the batch's conversations are read, and only
// those where a conversation is inserted or updated are written; see
// (*writer).conversations. A conversation's creation_time must never change:
// it places the conversation, and its children, in their partition. Contacts
// are partitioned too; see (*writer).dimension.
//
// An error after the manifest rename (a failed rename of a published file)
// means the commit is durable but unfinished; the sink then refuses further
// commits until it is reopened, which finishes it.
func (p *Parquet) Commit(ctx context.Context, b *transform.Batch, st State, run Run) (Counts, error) {
	if p.readOnly {
		return Counts{}, fmt.Errorf("commit batch of run %s: %w", run.ID, p.readOnlyErr())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.commit(ctx, b, st, run)
	if err != nil {
		p.fresh.forget() // what is published is not known here
		return Counts{}, withMemoryHint(fmt.Errorf("commit batch of run %s: %w", run.ID, err), p.memoryLimit())
	}
	return c, nil
}

// Record upserts run's ledger row in _convsync_runs on its own, for the
// start, the end or the failure of a run; it is published like a commit.
// On a warehouse opened by OpenParquetReader, Commit and Record return an
// error wrapping ErrReadOnly and change nothing.
func (p *Parquet) Record(ctx context.Context, run Run) error {
	if p.readOnly {
		return fmt.Errorf("record run %s: %w", run.ID, p.readOnlyErr())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.record(ctx, run); err != nil {
		return withMemoryHint(fmt.Errorf("record run %s: %w", run.ID, err), p.memoryLimit())
	}
	return nil
}

func (p *Parquet) commit(ctx context.Context, b *transform.Batch, st State, run Run) (c Counts, err error) {
	if p.broken != nil {
		return c, p.broken
	}
	b = p.dims.changed(b)
	w := p.newWriter()
	p.fresh.begin()
	w.unseen = p.fresh.unseenIn(b)
	defer p.finish(w, &err)
	now := p.now().UTC()
	side, err := p.db.Conn(ctx)
	if err != nil {
		return c, err
	}
	defer side.Close()
	// Rows new to their tables are written from Go (parquet_direct.go), not
	// staged.
	var direct struct{ conversations, contacts bool }
	if err := p.step(ctx, "direct", func() (err error) {
		direct.conversations, direct.contacts, err = w.writeNew(ctx, b, now, run.ID, &c)
		return err
	}); err != nil {
		return c, err
	}
	staged := *b
	if direct.conversations {
		staged.Conversations, staged.Answers, staged.Bookings = nil, nil, nil
	}
	if direct.contacts {
		staged.Contacts = nil
	}
	if err := p.step(ctx, "staged", func() error { return stageParquet(ctx, p.conn, side, &staged, run.ID, now) }); err != nil {
		return c, err
	}
	if err := p.step(ctx, "conversations", func() error {
		if direct.conversations {
			return nil
		}
		var err error
		c, err = w.conversations(ctx)
		return err
	}); err != nil {
		return c, err
	}
	if err := p.step(ctx, "dimensions", func() error {
		for _, d := range []struct {
			table string
			n     int
		}{{"contacts", len(staged.Contacts)}, {"users", len(staged.Users)}, {"bots", len(staged.Bots)},
			{"websites", len(staged.Websites)}, {"audiences", len(staged.Audiences)}} {
			if d.n == 0 {
				continue
			}
			if err := w.dimension(ctx, d.table); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return c, err
	}
	if len(b.Rejects) > 0 {
		if err := p.step(ctx, "rejects", func() error { return w.rejects(ctx) }); err != nil {
			return c, err
		}
	}
	if err := p.step(ctx, "compact", func() error {
		for _, t := range parquetTables {
			if t == "_convsync_runs" { // rewritten whole by every commit
				continue
			}
			if err := w.compact(ctx, t); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return c, err
	}
	run.Counts.Add(c)
	if err := p.step(ctx, "runs", func() error { return w.runs(ctx, run) }); err != nil {
		return c, err
	}
	w.next.State, w.next.CommittedAt = st, now
	if err := p.publish(ctx, w); err != nil {
		return c, err
	}
	p.dims.keep()
	p.fresh.keep()
	return c, nil
}

func (p *Parquet) record(ctx context.Context, run Run) (err error) {
	if p.broken != nil {
		return p.broken
	}
	w := p.newWriter()
	defer p.finish(w, &err)
	if err := w.runs(ctx, run); err != nil {
		return err
	}
	w.next.CommittedAt = p.now().UTC()
	return p.publish(ctx, w)
}

// finish drops the commit's scratch tables and, if the commit failed before
// its manifest was published, its staged files: the dataset is as before.
func (p *Parquet) finish(w *writer, err *error) {
	bg := context.Background()
	_, derr := p.conn.ExecContext(bg, sqlfiles.Unstage+";\n"+fmt.Sprintf(sqlfiles.ParquetDropScratch, work))
	if *err == nil {
		*err = derr
		return
	}
	if p.broken != nil {
		return
	}
	if rerr := w.abandon(); rerr != nil {
		*err = errors.Join(*err, rerr)
	}
	if rerr := os.Remove(manifestPath(p.dir) + stagedSuffix); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		*err = errors.Join(*err, rerr)
	}
}

// step runs one step of a commit after checking ctx, then calls the test
// hook named after the step.
func (p *Parquet) step(ctx context.Context, name string, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := f(); err != nil {
		return err
	}
	if p.hook != nil {
		if err := p.hook(name); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// publish makes w's files the dataset. The protocol, and what readers see:
//
//  1. Every new file is already written under its staged name
//     (".part-….parquet.tmp" in its partition folder) and fsynced; now the
//     folders are fsynced. Staged names match no reader's glob, so readers
//     of the manifest and of a glob both still see the old dataset. [data]
//  2. The new manifest, listing the new files under their staged names, is
//     written to manifest.json.tmp and fsynced [manifest-temp], then
//     renamed over manifest.json and the folder fsynced. This rename is the
//     commit: a manifest reader now sees the new dataset (every file it
//     lists exists), a glob reader still the old one. [manifest]
//  3. The replaced files are removed, then the new ones renamed to their
//     final names, and the folders fsynced. [moved] This is the only window
//     in which a glob reader can see a mix: rows of replaced partitions
//     missing, or some new files next to old ones of other partitions (never
//     a row twice: a removal precedes every rename). It lasts the few
//     milliseconds of these unlinks and renames. A manifest reader may find a
//     staged name gone: the file is at its final name (resolve).
//  4. The manifest is rewritten with the final names.
//
// A crash before the rename of step 2 leaves the old dataset plus staged
// files, which the next open removes; a crash after it leaves the new
// dataset, whose renames the next open finishes (recoverDataset).
func (p *Parquet) publish(ctx context.Context, w *writer) error {
	if err := p.step(ctx, "data", func() error { return syncDirs(w.dirs) }); err != nil {
		return err
	}
	err := writeManifest(p.dir, w.next, func(step string) error {
		return p.step(ctx, step, func() error { return nil })
	})
	if err != nil {
		return err
	}
	// Committed: from here on a failure is a crash to recover from at the
	// next open, never a rollback.
	p.m = w.next.finalized()
	p.last = w.stats
	if err := p.published(w); err != nil {
		p.broken = fmt.Errorf("publish of version %d stopped after its commit point, reopen the warehouse: %w", w.next.Seq, err)
		return p.broken
	}
	if err := p.refreshViews(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	return nil
}

// published runs steps 3 and 4 of publish.
func (p *Parquet) published(w *writer) error {
	if err := p.crashPoint("manifest"); err != nil {
		return err
	}
	for _, rel := range w.removed {
		if err := os.Remove(filepath.Join(p.dir, filepath.FromSlash(rel))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		p.last.filesRemoved++
	}
	if _, err := moveStaged(p.dir, w.next); err != nil {
		return err
	}
	if err := p.crashPoint("moved"); err != nil {
		return err
	}
	return writeManifest(p.dir, p.m, func(string) error { return nil })
}

// crashPoint calls the test hook at a step past the commit point, where an
// error can only stand for a crash.
func (p *Parquet) crashPoint(step string) error {
	if p.hook == nil {
		return nil
	}
	return p.hook(step)
}

func syncDirs(dirs map[string]bool) error {
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return fmt.Errorf("sync folder %s: %w", d, err)
		}
	}
	return nil
}
