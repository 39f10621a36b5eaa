// Package load writes transform batches into a warehouse: a DuckDB database
// (DuckDB) or a Parquet dataset (Parquet). Every sink commits a batch, the
// cursor state and the run's ledger row together, or nothing at all.
package load

import (
	"encoding/json"
	"fmt"
	"time"
)

// State is the sync cursor a sink persists with every commit. The sink stores
// it as JSON and hands it back unchanged; its meaning belongs to the caller.
type State struct {
	// Watermark: every conversation last updated before it has been loaded.
	// Zero means nothing has been synced yet.
	Watermark time.Time `json:"watermark"`
	// Pending is the incremental run in progress, nil when none was cut short.
	Pending *Progress `json:"pending,omitempty"`
	// Backfill is a backfill in progress, nil when none was cut short. It
	// never moves Watermark.
	Backfill *Progress `json:"backfill,omitempty"`
}

// Progress is how far an interrupted run got, so the next one resumes there:
// its frozen window, the slice being read and the page cursor within it.
type Progress struct {
	RunID    string    `json:"run_id"`
	WindowLo time.Time `json:"window_lo"`
	WindowHi time.Time `json:"window_hi"`
	SliceLo  time.Time `json:"slice_lo"` // the slice in progress starts here
	SliceHi  time.Time `json:"slice_hi"`
	After    string    `json:"after,omitempty"` // next page cursor in the slice; "" = its first page
}

// MarshalState encodes a State for storage.
func MarshalState(s State) ([]byte, error) { return json.Marshal(s) }

// UnmarshalState decodes a stored State; empty input is the zero State.
func UnmarshalState(b []byte) (State, error) {
	var s State
	if len(b) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("decode sync state: %w", err)
	}
	return s, nil
}

// AbandonedError is the error of a ledger row marked "abandoned": a run
// still "running" when another run records itself, which holding the
// warehouse lock means the first one's process is gone.
const AbandonedError = "the run ended without recording an outcome (its process was killed?)"

// Run is a row of the run ledger `_convsync_runs`.
type Run struct {
	ID          string
	Mode        string // "incremental", "full-refresh" or "backfill"
	Start       time.Time
	End         *time.Time // nil while running
	Status      string     // "running", "succeeded", "failed", "cancelled" or "abandoned" (AbandonedError)
	WindowLo    *time.Time
	WindowHi    *time.Time
	Pages       int64
	APICalls    int64
	Retries     int64
	RateLimited int64 // 429 answers received
	Counts
	Rejected int64
	Error    string
}

// Counts is what committing batches did to the conversations table.
type Counts struct {
	Inserted  int64 // conversations new to the warehouse
	Updated   int64 // conversations replaced by a newer version
	Unchanged int64 // conversations whose stored version was as new or newer
	ChildRows int64 // answer and booking rows written
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Inserted += o.Inserted
	c.Updated += o.Updated
	c.Unchanged += o.Unchanged
	c.ChildRows += o.ChildRows
}
