package bench

import (
	"context"
	"flag"
	"strings"
	"testing"
)

var conversations = flag.Int("conversations", 2000, "conversations in BenchmarkRun")

// BenchmarkRun runs the whole harness in process at a small size, so CI
// builds and exercises it: go test ./bench -run '^$' -bench Run -benchtime 1x
func BenchmarkRun(b *testing.B) {
	for range b.N {
		rep, err := Run(context.Background(), Config{Conversations: *conversations, Parquet: true, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if c := rep.Ceiling(); c != nil {
			b.ReportMetric(c.Elapsed.Seconds(), "ceiling-s")
		}
		for _, p := range rep.Phases {
			b.ReportMetric(p.Elapsed.Seconds(), strings.ReplaceAll(p.Name, " ", "_")+"-s")
		}
	}
}

// TestRun checks that every phase loads the data set it should: the same
// conversations and rows in the ceiling and every full sync, the whole
// delta in the delta runs, and the minimum API calls.
func TestRun(t *testing.T) {
	rep, err := Run(context.Background(), Config{Conversations: 1000, Delta: 0.02, Parquet: true, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.Print(&out)
	t.Log("\n" + out.String())
	c := rep.Ceiling()
	if c == nil || c.Conversations != 1000 || c.Rows <= 1000 {
		t.Fatalf("ceiling: %+v", c)
	}
	if len(rep.Phases) != 11 {
		t.Fatalf("got %d phases, want 11", len(rep.Phases))
	}
	for _, p := range rep.Phases {
		switch {
		case p.Name == ceilingName:
		case p.Full:
			if p.Conversations != c.Conversations || p.Rows != c.Rows {
				t.Errorf("%s: %d conversations, %d rows; the ceiling loaded %d, %d", p.Name, p.Conversations, p.Rows, c.Conversations, c.Rows)
			}
			if p.Bytes != rep.JSONBytes || p.APICalls == 0 || p.RateLimited != 0 || p.GoPeak <= 0 {
				t.Errorf("%s: %+v", p.Name, p)
			}
		default:
			if p.Conversations != 20 || p.APICalls != 1 {
				t.Errorf("%s: %d conversations in %d calls, want the delta of 20 in 1 (a last page)", p.Name, p.Conversations, p.APICalls)
			}
		}
	}
}
