package load

import (
	"cmp"
	"slices"
)

// sortedRuns maps 64-bit keys to values in sorted runs, the newest last,
// each run at least twice the size of the next: adding n keys costs
// O(n log n) in all, a lookup a binary search of each of the O(log n) runs,
// and memory is the entries themselves (8 bytes a key plus the value's), a
// fraction of a Go map's. A key's newest value wins.
type sortedRuns[V any] struct {
	runs [][]runEntry[V]
	n    int // entries in runs (a key may be in several runs until they merge)
}

type runEntry[V any] struct {
	key uint64
	val V
}

func byKey[V any](a, b runEntry[V]) int { return cmp.Compare(a.key, b.key) }

// get returns the newest value of key k.
func (s *sortedRuns[V]) get(k uint64) (V, bool) {
	for i := len(s.runs) - 1; i >= 0; i-- {
		r := s.runs[i]
		if j, ok := slices.BinarySearchFunc(r, runEntry[V]{key: k}, byKey[V]); ok {
			return r[j].val, true
		}
	}
	var zero V
	return zero, false
}

// add adds the entries es (of a key given twice, the later wins) as the
// newest run, then merges runs while the older of the last two is at most
// twice the newer. es may be reordered.
func (s *sortedRuns[V]) add(es []runEntry[V]) {
	if len(es) == 0 {
		return
	}
	es = radixSort(es)
	run := make([]runEntry[V], 0, len(es))
	for i, e := range es {
		if i+1 < len(es) && es[i+1].key == e.key {
			continue // a later entry of the same key follows
		}
		run = append(run, e)
	}
	s.runs = append(s.runs, run)
	s.n += len(run)
	for k := len(s.runs); k > 1 && len(s.runs[k-2]) <= 2*len(s.runs[k-1]); k-- {
		merged := mergeRuns(s.runs[k-2], s.runs[k-1])
		s.n -= len(s.runs[k-2]) + len(s.runs[k-1]) - len(merged)
		s.runs = append(s.runs[:k-2], merged)
	}
}

// mergeRuns returns the sorted union of the sorted runs older and newer,
// the value of a key in both being newer's.
func mergeRuns[V any](older, newer []runEntry[V]) []runEntry[V] {
	out := make([]runEntry[V], 0, len(older)+len(newer))
	for len(older) > 0 && len(newer) > 0 {
		switch c := cmp.Compare(older[0].key, newer[0].key); {
		case c < 0:
			out, older = append(out, older[0]), older[1:]
		case c > 0:
			out, newer = append(out, newer[0]), newer[1:]
		default:
			out, older, newer = append(out, newer[0]), older[1:], newer[1:]
		}
	}
	return append(append(out, older...), newer...)
}

// reset empties s.
func (s *sortedRuns[V]) reset() { s.runs, s.n = nil, 0 }

// radixSort sorts es by key, keeping the order of equal keys, and returns
// the sorted slice (es or a buffer of its size): a byte of the key a pass,
// skipping the bytes all keys share. It is several times faster than a
// comparison sort on the hundreds of thousands of ids of a first load's
// batch.
func radixSort[V any](es []runEntry[V]) []runEntry[V] {
	if len(es) < 256 {
		slices.SortStableFunc(es, byKey[V])
		return es
	}
	buf := make([]runEntry[V], len(es))
	for shift := 0; shift < 64; shift += 8 {
		var count [256]int
		for _, e := range es {
			count[byte(e.key>>shift)]++
		}
		if count[byte(es[0].key>>shift)] == len(es) {
			continue // every key has this byte
		}
		pos := 0
		for i, n := range count {
			count[i] = pos
			pos += n
		}
		for _, e := range es {
			d := byte(e.key >> shift)
			buf[count[d]] = e
			count[d]++
		}
		es, buf = buf, es
	}
	return es
}
