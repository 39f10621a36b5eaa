package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/pipeline"
)

// rateLimited backfills RateLimitedPages pages from a simulator enforcing
// OnceHub's limits, with a client keeping the same limits: the figures that
// matter are its API calls (against the pages) and its 429s (zero).
func (b *bencher) rateLimited(ctx context.Context) error {
	spec := SimSpec{Seed: b.cfg.Seed + 1, Conversations: b.cfg.RateLimitedPages * extract.MaxPageSize, Start: simStart, RateLimits: true}
	url, stop, err := b.cfg.Launcher(ctx, spec)
	if err != nil {
		return err
	}
	err = b.phase(fmt.Sprintf("duckdb: rate-limited backfill of %d", spec.Conversations), func(p *Phase) error {
		client, err := extract.New(extract.Options{
			BaseURL: url, APIKey: "test-key",
			Expand:        []string{"contact", "owner", "bot", "website", "audience"},
			RatePerSecond: extract.OnceHubRatePerSecond, RequestsPer5Min: extract.OnceHubRequestsPer5Min,
			HTTPClient: &http.Client{Timeout: time.Minute},
		})
		if err != nil {
			return err
		}
		wh, closeWH, err := duckSink(filepath.Join(b.dir, "ratelimited.duckdb"), b.cfg.MemoryLimit)(ctx)
		if err != nil {
			return err
		}
		run, err := pipeline.Run(ctx, client, wh, pipeline.Options{
			Mode: pipeline.Backfill, From: simStart.Add(-200 * 24 * time.Hour), To: simStart.Add(time.Millisecond),
			SliceSize: -1, BatchSize: b.cfg.BatchSize,
		})
		if err = errors.Join(err, closeWH()); err != nil {
			return err
		}
		p.Conversations = run.Inserted + run.Updated + run.Unchanged
		p.Rows = run.Inserted + run.Updated + run.ChildRows
		p.APICalls, p.RateLimited = run.APICalls, run.RateLimited
		return nil
	})
	return errors.Join(err, stop())
}
