package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/convsync/convsync/extract/oncehubtest"
)

// SimSpec is the data a simulator serves: Conversations generated from Seed
// with the data clock at Start, then, if Created or Updated are set, Steps
// AdvanceN steps of DeltaStep, each creating and updating that many. The
// same spec always gives the same data, in any process.
type SimSpec struct {
	Seed          uint64
	Conversations int
	Start         time.Time
	Created       int
	Updated       int
	// Steps is how many delta steps are applied; 0 means 1.
	Steps int
	// RateLimits turns on OnceHub's limits (5/s per key, 200/5 min).
	RateLimits bool
}

// DeltaStep is how far the data clock moves for a delta.
const DeltaStep = time.Hour

// Now is the simulator's data clock once the spec's deltas are applied.
func (s SimSpec) Now() time.Time {
	return s.Start.Add(time.Duration(s.steps()) * DeltaStep)
}

// steps is the number of delta steps the spec applies.
func (s SimSpec) steps() int {
	if s.Created+s.Updated == 0 {
		return 0
	}
	return max(1, s.Steps)
}

// NewSimulator builds the simulator of spec (rate limits as spec says,
// everything else the simulator's defaults, quirks included).
func NewSimulator(spec SimSpec) *oncehubtest.Server {
	opts := oncehubtest.Options{Seed: spec.Seed, Conversations: spec.Conversations, Start: spec.Start}
	if spec.RateLimits {
		opts.RatePerSecond, opts.RatePer5Minutes = oncehubtest.RatePerSecond, oncehubtest.RatePer5Minutes
	}
	s := oncehubtest.New(opts)
	for range spec.steps() {
		s.AdvanceN(DeltaStep, spec.Created, spec.Updated)
	}
	return s
}

// Launcher starts a simulator serving spec and returns its API root (…/v2)
// and a function that stops it.
type Launcher func(ctx context.Context, spec SimSpec) (baseURL string, stop func() error, err error)

// InProcess serves the simulator from this process (httptest). Its memory
// and CPU count as the syncing process's: use it for tests, not figures.
func InProcess(_ context.Context, spec SimSpec) (string, func() error, error) {
	srv := httptest.NewServer(NewSimulator(spec))
	return srv.URL + "/v2", func() error { srv.Close(); return nil }, nil
}

// Exec serves the simulator from a child process: argv (e.g. the convsync
// binary and "bench", "--serve-simulator") with SimArgs(spec) appended. The
// child must print its API root on its first line to stderr (as
// ServeSimulator does) and stop on SIGTERM. The child runs with the Go
// runtime's defaults: GOGC and GOMEMLIMIT set for the bench tune the
// syncing process, not the simulator (which holds the whole data set).
func Exec(argv ...string) Launcher {
	return func(ctx context.Context, spec SimSpec) (string, func() error, error) {
		cmd := exec.Command(argv[0], append(argv[1:], SimArgs(spec)...)...)
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
			return strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "GOMEMLIMIT=")
		})
		stderr, err := cmd.StderrPipe()
		if err != nil {
			return "", nil, err
		}
		if err := cmd.Start(); err != nil {
			return "", nil, fmt.Errorf("start simulator: %w", err)
		}
		stop := func() error {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			err := cmd.Wait()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return nil // stopped by our signal
			}
			return err
		}
		url, err := readRoot(ctx, stderr)
		if err != nil {
			return "", nil, errors.Join(fmt.Errorf("start simulator: %w", err), stop())
		}
		go func() { _, _ = io.Copy(io.Discard, stderr) }()
		return url, stop, nil
	}
}

var rootPattern = regexp.MustCompile(`http://\S+/v2`)

// readRoot reads the child's stderr up to the first line naming the API
// root (lines before it, such as runtime traces, are skipped).
func readRoot(ctx context.Context, r io.Reader) (string, error) {
	ch := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			if url := rootPattern.FindString(s.Text()); url != "" {
				ch <- url
				return
			}
		}
		ch <- ""
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case url := <-ch:
		if url == "" {
			return "", errors.New("it exited without naming its API root")
		}
		return url, nil
	}
}

// SimArgs are the flags that pass spec to a child running ServeSimulator.
func SimArgs(spec SimSpec) []string {
	return []string{
		"--seed", fmt.Sprint(spec.Seed), "--conversations", fmt.Sprint(spec.Conversations),
		"--start", spec.Start.UTC().Format(time.RFC3339Nano),
		"--created", fmt.Sprint(spec.Created), "--updated", fmt.Sprint(spec.Updated),
		"--steps", fmt.Sprint(spec.Steps),
		fmt.Sprintf("--rate-limits=%t", spec.RateLimits),
	}
}

// ServeSimulator serves the simulator of spec on a free local port until
// ctx is done. Its first line to w names the API root; nothing else is
// written.
func ServeSimulator(ctx context.Context, spec SimSpec, w io.Writer) error {
	return NewSimulator(spec).ListenAndServe(ctx, "127.0.0.1:0", &firstLine{w: w})
}

// firstLine passes on the first line written to it and drops the rest.
type firstLine struct {
	w    io.Writer
	done bool
}

func (f *firstLine) Write(p []byte) (int, error) {
	if f.done {
		return len(p), nil
	}
	for i, b := range p {
		if b == '\n' {
			f.done = true
			_, err := f.w.Write(p[:i+1])
			return len(p), err
		}
	}
	_, err := f.w.Write(p)
	return len(p), err
}
