package load_test

import (
	"context"
	"testing"

	"github.com/convsync/convsync/load"
)

func TestParquet_Suite(t *testing.T) {
	testSink(t, func(t *testing.T, dir string) sinkUnderTest {
		pq := openParquet(t, dir, load.ParquetOptions{})
		return sinkUnderTest{
			sink:  pq,
			query: func(t *testing.T, q string) [][]any { return queryRows(t, pq.DB(), q) },
			// The suite's crashes roll back, so they stop only the steps
			// before the manifest rename; crashes after it are
			// TestParquet_CrashDuringPublish's.
			failAt: func(hook func(step string) error) {
				if hook == nil {
					pq.SetHook(nil)
					return
				}
				pq.SetHook(func(step string) error {
					if step == "manifest" || step == "moved" {
						return nil
					}
					return hook(step)
				})
			},
			merges: pq.Merges,
		}
	})
}

func openParquet(t testing.TB, dir string, opts load.ParquetOptions) *load.Parquet {
	t.Helper()
	pq, err := load.OpenParquet(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("OpenParquet: %v", err)
	}
	return pq
}
