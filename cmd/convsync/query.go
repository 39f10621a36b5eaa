package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

func runSQL(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "sql")
	cfgFlag := fs.String("config", "", "config file (default $CONVSYNC_CONFIG, else ./convsync.yaml if present)")
	format := fs.String("format", "table", "output format: table, csv or json (one object per line)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"want exactly one QUERY argument (quote it)"}
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		return usageError{fmt.Sprintf("--format must be table, csv or json, got %q", *format)}
	}
	wh, _, err := configuredReader(ctx, e, *cfgFlag)
	if err != nil {
		return err
	}
	defer wh.Close()
	return query(ctx, wh.DB(), e.stdout, *format, fs.Arg(0))
}

// query runs q and prints its result in format.
func query(ctx context.Context, db *sql.DB, w io.Writer, format, q string, args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	out := newPrinter(w, format, cols)
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		if err := out.row(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return out.flush()
}

// printer writes result rows in one of the output formats.
type printer struct {
	format string
	cols   []string
	tw     *tabwriter.Writer
	cw     *csv.Writer
	jw     *json.Encoder
}

func newPrinter(w io.Writer, format string, cols []string) *printer {
	p := &printer{format: format, cols: cols}
	switch format {
	case "csv":
		p.cw = csv.NewWriter(w)
		p.cw.Write(cols)
	case "json":
		p.jw = json.NewEncoder(w)
	default:
		p.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(p.tw, strings.Join(cols, "\t"))
	}
	return p
}

func (p *printer) row(vals []any) error {
	switch p.format {
	case "csv":
		rec := make([]string, len(vals))
		for i, v := range vals {
			if v != nil {
				rec[i] = text(v)
			}
		}
		return p.cw.Write(rec)
	case "json":
		obj := make(map[string]any, len(vals))
		for i, v := range vals {
			obj[p.cols[i]] = jsonValue(v)
		}
		return p.jw.Encode(obj)
	default:
		rec := make([]string, len(vals))
		for i, v := range vals {
			rec[i] = "NULL"
			if v != nil {
				rec[i] = strings.ReplaceAll(text(v), "\n", " ")
			}
		}
		_, err := fmt.Fprintln(p.tw, strings.Join(rec, "\t"))
		return err
	}
}

func (p *printer) flush() error {
	switch p.format {
	case "csv":
		p.cw.Flush()
		return p.cw.Error()
	case "json":
		return nil
	default:
		return p.tw.Flush()
	}
}

// text formats a scanned value; times print as RFC 3339 in UTC.
func text(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	default:
		return fmt.Sprint(x)
	}
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case nil, bool, string, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64:
		return x
	default:
		return fmt.Sprint(x)
	}
}
