package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is the outcome of a Run.
type Report struct {
	Conversations int
	// JSONBytes is the size of the conversations' JSON (minified, as in the
	// API's pages): the bytes behind the MB/s figures.
	JSONBytes int64
	Phases    []Phase
	// MaxRSS is the largest PeakRSS of the phases.
	MaxRSS int64
	// BatchSize is the conversations a commit of the batch ceiling holds,
	// the syncs' batch size.
	BatchSize int
}

// Phase is one measured step.
type Phase struct {
	Name          string
	Full          bool // a full load of the data set (MB/s and ratios apply)
	Conversations int64
	Rows          int64 // conversations + answers + bookings written
	Bytes         int64
	Elapsed       time.Duration
	// CPU is the CPU time the process used during the phase, on all
	// cores (the simulator's, in its own process, is not in it). Over
	// Elapsed, it is the cores the phase kept busy.
	CPU time.Duration
	// PeakRSS is the process's peak RSS during the phase (if RSSReset; else
	// since the process started).
	PeakRSS  int64
	RSSReset bool
	// NoRSS marks a phase whose memory is not comparable (it holds a whole
	// data set): its PeakRSS and GoPeak are 0 and printed as "-".
	NoRSS bool
	// GoPeak is the peak of the memory the Go runtime held during the
	// phase: PeakRSS less it is about DuckDB's share.
	GoPeak      int64
	APICalls    int64
	RateLimited int64
}

func (p Phase) perSecond(n int64) float64 { return float64(n) / p.Elapsed.Seconds() }

// Ceiling is the read_ndjson phase, or nil.
func (r *Report) Ceiling() *Phase { return r.phase(ceilingName) }

// BatchCeiling is the read_ndjson phase that commits every batch, or nil.
func (r *Report) BatchCeiling() *Phase { return r.phase(batchCeilingName) }

// Print writes the report as a table; "× ceiling" columns are the phase's
// throughput divided by the ceiling's (higher is better) and its peak RSS
// divided by the ceiling's.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "%d conversations, %.1f MB of conversation JSON\n\n", r.Conversations, float64(r.JSONBytes)/1e6)
	fmt.Fprintf(w, "%-36s %9s %7s %9s %10s %7s %10s %9s %9s %5s %9s %9s\n",
		"phase", "seconds", "cores", "conv/s", "rows/s", "MB/s", "peak RSS", "Go peak", "API calls", "429s", "speed×ceil", "RSS×ceil")
	c := r.Ceiling()
	for _, p := range r.Phases {
		mbs := "-"
		if p.Bytes > 0 {
			mbs = fmt.Sprintf("%.1f", p.perSecond(p.Bytes)/1e6)
		}
		speed, rss := "-", "-"
		if c != nil && p.Full {
			speed = fmt.Sprintf("%.2f", c.Elapsed.Seconds()/p.Elapsed.Seconds())
			if !p.NoRSS {
				rss = fmt.Sprintf("%.2f", float64(p.PeakRSS)/float64(c.PeakRSS))
			}
		}
		fmt.Fprintf(w, "%-36s %9.2f %7.2f %9.0f %10.0f %7s %10s %9s %9d %5d %9s %9s\n",
			p.Name, p.Elapsed.Seconds(), p.CPU.Seconds()/p.Elapsed.Seconds(), p.perSecond(p.Conversations), p.perSecond(p.Rows), mbs,
			mib(p.PeakRSS), mib(p.GoPeak), p.APICalls, p.RateLimited, speed, rss)
	}
	r.printAgainst(w, r.phase(allCeilingName), "DuckDB's read_ndjson filling every table the syncs fill, in one transaction")
	r.printAgainst(w, r.BatchCeiling(), fmt.Sprintf("DuckDB's read_ndjson committing every %d conversations as the syncs do", r.BatchSize))
	fmt.Fprintf(w, "\nlargest peak RSS of a phase: %s (the simulator runs in another process unless in-process)\n", mib(r.MaxRSS))
}

// printAgainst writes the speed of each full DuckDB sync against ceiling c
// (if measured), under heading: the every-table ceiling does the syncs'
// whole job in one transaction; the batch ceiling also commits as often as
// they do, so what is left is the loader's own cost.
func (r *Report) printAgainst(w io.Writer, c *Phase, heading string) {
	if c == nil {
		return
	}
	fmt.Fprintf(w, "\nagainst %s (%.2f s):\n", heading, c.Elapsed.Seconds())
	for _, p := range r.Phases {
		if p.Full && strings.HasPrefix(p.Name, "duckdb: ") {
			fmt.Fprintf(w, "  %-36s %5.2f\n", p.Name, c.Elapsed.Seconds()/p.Elapsed.Seconds())
		}
	}
}

// mib formats n bytes; 0 (not measured) is "-".
func mib(n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// CompareDeltas writes each delta phase of large ("<sink>: delta k of n")
// next to the phase of the same name in small (the same delta, on more
// data): both times and large's over small's, then the same for the median
// of each sink's deltas. Issue 5 asks at most 1.5 of the 1M delta over the
// 200k one.
func CompareDeltas(w io.Writer, small, large *Report) {
	fmt.Fprintf(w, "\ndeltas at %d conversations against %d\n\n", large.Conversations, small.Conversations)
	fmt.Fprintf(w, "%-36s %11s %11s %7s\n", "phase", fmt.Sprintf("%d s", small.Conversations), fmt.Sprintf("%d s", large.Conversations), "ratio")
	type pair struct{ small, large []float64 }
	sinks := map[string]*pair{}
	var order []string
	for _, l := range large.Phases {
		s := small.phase(l.Name)
		if !strings.Contains(l.Name, ": delta ") || s == nil {
			continue
		}
		a, b := s.Elapsed.Seconds(), l.Elapsed.Seconds()
		fmt.Fprintf(w, "%-36s %11.2f %11.2f %7.2f\n", l.Name, a, b, b/a)
		sink, _, _ := strings.Cut(l.Name, ":")
		if sinks[sink] == nil {
			sinks[sink] = &pair{}
			order = append(order, sink)
		}
		sinks[sink].small = append(sinks[sink].small, a)
		sinks[sink].large = append(sinks[sink].large, b)
	}
	for _, sink := range order {
		p := sinks[sink]
		a, b := median(p.small), median(p.large)
		fmt.Fprintf(w, "%-36s %11.2f %11.2f %7.2f\n", fmt.Sprintf("%s: median of %d deltas", sink, len(p.small)), a, b, b/a)
	}
}

// phase is the phase named name, or nil.
func (r *Report) phase(name string) *Phase {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return nil
}

// median of xs (not empty); xs is sorted in place.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
