package load

import (
	"hash/maphash"

	"github.com/convsync/convsync/transform"
)

// maxDimCache bounds a dimCache: 16 bytes an entry, so 16 MB. A full cache
// is emptied; a miss costs a comparison with the stored row, a scan of its
// table's ids.
const maxDimCache = 1_000_000

// dimCache remembers a fingerprint of each dimension row (contact, user,
// bot, website, audience) the sink has committed, so that a later batch
// does not stage and rewrite a row identical to the stored one. A contact
// arrives with each of its conversations, so without it a full load
// rewrites every contact several times. It knows only what this process
// committed (it starts empty) and rows are kept only once their commit has
// returned; rows stored by an earlier process are compared in SQL
// (sql/unchanged_dimension.sql).
//
// Rows are keyed by a hash of their table and id, not by the id itself,
// which would take twice the memory: two ids with the same key cannot pass
// for each other, as a row's fingerprint covers its id. They are kept in
// sorted runs (sortedRuns), 16 bytes a row: a Go map took 40, and bounded
// to 250k rows it could not hold the 490k contacts of 2M conversations, so
// each batch of a first load compared most of its contacts with the stored
// rows.
type dimCache struct {
	seed    maphash.Seed
	stored  sortedRuns[uint64] // row key → fingerprint
	pending []runEntry[uint64] // those of the commit in progress
}

func newDimCache() *dimCache {
	return &dimCache{seed: maphash.MakeSeed()}
}

// changed returns b with, of its dimension rows, only the last of each id
// (see lastOf) and of those only the ones that differ from what the sink
// committed; their fingerprints wait in pending for keep. Conversations,
// children and rejects are b's.
func (c *dimCache) changed(b *transform.Batch) *transform.Batch {
	c.pending = c.pending[:0]
	out := *b
	out.Contacts = changedRows(c, 'c', b.Contacts, func(r transform.Contact) string { return r.ID }, contactFields)
	out.Users = changedRows(c, 'u', b.Users, func(r transform.User) string { return r.ID }, userFields)
	out.Bots = changedRows(c, 'b', b.Bots, func(r transform.Bot) string { return r.ID }, botFields)
	out.Websites = changedRows(c, 'w', b.Websites, func(r transform.Website) string { return r.ID }, websiteFields)
	out.Audiences = changedRows(c, 'a', b.Audiences, func(r transform.Audience) string { return r.ID }, audienceFields)
	return &out
}

// keep records the rows of the last changed call as stored: call it once
// their commit has returned.
func (c *dimCache) keep() {
	if c.stored.n+len(c.pending) > maxDimCache {
		c.stored.reset()
	}
	c.stored.add(c.pending)
	c.pending = c.pending[:0]
}

// changedRows is changed for one table: a row's fingerprint is of its
// values in cols.
func changedRows[T any](c *dimCache, table byte, rows []T, id func(T) string, cols []column[T]) []T {
	rows = lastOf(rows, id)
	var h maphash.Hash
	h.SetSeed(c.seed)
	var kept []T // nil while every row is kept: rows, not copied
	for i := range rows {
		r := &rows[i]
		h.Reset()
		for _, col := range cols {
			col.hash(&h, r)
		}
		sum := h.Sum64()
		h.Reset()
		h.WriteByte(table)
		h.WriteString(id(*r))
		k := h.Sum64()
		if old, ok := c.stored.get(k); ok && old == sum {
			if kept == nil {
				kept = append(make([]T, 0, len(rows)-1), rows[:i]...)
			}
			continue
		}
		c.pending = append(c.pending, runEntry[uint64]{k, sum})
		if kept != nil {
			kept = append(kept, *r)
		}
	}
	if kept == nil {
		return rows
	}
	return kept
}
