package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// memoryDB is an in-memory DuckDB, closed at cleanup.
func memoryDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// printed runs q with query and returns what it printed after the header
// line (none in json), without the last newline.
func printed(t *testing.T, db *sql.DB, format, q string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := query(context.Background(), db, &buf, format, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out := strings.TrimSuffix(buf.String(), "\n")
	if format != "json" {
		_, out, _ = strings.Cut(out, "\n")
	}
	return out
}

// TestQuery_ValuesInEachFormat is the README's Querying section: DuckDB
// renders each type, as its CLI does in table and csv, and with to_json in
// json (nested values and JSON as JSON, JSON text kept as stored).
func TestQuery_ValuesInEachFormat(t *testing.T) {
	const uuid = "6243a8a3-a1c2-46f6-9fc7-fdb7d591203c"
	for _, tc := range []struct {
		name, expr            string
		table, csv, jsonValue string
	}{
		{"integer", "42", "42", "42", "42"},
		{"boolean", "true", "true", "true", "true"},
		{"varchar", "'x y'", "x y", "x y", `"x y"`},
		{"NULL", "NULL::VARCHAR", "NULL", "", "null"},
		{"empty string", "''", "", `""`, `""`},
		{"string with a quote and a comma", `'"q",r'`, `"q",r`, `"""q"",r"`, `"\"q\",r"`},
		{"string with a newline and a tab", "'a' || chr(10) || 'b' || chr(9)", `a\nb\t`, "\"a\nb\t\"", `"a\nb\t"`},
		{"uuid", "'" + uuid + "'::UUID", uuid, uuid, `"` + uuid + `"`},
		{"decimal keeps its scale", "1.50::DECIMAL(5,2)", "1.50", "1.50", "1.5"},
		{"hugeint", "12345678901234567890123::HUGEINT", "12345678901234567890123", "12345678901234567890123", "12345678901234567890123"},
		{"date", "DATE '2024-01-01'", "2024-01-01", "2024-01-01", `"2024-01-01"`},
		{"time", "TIME '10:00'", "10:00:00", "10:00:00", `"10:00:00"`},
		{"timestamp", "TIMESTAMP '2024-01-01 10:00'", "2024-01-01 10:00:00", "2024-01-01 10:00:00", `"2024-01-01 10:00:00"`},
		{"timestamptz in UTC", "TIMESTAMPTZ '2025-01-02 03:04:05.678+02'", "2025-01-02 01:04:05.678+00", "2025-01-02 01:04:05.678+00", `"2025-01-02 01:04:05.678+00"`},
		{"interval", "INTERVAL '1 year 2 months 3 days 04:05:06.789'", "1 year 2 months 3 days 04:05:06.789", "1 year 2 months 3 days 04:05:06.789", `"1 year 2 months 3 days 04:05:06.789"`},
		{"list", "[NULL, 'a']", "[NULL, a]", `"[NULL, a]"`, `[null,"a"]`},
		{"struct in field order", "{'b': 1, 'a': 'x'}", "{'b': 1, 'a': x}", `"{'b': 1, 'a': x}"`, `{"b":1,"a":"x"}`},
		{"map", "MAP {1: 'x', 2: NULL}", "{1=x, 2=NULL}", `"{1=x, 2=NULL}"`, `{"1":"x","2":null}`},
		{"json kept as stored", `'{"b": [1, null], "a": "x", "n": 12345678901234567890}'::JSON`,
			`{"b": [1, null], "a": "x", "n": 12345678901234567890}`, `"{""b"": [1, null], ""a"": ""x"", ""n"": 12345678901234567890}"`,
			`{"b":[1,null],"a":"x","n":12345678901234567890}`},
		{"json from the README", `'{"answers": [{"id": "INT-1", "internal_label": null, "question": "Q?"}]}'->'answers'->0`,
			`{"id":"INT-1","internal_label":null,"question":"Q?"}`,
			`"{""id"":""INT-1"",""internal_label"":null,""question"":""Q?""}"`,
			`{"id":"INT-1","internal_label":null,"question":"Q?"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := memoryDB(t)
			q := "SELECT " + tc.expr + " AS v"
			if got := printed(t, db, "table", q); got != tc.table {
				t.Errorf("table: %s\n got %s\nwant %s", q, got, tc.table)
			}
			if got := printed(t, db, "csv", q); got != tc.csv {
				t.Errorf("csv: %s\n got %s\nwant %s", q, got, tc.csv)
			}
			if got, want := printed(t, db, "json", q), `{"v":`+tc.jsonValue+`}`; got != want {
				t.Errorf("json: %s\n got %s\nwant %s", q, got, want)
			}
		})
	}
}

// TestQuery_TimesInUTC checks that a time with a zone prints in UTC even
// where the session's zone is another.
func TestQuery_TimesInUTC(t *testing.T) {
	db := memoryDB(t)
	db.SetMaxOpenConns(1) // the SET below and the query share the one connection
	if _, err := db.Exec("SET TimeZone = 'Asia/Kolkata'"); err != nil {
		t.Fatal(err)
	}
	if got := printed(t, db, "table", "SELECT TIMESTAMPTZ '2025-01-02 03:04:05+02' AS v"); got != "2025-01-02 01:04:05+00" {
		t.Errorf("got %s, want 2025-01-02 01:04:05+00", got)
	}
}

func TestQuery_JSONKeepsColumnOrderAndSuffixesDuplicateNames(t *testing.T) {
	got := printed(t, memoryDB(t), "json", "SELECT 1 a, 2 a, 'x' z, 3 b UNION ALL SELECT 6, 7, NULL, 8")
	if want := `{"a":1,"a_1":2,"z":"x","b":3}` + "\n" + `{"a":6,"a_1":7,"z":null,"b":8}`; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestQuery_CSVTellsNullFromEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := query(context.Background(), memoryDB(t), &buf, "csv", `SELECT NULL::VARCHAR AS "n", '' AS "e", 'x' AS "x"`); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "n,e,x\n,\"\",x\n"; got != want {
		t.Errorf("csv = %q, want %q", got, want)
	}
}

// TestQuery_AnyStatement checks statements other than a plain SELECT: a
// trailing semicolon or line comment, DESCRIBE (a subquery too), and
// PRAGMAs, which cannot be one and run as written; and that a bad query's
// error is about the query as written.
func TestQuery_AnyStatement(t *testing.T) {
	db := memoryDB(t)
	for _, tc := range []struct{ q, format, want string }{
		{"SELECT 1 AS one;  ", "table", "1"},
		{"SELECT 1 AS one -- the answer", "json", `{"one":1}`},
		{"DESCRIBE SELECT 1 AS one", "csv", "one,INTEGER,YES,,,"},
		{"PRAGMA database_size", "csv", "memory,"},
		{"PRAGMA platform", "json", `{"platform":"`},
	} {
		got := printed(t, db, tc.format, tc.q)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s (%s): got %q, want it to start with %q", tc.q, tc.format, got, tc.want)
		}
	}
	if err := query(context.Background(), db, io.Discard, "table", "SELEC 1"); err == nil || !strings.Contains(err.Error(), `syntax error at or near "SELEC"`) {
		t.Errorf("a bad query: err = %v, want the error about the query as written", err)
	}
}

func TestSQL_FlagsAfterTheQuery(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"format after the query", []string{"SELECT 1", "--format", "csv"}, `flags go before the query: convsync sql [--config FILE] [--format table|csv|json] QUERY ("--format" came after it)`},
		{"two queries", []string{"SELECT 1", "SELECT 2"}, "want exactly one QUERY argument (quote it), got 2"},
		{"no query", nil, "want exactly one QUERY argument (quote it), got 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(context.Background(), envOf(nil), append([]string{"sql"}, tc.args...)...)
			if r.code != exitConfig || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, exitConfig, tc.want)
			}
		})
	}
}

