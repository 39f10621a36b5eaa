package load_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/transform"
)

// Benchmarks of the DuckDB sink on generated data shaped like the API's:
// ~7 answers and ~1 booking per conversation, a few hundred bytes of raw
// JSON, conversations created in time order.
//
//	go test ./load -run '^$' -bench 'Commit' -benchtime 5x

var benchEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// benchConv is conversation n (created n minutes after the epoch) in
// version v, with its children and contact.
func benchConv(b *transform.Batch, n, v int) {
	id := fmt.Sprintf("CVR-%010X", uint32(n)*2654435761) // opaque, unordered ids like the API's
	created := benchEpoch.Add(time.Duration(n) * time.Minute)
	updated := created.Add(time.Duration(v+1) * time.Hour)
	answers, bookings := 5+n%5, n%3
	b.Conversations = append(b.Conversations, transform.Conversation{
		ID: id, CreationTime: created, LastUpdatedTime: updated, LastInteractedTime: &updated,
		InitiatedBy: p("visitor"), Status: p("closed"), ContactID: p("CTC-" + id[4:]),
		OwnerID: p(fmt.Sprintf("USR-%d", n%50)), BotID: p(fmt.Sprintf("BOT-%d", n%20)),
		WebsiteID: p("WEB-1"), AnswerCount: int32(answers), BookingCount: int32(bookings),
		Raw: fmt.Sprintf(`{"id":%q,"object":"conversation","creation_time":%q,"last_updated_time":%q,"status":"closed","initiated_by":"visitor","answers":[%s]}`,
			id, created.Format(time.RFC3339Nano), updated.Format(time.RFC3339Nano), strings.Repeat(`{"id":"INT-1","question":"What is your name?","value":"A name"},`, 3)),
	})
	for i := 1; i <= answers; i++ {
		b.Answers = append(b.Answers, transform.Answer{ConversationID: id, Position: int32(i),
			AnswerID: p(fmt.Sprintf("INT-%d", i)), Question: p("What is your question number?"),
			InternalLabel: p("label"), Value: p(fmt.Sprintf("answer %d of version %d", i, v))})
	}
	for i := 1; i <= bookings; i++ {
		b.Bookings = append(b.Bookings, transform.Booking{ConversationID: id, Position: int32(i), BookingID: fmt.Sprintf("BKNG-%d-%d", n, i)})
	}
	b.Contacts = append(b.Contacts, transform.Contact{ID: "CTC-" + id[4:], FirstName: p("Ann"), Email: p("ann@example.com"), Status: p("lead")})
}

