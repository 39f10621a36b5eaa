package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/convsync/convsync/load"
)

// TestDemo_ThenQueryAndStatus runs the README's demo at a small size, then
// queries its warehouse the way the demo tells the user to.
func TestDemo_ThenQueryAndStatus(t *testing.T) {
	for _, format := range []string{"duckdb", "parquet"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"demo", "--dir", dir, "--conversations", "300", "--format", format}, envOf(nil), &out, &errOut)
			if code != exitOK {
				t.Fatalf("demo exit %d: %s", code, errOut.String())
			}
			for _, want := range []string{"Run 1: first sync", "Run 3: incremental sync", "300 inserted", "0 answered 429", "Conversations by status", "The run ledger"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("demo output lacks %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), "failed") {
				t.Errorf("demo output reports a failure:\n%s", out.String())
			}
			cfg := filepath.Join(dir, "convsync.yaml")

			out.Reset()
			q := "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM conversations"
			if code := run(context.Background(), []string{"sql", "--config", cfg, "--format", "json", q}, envOf(nil), &out, &errOut); code != exitOK {
				t.Fatalf("sql exit %d: %s", code, errOut.String())
			}
			var row struct{ N, IDs int64 }
			if err := json.Unmarshal(out.Bytes(), &row); err != nil {
				t.Fatalf("sql --format json printed %q: %v", out.String(), err)
			}
			if row.N < 300 || row.N != row.IDs {
				t.Errorf("conversations: %d rows, %d ids", row.N, row.IDs)
			}

			out.Reset()
			if code := run(context.Background(), []string{"sql", "--config", cfg, "--format", "csv", "SELECT 1 AS a, NULL AS b, TIMESTAMPTZ '2025-01-02 03:04:05.678+02' AS c"}, envOf(nil), &out, &errOut); code != exitOK {
				t.Fatalf("sql exit %d: %s", code, errOut.String())
			}
			if got, want := out.String(), "a,b,c\n1,,2025-01-02 01:04:05.678+00\n"; got != want {
				t.Errorf("csv = %q, want %q", got, want)
			}

			out.Reset()
			if code := run(context.Background(), []string{"status", "--config", cfg}, envOf(nil), &out, &errOut); code != exitOK {
				t.Fatalf("status exit %d: %s", code, errOut.String())
			}
			for _, want := range []string{"watermark: 20", "conversations", "conversation_answers", "succeeded", strconv.FormatInt(row.N, 10)} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("status output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestSQL_BadQueryAndUsage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.duckdb")
	wh, err := load.OpenDuckDB(context.Background(), path, load.DuckDBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wh.Close()
	cfg := writeFile(t, "c.yaml", "warehouse:\n  path: "+path+"\n")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"sql", "--config", cfg, "SELECT nope FROM conversations"}, envOf(nil), &out, &errOut); code != exitFailure || !strings.Contains(errOut.String(), "nope") {
		t.Errorf("bad query: exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"sql", "--config", cfg}, envOf(nil), &out, &errOut); code != exitConfig {
		t.Errorf("missing query: exit %d, want %d", code, exitConfig)
	}
	if code := run(context.Background(), []string{"sql", "--config", cfg, "--format", "xml", "SELECT 1"}, envOf(nil), &out, &errOut); code != exitConfig {
		t.Errorf("bad format: exit %d, want %d", code, exitConfig)
	}
}
