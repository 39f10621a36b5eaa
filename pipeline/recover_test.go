package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/transform"
)

type panickySource struct{ fakeSource }

func (s *panickySource) Pages(context.Context, extract.Window, string, func(extract.Page) error) error {
	panic("source bug")
}

type panickySink struct{ *fakeSink }

func (s panickySink) Commit(context.Context, *transform.Batch, load.State, load.Run) (load.Counts, error) {
	panic("sink bug")
}

// TestRun_PanicFailsTheRunNotTheProcess: a panic in any of the run's
// goroutines ends the run as failed, recorded, with the panic in its error.
func TestRun_PanicFailsTheRunNotTheProcess(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  Source
		sink Sink
		want string
	}{
		{"reader", &panickySource{}, newFakeSink(), "panic: source bug"},
		{"loader", &fakeSource{convs: convsEvery(10, time.Hour), size: 5}, panickySink{newFakeSink()}, "panic: sink bug"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, err := Run(context.Background(), tc.src, tc.sink, Options{Start: t0, Now: func() time.Time { return t0.Add(24 * time.Hour) }})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "goroutine") {
				t.Fatalf("err = %v, want %q with its stack", err, tc.want)
			}
			if run.Status != "failed" || !strings.HasPrefix(run.Error, tc.want) {
				t.Errorf("run %s %q", run.Status, run.Error)
			}
		})
	}
}