// TestSQL_QueryOpeningWithAComment: a query pasted with its leading
// "-- comment" line runs; it is not read as a flag.
func TestSQL_QueryOpeningWithAComment(t *testing.T) {
	p := newProdEnv(t, 20)
	path := p.write(t, "c.yaml", p.config())
	if r := runCmd(context.Background(), p.getenv, "sync", "--config", path); r.code != exitOK {
		t.Fatalf("sync: %d %s", r.code, r.stderr)
	}
	r := runCmd(context.Background(), p.getenv, "sql", "--config", path, "--format", "csv", "-- how many\nSELECT count(*) AS n FROM conversations")
	if r.code != exitOK || r.stdout != "n\n20\n" {
		t.Errorf("exit %d, stdout %q, stderr %s; want the count", r.code, r.stdout, r.stderr)
	}
	// A flag's value may hold a space: it is still a flag.
	spaced := filepath.Join(p.dir, "my dir", "c.yaml")
	if err := os.MkdirAll(filepath.Dir(spaced), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, spaced); err != nil {
		t.Fatal(err)
	}
	r = runCmd(context.Background(), p.getenv, "sql", "--config="+spaced, "--format=csv", "SELECT count(*) AS n FROM conversations")
	if r.code != exitOK || r.stdout != "n\n20\n" {
		t.Errorf("--config=%q: exit %d, stdout %q, stderr %s; want the count", spaced, r.code, r.stdout, r.stderr)
	}
}
