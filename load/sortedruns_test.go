package load

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortedRuns checks sortedRuns against a map over many adds of random
// keys, some given again with new values (also twice in one add): the
// newest value of every key is found, no absent key is, the runs merge and
// n counts each key once once they have.
func TestSortedRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s sortedRuns[uint64]
	want := map[uint64]uint64{}
	for round := range 200 {
		es := make([]runEntry[uint64], 0, 50)
		for i := range 50 {
			k := rng.Uint64N(4000) * 2 // even keys only: odd ones are absent
			v := uint64(round*100 + i)
			es = append(es, runEntry[uint64]{k, v})
			want[k] = v
		}
		s.add(es)
		for k, v := range want {
			if got, ok := s.get(k); !ok || got != v {
				t.Fatalf("round %d: get(%d) = %d, %v; want %d", round, k, got, ok, v)
			}
		}
		if _, ok := s.get(uint64(rng.IntN(4000)*2 + 1)); ok {
			t.Fatalf("round %d: an absent key is found", round)
		}
	}
	if len(s.runs) > 12 {
		t.Errorf("%d runs after 200 adds: they do not merge", len(s.runs))
	}
	total := 0
	for _, r := range s.runs {
		total += len(r)
	}
	if s.n != total || total < len(want) {
		t.Errorf("n = %d, %d entries in the runs, %d keys", s.n, total, len(want))
	}
	s.reset()
	if _, ok := s.get(0); ok || s.n != 0 {
		t.Error("reset kept entries")
	}
}

// TestRadixSort compares radixSort with a stable comparison sort, on keys
// with repeats (whose order must be kept) and on keys that share bytes.
func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, keys := range []func() uint64{
		func() uint64 { return rng.Uint64() % 3000 },         // repeats, high bytes all zero
		func() uint64 { return rng.Uint64() },                // spread over every byte
		func() uint64 { return rng.Uint64()<<40 | 0xabcdef }, // low bytes shared
	} {
		es := make([]runEntry[int], 5000)
		for i := range es {
			es[i] = runEntry[int]{keys(), i}
		}
		want := slices.Clone(es)
		slices.SortStableFunc(want, byKey[int])
		if got := radixSort(es); !slices.Equal(got, want) {
			t.Fatal("radixSort differs from a stable sort by key")
		}
	}
}
