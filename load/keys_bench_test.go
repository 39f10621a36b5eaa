package load_test

import (
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sqlfiles "github.com/convsync/convsync/sql"
)

var keysSize = flag.Int("keys.conversations", 100_000, "conversations in BenchmarkKeys")

// BenchmarkKeys measures the table design issue 5 asks about: the schema as
// it is (no keys; the loader deletes then inserts in one transaction)
// against the same tables with primary keys (conversations upserted with
// INSERT OR REPLACE; answers still deleted and inserted, as an answer
// removed at the source must go). Each loads the same generated
// conversations (~1.6 kB of raw JSON and 7 answers each) in commits of
// 5,000, then commits a delta of 2,000 (1,000 new, 1,000 updates spread
// over the table), and reports both times and the file size.
//
//	go test ./load -run '^$' -bench Keys -benchtime 1x [-keys.conversations 200000]
func BenchmarkKeys(b *testing.B) {
	for _, v := range []struct {
		name   string
		schema func(string) string
		upsert string
	}{
		{"no-keys", func(s string) string { return s }, `DELETE FROM conversations WHERE id IN (SELECT id FROM sc);
			INSERT INTO conversations SELECT * FROM sc;`},
		{"keys", withKeys, `INSERT OR REPLACE INTO conversations SELECT * FROM sc;`},
	} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				full, delta, size := loadWithDesign(b, v.schema(sqlfiles.Schema), v.upsert+`
					DELETE FROM conversation_answers WHERE conversation_id IN (SELECT id FROM sc);
					INSERT INTO conversation_answers SELECT * FROM sa;`)
				b.ReportMetric(full.Seconds(), "full-s")
				b.ReportMetric(float64(delta.Microseconds())/1000, "delta-ms")
				b.ReportMetric(float64(size)/(1<<20), "file-MiB")
			}
		})
	}
}

// withKeys is schema with the keys sql/schema.sql documents declared as
// primary keys on the conversation tables.
func withKeys(schema string) string {
	for _, r := range []struct{ table, key string }{
		{"conversations", "id"},
		{"conversation_answers", "conversation_id, position"},
		{"conversation_bookings", "conversation_id, position"},
	} {
		head := "CREATE TABLE IF NOT EXISTS " + r.table + " ("
		i := strings.Index(schema, head)
		end := i + strings.Index(schema[i:], "\n);")
		schema = schema[:end] + ",\n    PRIMARY KEY (" + r.key + ")" + schema[end:]
	}
	return schema
}

// loadWithDesign creates a warehouse with schema and loads it with script,
// which upserts staged TEMP tables sc (conversations) and sa (answers) in
// one transaction per commit. It returns the time of the full load, of the
// delta, and the file's size after a checkpoint.
func loadWithDesign(b *testing.B, schema, script string) (full, delta time.Duration, size int64) {
	path := filepath.Join(b.TempDir(), "w.duckdb")
	db, err := sql.Open("duckdb", path+"?memory_limit=256MB&checkpoint_threshold=256MB")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	mustExec(b, db, schema)
	n := *keysSize
	start := time.Now()
	for lo := 0; lo < n; lo += 5000 {
		mustExec(b, db, stageRows(generated{lo, min(lo+5000, n), 0, "true"}))
		mustExec(b, db, "BEGIN TRANSACTION;\n"+script+"\nCOMMIT;")
	}
	full = time.Since(start)
	mustExec(b, db, "CHECKPOINT")
	// The delta: a version 1 of 1,000 conversations spread over the table,
	// and 1,000 new ones.
	mustExec(b, db, stageRows(generated{0, n, 1, fmt.Sprintf("n %% %d = 0", n/1000)}, generated{n, n + 1000, 0, "true"}))
	start = time.Now()
	mustExec(b, db, "BEGIN TRANSACTION;\n"+script+"\nCOMMIT;")
	delta = time.Since(start)
	mustExec(b, db, "CHECKPOINT")
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return full, delta, st.Size()
}

// generated is conversations lo..hi-1 (those matching the SQL predicate
// where, over n) in version v: ~1.6 kB of raw JSON and 7 answers each.
type generated struct {
	lo, hi, v int
	where     string
}

// stageRows is the SQL that fills TEMP tables sc and sa with the rows of
// sets.
func stageRows(sets ...generated) string {
	var convs, answers []string
	for _, g := range sets {
		from := fmt.Sprintf("FROM range(%d, %d) r(n) WHERE %s", g.lo, g.hi, g.where)
		convs = append(convs, fmt.Sprintf(`SELECT 'CVR-' || upper(hex(hash(n))[1:10]) AS id,
			TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_minutes(n) AS creation_time,
			TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_minutes(n) + to_hours(%d + 1) AS last_updated_time,
			NULL::TIMESTAMPTZ, 'visitor', 'closed', 'CTC-' || n, 'USR-1', 'BOT-1', 'WEB-1', NULL, 7, 0,
			'{"n":' || n || ',"pad":"' || repeat('x', 1600) || '"}', now(), 'bench' %s`, g.v, from))
		answers = append(answers, fmt.Sprintf(`SELECT 'CVR-' || upper(hex(hash(n))[1:10]), p::INTEGER,
			'INT-' || p, 'What is your question number ' || p || '?', NULL,
			'answer ' || p || ' of version %d', now(), 'bench'
			FROM range(%d, %d) r(n), range(1, 8) q(p) WHERE %s`, g.v, g.lo, g.hi, g.where))
	}
	return "CREATE OR REPLACE TEMP TABLE sc AS " + strings.Join(convs, " UNION ALL ") +
		";\nCREATE OR REPLACE TEMP TABLE sa AS " + strings.Join(answers, " UNION ALL ") + ";"
}
