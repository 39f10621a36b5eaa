package extract_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/convsync/convsync/extract"
)

var t0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func TestSlices(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name   string
		lo, hi time.Time
		size   time.Duration
		want   []extract.Window
	}{
		{"ExactMultiple", t0, t0.Add(3 * h), h, []extract.Window{
			{Lo: t0, Hi: t0.Add(h)}, {Lo: t0.Add(h), Hi: t0.Add(2 * h)}, {Lo: t0.Add(2 * h), Hi: t0.Add(3 * h)}}},
		{"LastIsShorter", t0, t0.Add(150 * time.Minute), h, []extract.Window{
			{Lo: t0, Hi: t0.Add(h)}, {Lo: t0.Add(h), Hi: t0.Add(2 * h)}, {Lo: t0.Add(2 * h), Hi: t0.Add(150 * time.Minute)}}},
		{"SizeZeroIsOneWindow", t0, t0.Add(50 * h), 0, []extract.Window{{Lo: t0, Hi: t0.Add(50 * h)}}},
		{"SizeLargerThanSpan", t0, t0.Add(h), 24 * h, []extract.Window{{Lo: t0, Hi: t0.Add(h)}}},
		{"EmptyRange", t0, t0, h, nil},
		{"ReversedRange", t0.Add(h), t0, h, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := extract.Slices(tt.lo, tt.hi, tt.size)
			if len(got) != len(tt.want) {
				t.Fatalf("Slices = %v, want %v", got, tt.want)
			}
			for i := range got {
				if !got[i].Lo.Equal(tt.want[i].Lo) || !got[i].Hi.Equal(tt.want[i].Hi) {
					t.Errorf("slice %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestWindow_Filters(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name           string
		w              extract.Window
		wantGT, wantLT string
	}{
		{"MillisecondsUTC", extract.Window{Lo: t0, Hi: t0.Add(time.Hour)}, "2025-02-28T23:59:59.999Z", "2025-03-01T01:00:00.000Z"},
		{"OffsetNormalised", extract.Window{Lo: time.Date(2025, 3, 1, 1, 0, 0, 5e6, berlin), Hi: time.Date(2025, 3, 1, 2, 0, 0, 0, berlin)},
			"2025-03-01T00:00:00.004Z", "2025-03-01T01:00:00.000Z"},
		{"SubMillisecondTruncated", extract.Window{Lo: t0.Add(1500 * time.Microsecond), Hi: t0.Add(2500 * time.Microsecond)},
			"2025-03-01T00:00:00.000Z", "2025-03-01T00:00:00.002Z"},
		{"OpenEnds", extract.Window{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gt, lt := tt.w.Filters()
			if gt != tt.wantGT || lt != tt.wantLT {
				t.Errorf("Filters = %q, %q; want %q, %q", gt, lt, tt.wantGT, tt.wantLT)
			}
		})
	}
}

// selects applies w's filters the way the API does: both exclusive, at
// millisecond precision.
func selects(t *testing.T, w extract.Window, ts time.Time) bool {
	t.Helper()
	gt, lt := w.Filters()
	parse := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ts = ts.Truncate(time.Millisecond)
	return (gt == "" || ts.After(parse(gt))) && (lt == "" || ts.Before(parse(lt)))
}

func TestSlices_BoundaryTimestampInExactlyOneSlice(t *testing.T) {
	sizes := []time.Duration{time.Hour, 7 * time.Minute, 1500 * time.Microsecond, time.Millisecond}
	for _, size := range sizes {
		lo := t0.Add(123 * time.Millisecond)
		hi := lo.Add(10*size + size/3)
		slices := extract.Slices(lo, hi, size)
		var stamps []time.Time
		for _, w := range slices {
			// Each boundary, and its neighbours a millisecond away.
			for _, d := range []time.Duration{-time.Millisecond, 0, time.Millisecond} {
				stamps = append(stamps, w.Lo.Add(d), w.Hi.Add(d))
			}
		}
		r := rand.New(rand.NewPCG(1, uint64(size)))
		for range 200 {
			stamps = append(stamps, lo.Add(time.Duration(r.Int64N(int64(hi.Sub(lo))))))
		}
		for _, ts := range stamps {
			ms := ts.Truncate(time.Millisecond)
			inside := !ms.Before(lo.Truncate(time.Millisecond)) && ms.Before(hi.Truncate(time.Millisecond))
			n := 0
			for _, w := range slices {
				if selects(t, w, ms) {
					n++
				}
			}
			if inside && n != 1 || !inside && n != 0 {
				t.Errorf("size %v: %s is selected by %d slices, want %d", size, ms.Format(time.RFC3339Nano), n, map[bool]int{true: 1}[inside])
			}
		}
	}
}
