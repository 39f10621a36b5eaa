package load

import (
	"hash/maphash"

	"github.com/convsync/convsync/transform"
)

// maxFreshKeys bounds freshKeys: 8 bytes a key, so 32 MB; past it the sink
// reads the stored rows for every batch, as for a table it did not find
// empty.
const maxFreshKeys = 4_000_000

// freshKeys knows, for each table that held no rows when the sink opened,
// every id the sink has committed to it since. A staged id not among them
// is not stored, so a batch none of whose ids are among them is inserted
// without reading the stored rows. A first load is such batches one after
// the other; reading the stored rows made each batch's cost grow with the
// rows loaded before it.
//
// Ids are kept as 64-bit hashes of table and id (sortedRuns, 8 bytes an
// id). A hash two ids share only sends a batch to the merge that reads the
// stored rows. Ids are kept
// only once their commit has returned; after a commit whose outcome it
// cannot know (the DuckDB sink: a failed COMMIT; the Parquet sink: any
// failed commit), or past maxFreshKeys, the sink stops using them.
type freshKeys struct {
	seed    maphash.Seed
	tables  map[string]bool // the tables empty at open, while usable
	keys    sortedRuns[struct{}]
	max     int                  // maxFreshKeys
	pending []runEntry[struct{}] // the ids of the commit in progress
}

func newFreshKeys(empty []string) *freshKeys {
	f := &freshKeys{seed: maphash.MakeSeed(), tables: map[string]bool{}, max: maxFreshKeys}
	for _, t := range empty {
		f.tables[t] = true
	}
	return f
}

func (f *freshKeys) key(table, id string) uint64 {
	var h maphash.Hash
	h.SetSeed(f.seed)
	h.WriteString(table)
	h.WriteByte(0)
	h.WriteString(id)
	return h.Sum64()
}

// begin drops the pending ids of a commit that did not return.
func (f *freshKeys) begin() { f.pending = f.pending[:0] }

// unseen reports whether table was empty at open and none of the n ids
// (id(i) for i < n) has been committed to it since. The ids wait in pending
// for keep.
func (f *freshKeys) unseen(table string, n int, id func(int) string) bool {
	if !f.tables[table] {
		return false
	}
	fresh := true
	for i := range n {
		k := f.key(table, id(i))
		f.pending = append(f.pending, runEntry[struct{}]{key: k})
		if fresh {
			_, seen := f.keys.get(k)
			fresh = !seen
		}
	}
	return fresh
}

// unseenIn is unseen for each table of keyedTables and its rows in b.
func (f *freshKeys) unseenIn(b *transform.Batch) map[string]bool {
	return map[string]bool{
		"conversations": f.unseen("conversations", len(b.Conversations), func(i int) string { return b.Conversations[i].ID }),
		"contacts":      f.unseen("contacts", len(b.Contacts), func(i int) string { return b.Contacts[i].ID }),
		"users":         f.unseen("users", len(b.Users), func(i int) string { return b.Users[i].ID }),
		"bots":          f.unseen("bots", len(b.Bots), func(i int) string { return b.Bots[i].ID }),
		"websites":      f.unseen("websites", len(b.Websites), func(i int) string { return b.Websites[i].ID }),
		"audiences":     f.unseen("audiences", len(b.Audiences), func(i int) string { return b.Audiences[i].ID }),
	}
}

// keep records the pending ids as stored: call it once their commit has
// returned.
func (f *freshKeys) keep() {
	f.keys.add(f.pending)
	f.pending = f.pending[:0]
	if f.keys.n > f.max {
		f.forget()
	}
}

// forget stops the use of the ids: after a commit whose outcome is
// unknown, or past maxFreshKeys.
func (f *freshKeys) forget() {
	clear(f.tables)
	f.keys.reset()
	f.pending = nil
}
