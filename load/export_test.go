package load

import "time"

// SetFailAt installs the test hook Commit calls between its steps ("staged",
// "conversations", "children", "dimensions", "rejects", "state"); an error
// from it aborts the commit there. nil removes it.
func (d *DuckDB) SetFailAt(hook func(step string) error) { d.failAt = hook }

// SetNow replaces the clock that stamps synced_at.
func (d *DuckDB) SetNow(now func() time.Time) { d.now = now }

// Merges is the number of times a commit read a table's stored rows to
// merge the batch's with them, rather than inserting them.
func (d *DuckDB) Merges() int { return d.merges }