// benchBase builds in dir a warehouse of size conversations loaded in
// commits of 20,000, and returns its file; benchmarks work on copies.
func benchBase(b *testing.B, dir string, size int) string {
	path := filepath.Join(dir, fmt.Sprintf("base-%d.duckdb", size))
	d, err := load.OpenDuckDB(ctx, path, load.DuckDBOptions{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for lo := 0; lo < size; lo += 20000 {
		var batch transform.Batch
		for n := lo; n < min(lo+20000, size); n++ {
			benchConv(&batch, n, 0)
		}
		if _, err := d.Commit(ctx, &batch, load.State{}, load.Run{ID: "base", Start: benchEpoch}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := d.DB().Exec("CHECKPOINT"); err != nil {
		b.Fatal(err)
	}
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("base of %d conversations built in %v", size, time.Since(start))
	return path
}

func copyFile(b *testing.B, from, to string) {
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		b.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCommitDelta commits a 2,000-conversation delta (1,000 new, 1,000
// updates spread over the whole table, each with its children and contact)
// into warehouses of 20k and 200k conversations, then checkpoints, as
// closing the warehouse at the end of a run does. Its cost should depend on
// the delta, not on the table. One delta and checkpoint before the timing
// settle the base's layout: its first checkpoint after deletes merges row
// groups left part-filled by the base's own commits.
func BenchmarkCommitDelta(b *testing.B) {
	dir := b.TempDir()
	for _, size := range deltaSizes() {
		base := benchBase(b, dir, size)
		b.Run(fmt.Sprintf("table=%dk", size/1000), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "w.duckdb")
			copyFile(b, base, path)
			d, err := load.OpenDuckDB(ctx, path, load.DuckDBOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			next := size
			delta := func(round int) *transform.Batch {
				var batch transform.Batch
				for j := range 1000 {
					benchConv(&batch, (j*size/1000+round*7919)%size, round+1) // an update
					benchConv(&batch, next, 0)                                // a new conversation
					next++
				}
				return &batch
			}
			// commit commits batch and checkpoints, timing both if steps is
			// set ("commit" and "checkpoint").
			commit := func(batch *transform.Batch, steps *stepTimes) {
				c, err := d.Commit(ctx, batch, load.State{}, load.Run{ID: "delta", Start: benchEpoch})
				if err != nil {
					b.Fatal(err)
				}
				if c.Inserted != 1000 || c.Updated != 1000 {
					b.Fatalf("counts %+v: want 1000 inserted, 1000 updated", c)
				}
				if steps != nil {
					steps.end()
				}
				if _, err := d.DB().Exec("CHECKPOINT"); err != nil {
					b.Fatal(err)
				}
				if steps != nil {
					_ = steps.hook("checkpoint")
				}
			}
			commit(delta(0), nil)
			steps := timeSteps(b, d)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				batch := delta(i + 1)
				b.StartTimer()
				steps.begin()
				commit(batch, steps)
			}
			steps.report(b)
		})
	}
}

// BenchmarkCommitFull commits 20,000 conversations into an empty warehouse.
func BenchmarkCommitFull(b *testing.B) {
	var batch transform.Batch
	for n := range 20_000 {
		benchConv(&batch, n, 0)
	}
	var steps *stepTimes
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		d, err := load.OpenDuckDB(ctx, filepath.Join(b.TempDir(), "w.duckdb"), load.DuckDBOptions{})
		if err != nil {
			b.Fatal(err)
		}
		steps = timeSteps(b, d).add(steps)
		b.StartTimer()
		steps.begin()
		if _, err := d.Commit(ctx, &batch, load.State{}, load.Run{ID: "full", Start: benchEpoch}); err != nil {
			b.Fatal(err)
		}
		steps.end()
		b.StopTimer()
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20000, "ns/conversation")
	steps.report(b)
}

// stepTimes accumulates the time Commit spends in each of its steps,
// measured through the test hook, to report where a commit's time goes.
type stepTimes struct {
	last  time.Time
	order []string
	total map[string]time.Duration
	n     map[string]int
}

func timeSteps(b *testing.B, d *load.DuckDB) *stepTimes {
	s := &stepTimes{total: map[string]time.Duration{}, n: map[string]int{}}
	d.SetFailAt(s.hook)
	return s
}

// add carries the totals of prev (a previous warehouse's) into s.
func (s *stepTimes) add(prev *stepTimes) *stepTimes {
	if prev != nil {
		s.order, s.total, s.n = prev.order, prev.total, prev.n
	}
	return s
}

// begin marks the start of a Commit; end its return, timed as step "commit".
func (s *stepTimes) begin() { s.last = time.Now() }
func (s *stepTimes) end()   { _ = s.hook("commit") }

func (s *stepTimes) hook(step string) error {
	now := time.Now()
	if _, ok := s.total[step]; !ok {
		s.order = append(s.order, step)
	}
	s.total[step] += now.Sub(s.last)
	s.n[step]++
	s.last = now
	return nil
}

// report adds each step's mean time in ms.
func (s *stepTimes) report(b *testing.B) {
	for _, step := range s.order {
		b.ReportMetric(float64(s.total[step].Microseconds())/1000/float64(s.n[step]), step+"-ms")
	}
}

// deltaSizes are the table sizes of BenchmarkCommitDelta: 20k and 200k, or
// with CONVSYNC_BENCH_1M=1 200k and 1M (minutes to build, and a few GB of
// memory).
func deltaSizes() []int {
	if os.Getenv("CONVSYNC_BENCH_1M") != "" {
		return []int{200_000, 1_000_000}
	}
	return []int{20_000, 200_000}
}

// BenchmarkFirstLoad commits conversations in batches of 5,000 into an empty
// warehouse, as a first sync does, and reports the median time of the first
// and of the last ten batches (the median leaves out the batch whose commit
// runs a checkpoint): a batch of new conversations should cost the same
// however many the warehouse holds. CONVSYNC_BENCH_1M=1 adds a load of 1M
// conversations.
func BenchmarkFirstLoad(b *testing.B) {
	sizes := []int{200_000}
	if os.Getenv("CONVSYNC_BENCH_1M") != "" {
		sizes = append(sizes, 1_000_000)
	}
	for _, size := range sizes {
		b.Run(fmt.Sprintf("conversations=%dk", size/1000), func(b *testing.B) {
			var first, last []time.Duration
			for range b.N {
				d, err := load.OpenDuckDB(ctx, filepath.Join(b.TempDir(), "w.duckdb"), load.DuckDBOptions{})
				if err != nil {
					b.Fatal(err)
				}
				batches := size / 5000
				for k := range batches {
					var batch transform.Batch
					for n := k * 5000; n < (k+1)*5000; n++ {
						benchConv(&batch, n, 0)
					}
					start := time.Now()
					if _, err := d.Commit(ctx, &batch, load.State{}, load.Run{ID: "full", Start: benchEpoch}); err != nil {
						b.Fatal(err)
					}
					switch took := time.Since(start); {
					case k < 10:
						first = append(first, took)
					case k >= batches-10:
						last = append(last, took)
					}
				}
				if err := d.Close(); err != nil {
					b.Fatal(err)
				}
			}
			median := func(ds []time.Duration) float64 {
				slices.Sort(ds)
				return ds[len(ds)/2].Seconds() * 1000
			}
			f, l := median(first), median(last)
			b.ReportMetric(f, "first10-ms")
			b.ReportMetric(l, "last10-ms")
			b.ReportMetric(l/f, "last/first")
		})
	}
}
