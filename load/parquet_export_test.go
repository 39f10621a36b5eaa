package load

import "time"

// SetHook installs the test hook a Parquet publish calls at each step
// ("staged", "conversations", "dimensions", "rejects", "runs", "data",
// "manifest-temp" before its commit point; "manifest", "moved" after it). An
// error before the commit point aborts the commit, which rolls back; after
// it, it stops the publish as a crash would. nil removes it.
func (p *Parquet) SetHook(hook func(step string) error) { p.hook = hook }

// SetNow replaces the clock that stamps synced_at.
func (p *Parquet) SetNow(now func() time.Time) { p.now = now }

// LastPublish is what the last publish did: files written, their bytes, and
// files removed.
func (p *Parquet) LastPublish() (written int, bytes int64, removed int) {
	return p.last.filesWritten, p.last.bytesWritten, p.last.filesRemoved
}

// Merges is the number of times a commit read a table's stored rows to
// merge the batch's with them, rather than inserting them.
func (p *Parquet) Merges() int { return p.merges }
