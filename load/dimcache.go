package load

import (
	"database/sql/driver"
	"fmt"
	"hash/maphash"
	"time"

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
	pending map[uint64]uint64  // those of the commit in progress
}

func newDimCache() *dimCache {
	return &dimCache{seed: maphash.MakeSeed(), pending: map[uint64]uint64{}}
}

// changed returns b with, of its dimension rows, only the last of each id
// (see lastOf) and of those only the ones that differ from what the sink
// committed; their fingerprints wait in pending for keep. Conversations,
// children and rejects are b's.
func (c *dimCache) changed(b *transform.Batch) *transform.Batch {
	clear(c.pending)
	out := *b
	out.Contacts = changedRows(c, 'c', b.Contacts, func(r transform.Contact) string { return r.ID }, contactColumns, contactValues)
	out.Users = changedRows(c, 'u', b.Users, func(r transform.User) string { return r.ID }, userColumns, userValues)
	out.Bots = changedRows(c, 'b', b.Bots, func(r transform.Bot) string { return r.ID }, botColumns, botValues)
	out.Websites = changedRows(c, 'w', b.Websites, func(r transform.Website) string { return r.ID }, websiteColumns, websiteValues)
	out.Audiences = changedRows(c, 'a', b.Audiences, func(r transform.Audience) string { return r.ID }, audienceColumns, audienceValues)
	return &out
}

// keep records the rows of the last changed call as stored: call it once
// their commit has returned.
func (c *dimCache) keep() {
	if c.stored.n+len(c.pending) > maxDimCache {
		c.stored.reset()
	}
	es := make([]runEntry[uint64], 0, len(c.pending))
	for k, v := range c.pending {
		es = append(es, runEntry[uint64]{k, v})
	}
	c.stored.add(es)
	clear(c.pending)
}

// changedRows is changed for one table: fill sets a row's n values as it is
// staged, and the fingerprint is of those values.
func changedRows[T any](c *dimCache, table byte, rows []T, id func(T) string, n int, fill func(T, []driver.Value)) []T {
	rows = lastOf(rows, id)
	v := make([]driver.Value, n)
	var h maphash.Hash
	h.SetSeed(c.seed)
	kept := rows[:0:0]
	for _, r := range rows {
		clear(v)
		fill(r, v)
		h.Reset()
		fingerprint(&h, v)
		sum := h.Sum64()
		h.Reset()
		h.WriteByte(table)
		h.WriteString(id(r))
		k := h.Sum64()
		if old, ok := c.stored.get(k); ok && old == sum {
			continue
		}
		c.pending[k] = sum
		kept = append(kept, r)
	}
	return kept
}

// fingerprint writes values, as the appender gets them, to h; each value is
// tagged with its type so that no two different rows write the same bytes.
func fingerprint(h *maphash.Hash, values []driver.Value) {
	for _, v := range values {
		switch x := v.(type) {
		case nil:
			h.WriteByte(0)
		case string:
			h.WriteByte(1)
			maphash.WriteComparable(h, len(x))
			h.WriteString(x)
		case bool:
			h.WriteByte(2)
			maphash.WriteComparable(h, x)
		case int64:
			h.WriteByte(3)
			maphash.WriteComparable(h, x)
		case time.Time:
			h.WriteByte(4)
			maphash.WriteComparable(h, x.UnixNano())
		default: // none of the values functions produce another type
			h.WriteByte(5)
			fmt.Fprintf(h, "%T %v", x, x)
		}
	}
}
