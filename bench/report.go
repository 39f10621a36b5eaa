package bench

import (
	"fmt"
	"io"
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
}

// Phase is one measured step.
type Phase struct {
	Name          string
	Full          bool // a full load of the data set (MB/s and ratios apply)
	Conversations int64
	Rows          int64 // conversations + answers + bookings written
	Bytes         int64
	Elapsed       time.Duration
	// PeakRSS is the process's peak RSS during the phase (if RSSReset; else
	// since the process started).
	PeakRSS  int64
	RSSReset bool
	// GoPeak is the peak of the memory the Go runtime held during the
	// phase: PeakRSS less it is about DuckDB's share.
	GoPeak      int64
	APICalls    int64
	RateLimited int64
}

func (p Phase) perSecond(n int64) float64 { return float64(n) / p.Elapsed.Seconds() }

// Ceiling is the read_ndjson phase, or nil.
func (r *Report) Ceiling() *Phase {
	for i := range r.Phases {
		if r.Phases[i].Name == ceilingName {
			return &r.Phases[i]
		}
	}
	return nil
}

// Print writes the report as a table; "× ceiling" columns are the phase's
// throughput divided by the ceiling's (higher is better) and its peak RSS
// divided by the ceiling's.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "%d conversations, %.1f MB of conversation JSON\n\n", r.Conversations, float64(r.JSONBytes)/1e6)
	fmt.Fprintf(w, "%-36s %9s %9s %10s %7s %10s %9s %9s %5s %9s %9s\n",
		"phase", "seconds", "conv/s", "rows/s", "MB/s", "peak RSS", "Go peak", "API calls", "429s", "speed×ceil", "RSS×ceil")
	c := r.Ceiling()
	for _, p := range r.Phases {
		mbs := "-"
		if p.Bytes > 0 {
			mbs = fmt.Sprintf("%.1f", p.perSecond(p.Bytes)/1e6)
		}
		speed, rss := "-", "-"
		if c != nil && p.Full {
			speed = fmt.Sprintf("%.2f", c.Elapsed.Seconds()/p.Elapsed.Seconds())
			rss = fmt.Sprintf("%.2f", float64(p.PeakRSS)/float64(c.PeakRSS))
		}
		fmt.Fprintf(w, "%-36s %9.2f %9.0f %10.0f %7s %10s %9s %9d %5d %9s %9s\n",
			p.Name, p.Elapsed.Seconds(), p.perSecond(p.Conversations), p.perSecond(p.Rows), mbs,
			mib(p.PeakRSS), mib(p.GoPeak), p.APICalls, p.RateLimited, speed, rss)
	}
	fmt.Fprintf(w, "\nlargest peak RSS of a phase: %s (the simulator runs in another process unless in-process)\n", mib(r.MaxRSS))
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
