package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/convsync/convsync/pipeline"
)

func runBackfill(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "backfill")
	cfgFlag := fs.String("config", "", "config file (default $CONVSYNC_CONFIG, else ./convsync.yaml if present)")
	fromFlag := fs.String("from", "", "start of the range, inclusive: RFC 3339 (2025-01-01T00:00:00Z) or a UTC date (2025-01-01)")
	toFlag := fs.String("to", "", "end of the range, exclusive, in the same forms")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	from, ferr := parseTime("--from", *fromFlag)
	to, terr := parseTime("--to", *toFlag)
	if err := errors.Join(ferr, terr); err != nil {
		return usageError{strings.ReplaceAll(err.Error(), "\n", "\n  ")}
	}
	if !to.After(from) {
		return usageError{fmt.Sprintf("--to (%s) must be after --from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))}
	}
	cfg, err := loadConfig(configPath(e, *cfgFlag), e.getenv, forSync)
	if err != nil {
		return err
	}
	// No metrics: they describe the scheduled syncs, which a backfill must
	// not overwrite. Its numbers are in its summary line and the ledger.
	return oneShot(ctx, e, cfg, pipeline.Options{Mode: pipeline.Backfill, From: from, To: to}, nil)
}

// parseTime reads a flag's time: RFC 3339, or a date meaning its midnight UTC.
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, usageError{name + " is required"}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageError{fmt.Sprintf("%s: want RFC 3339 (2025-01-01T00:00:00Z) or a date (2025-01-01), got %q", name, s)}
}
