package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

const sqlUsage = "convsync sql [--config FILE] [--format table|csv|json] QUERY"

func runSQL(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "sql")
	cfgFlag := fs.String("config", "", "config file (default $CONVSYNC_CONFIG, else ./convsync.yaml if present)")
	format := fs.String("format", "table", "output format: table, csv or json (one object per line)")
	if err := parse(fs, queryFirst(args)); err != nil {
		return err
	}
	if err := oneQuery(fs.Args()); err != nil {
		return err
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

// queryFirst ends the flags before an argument that starts like a flag but
// is a query opening with a comment ("-- monthly counts\nSELECT …"): a flag
// name holds no space (its value may: --config="my dir/c.yaml").
func queryFirst(args []string) []string {
	for i, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if strings.HasPrefix(a, "--") && strings.ContainsAny(name, " \t\r\n") {
			return append(append(args[:i:i], "--"), args[i:]...)
		}
	}
	return args
}

// oneQuery checks that the arguments left after the flags are one query.
// The flag package stops at the first argument that is not a flag, so a
// flag written after the query arrives here as an extra argument.
func oneQuery(args []string) error {
	for _, a := range args[min(1, len(args)):] {
		if strings.HasPrefix(a, "-") {
			return usageError{fmt.Sprintf("flags go before the query: %s (%q came after it)", sqlUsage, a)}
		}
	}
	if len(args) != 1 {
		return usageError{fmt.Sprintf("want exactly one QUERY argument (quote it), got %d: %s", len(args), sqlUsage)}
	}
	return nil
}

// query runs q and prints its result in format: table (aligned columns),
// csv, or json (one object a line). DuckDB renders the values, as its own
// CLI and COPY do: q runs as a subquery whose columns are cast to VARCHAR
// (table, csv), or whose rows become objects through to_json (json:
// columns in order, a repeated name suffixed _1, nested values and JSON
// columns as JSON). A statement that cannot be a subquery (PRAGMA, several
// statements) runs as written, its values printed as the driver reads them.
// Times with a zone print in UTC, whatever the machine's zone.
func query(ctx context.Context, db *sql.DB, w io.Writer, format, q string, args ...any) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET TimeZone = 'UTC'"); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	rendered := true
	rows, err := conn.QueryContext(ctx, render(q, format), args...)
	if err != nil {
		rendered = false
		if rows, err = conn.QueryContext(ctx, q, args...); err != nil {
			return fmt.Errorf("query: %w", err)
		}
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	out := newPrinter(w, format, cols, rendered)
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

// render wraps q so that DuckDB returns its values as text: every column
// cast to VARCHAR, or (json) each row as one JSON object. The newline ends
// a line comment q may end with.
func render(q, format string) string {
	body := strings.TrimRight(q, "; \t\r\n")
	if format == "json" {
		return "SELECT to_json(convsync_row)::VARCHAR FROM (" + body + "\n) AS convsync_row"
	}
	return "SELECT COLUMNS(*)::VARCHAR FROM (" + body + "\n)"
}

// printer writes result rows in one of the output formats.
type printer struct {
	format   string
	cols     []string
	rendered bool // each json row is one object rendered by DuckDB
	tw       *tabwriter.Writer
	bw       *bufio.Writer
}

func newPrinter(w io.Writer, format string, cols []string, rendered bool) *printer {
	p := &printer{format: format, cols: cols, rendered: rendered}
	switch format {
	case "csv":
		p.bw = bufio.NewWriter(w)
		vals := make([]any, len(cols))
		for i, c := range cols {
			vals[i] = c
		}
		p.csvLine(vals)
	case "json":
		p.bw = bufio.NewWriter(w)
	default:
		p.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(p.tw, strings.Join(cols, "\t"))
	}
	return p
}

// cellEscapes keeps a table cell on its line and its column.
var cellEscapes = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`)

func (p *printer) row(vals []any) error {
	switch p.format {
	case "csv":
		return p.csvLine(vals)
	case "json":
		if p.rendered {
			p.bw.WriteString(vals[0].(string))
			return p.bw.WriteByte('\n')
		}
		p.bw.WriteByte('{')
		for i, v := range vals {
			if i > 0 {
				p.bw.WriteByte(',')
			}
			name, _ := json.Marshal(p.cols[i])
			value, err := json.Marshal(jsonValue(v))
			if err != nil {
				return fmt.Errorf("query: column %s: %w", p.cols[i], err)
			}
			p.bw.Write(name)
			p.bw.WriteByte(':')
			p.bw.Write(value)
		}
		p.bw.WriteString("}\n")
		return nil
	default:
		rec := make([]string, len(vals))
		for i, v := range vals {
			rec[i] = "NULL"
			if v != nil {
				rec[i] = cellEscapes.Replace(text(v))
			}
		}
		_, err := fmt.Fprintln(p.tw, strings.Join(rec, "\t"))
		return err
	}
}

// csvLine writes one CSV record (RFC 4180). NULL is an empty field and the
// empty string a quoted one, "", so the two stay apart; encoding/csv
// cannot quote an empty field.
func (p *printer) csvLine(vals []any) error {
	for i, v := range vals {
		if i > 0 {
			p.bw.WriteByte(',')
		}
		if v == nil {
			continue
		}
		s := text(v)
		if s == "" || strings.ContainsAny(s, ",\"\r\n") || s[0] == ' ' || s[len(s)-1] == ' ' {
			s = `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
		p.bw.WriteString(s)
	}
	_, err := p.bw.WriteString("\n")
	return err
}

func (p *printer) flush() error {
	if p.tw != nil {
		return p.tw.Flush()
	}
	return p.bw.Flush()
}

// text formats a value as the driver read it (DuckDB's text when rendered);
// times print as RFC 3339 in UTC, lists and maps as JSON.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []any, map[string]any:
		if b, err := json.Marshal(jsonValue(x)); err == nil {
			return string(b)
		}
		return fmt.Sprint(x)
	default:
		return fmt.Sprint(x)
	}
}

// jsonValue is v ready for encoding/json: times as RFC 3339 in UTC, bytes
// as text, lists and maps element by element.
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	default:
		return x
	}
}
