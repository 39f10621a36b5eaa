package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"

	"github.com/convsync/convsync/load"
	sqlfiles "github.com/convsync/convsync/sql"
)

func runStatus(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "status")
	cfgFlag := fs.String("config", "", "config file (default $CONVSYNC_CONFIG, else ./convsync.yaml if present)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	wh, cfg, err := configuredReader(ctx, e, *cfgFlag)
	if err != nil {
		return err
	}
	defer wh.Close()
	st, err := wh.State(ctx)
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "warehouse: %s (%s)\n", cfg.Warehouse.Path, cfg.Warehouse.Format)
	if st.Watermark.IsZero() {
		fmt.Fprintln(w, "watermark: none (never synced)")
	} else {
		fmt.Fprintf(w, "watermark: %s (everything updated before it is loaded)\n", st.Watermark.Format(time.RFC3339Nano))
	}
	printProgress(w, progressName(ctx, wh.DB(), "run", st.Pending), st.Pending)
	printProgress(w, progressName(ctx, wh.DB(), "backfill", st.Backfill), st.Backfill)
	fmt.Fprintln(w, "\nlast runs:")
	if err := query(ctx, wh.DB(), w, "table", sqlfiles.StatusRuns); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nrows:")
	return query(ctx, wh.DB(), w, "table", sqlfiles.StatusCounts)
}

// progressName is what status calls the unfinished run (or backfill) p,
// after its ledger row: interrupted once the row says it ended. A row still
// running is a run going on now (a Parquet warehouse is read during a sync)
// or one whose process was killed, which only the next run can tell (it
// marks the row abandoned): called interrupted, a live run read as one that
// had stopped.
func progressName(ctx context.Context, db *sql.DB, kind string, p *load.Progress) string {
	if p == nil {
		return ""
	}
	var status string
	if err := db.QueryRowContext(ctx, sqlfiles.RunStatus, p.RunID).Scan(&status); err == nil && status == "running" {
		return kind + " in progress (or killed: its ledger row says running)"
	}
	return "interrupted " + kind
}

// printProgress says where an interrupted run will resume, if there is one.
func printProgress(w io.Writer, name string, p *load.Progress) {
	if p == nil {
		return
	}
	at := "its first page"
	if p.After != "" {
		at = "the page after " + p.After
	}
	fmt.Fprintf(w, "%s: %s, window [%s, %s), resumes in slice [%s, %s) at %s\n", name, p.RunID,
		p.WindowLo.Format(time.RFC3339Nano), p.WindowHi.Format(time.RFC3339Nano),
		p.SliceLo.Format(time.RFC3339Nano), p.SliceHi.Format(time.RFC3339Nano), at)
}
