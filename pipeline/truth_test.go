package pipeline_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/extract/oncehubtest"
	"github.com/convsync/convsync/transform"
)

// expected is what the warehouse must hold for the simulator's current
// state: the ground truth decoded and flattened.
func expected(t *testing.T, sim *oncehubtest.Server) *transform.Batch {
	t.Helper()
	var convs []extract.Conversation
	for _, raw := range sim.Truth() {
		var c extract.Conversation
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("decode ground truth: %v", err)
		}
		if c.Validate() == nil {
			convs = append(convs, c)
		}
	}
	return transform.Flatten(convs, nil)
}

// assertMatchesSource compares every table, every column (but the lineage
// columns synced_at and run_id) with the simulator's ground truth.
func assertMatchesSource(t *testing.T, db *sql.DB, sim *oncehubtest.Server) {
	t.Helper()
	want := expected(t, sim)
	compareTable(t, db, "conversations", "id", want.Conversations, false)
	compareTable(t, db, "conversation_answers", "conversation_id, position", want.Answers, false)
	compareTable(t, db, "conversation_bookings", "conversation_id, position", want.Bookings, false)
	compareTable(t, db, "contacts", "id", want.Contacts, true)
	compareTable(t, db, "users", "id", want.Users, true)
	compareTable(t, db, "bots", "id", want.Bots, true)
	compareTable(t, db, "websites", "id", want.Websites, true)
	compareTable(t, db, "audiences", "id", want.Audiences, true)
}

// compareTable reads table and compares it, by key, with rows (transform
// row structs, whose fields name the columns in order). For dimensions, a
// row the source shows only as deleted must be deleted in the warehouse,
// which may keep attributes it saw before the deletion.
func compareTable[R any](t *testing.T, db *sql.DB, table, key string, rows []R, dim bool) {
	t.Helper()
	cols := columnsOf[R]()
	got := map[string][]any{}
	for _, r := range queryRows(t, db, fmt.Sprintf("SELECT %s FROM %s", strings.Join(cols, ", "), table), cols) {
		got[keyOf(r, key)] = r
	}
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 5 {
			t.Errorf(table+": "+format, args...)
		}
	}
	for _, r := range rows {
		want := rowValues(r)
		k := keyOf(want, key)
		g, ok := got[k]
		delete(got, k)
		switch {
		case !ok:
			report("missing %s (source: %v)", k, want)
		case dim && want[1] == true: // deleted at the source
			if g[1] != true {
				report("%s is deleted at the source, not in the warehouse", k)
			}
		case !reflect.DeepEqual(g, want):
			report("%s differs:\n got %v\nwant %v", k, g, want)
		}
	}
	for k := range got {
		report("%s is not in the source", k)
	}
	if bad > 5 {
		t.Errorf("%s: %d differences in all", table, bad)
	}
}

func keyOf(r []any, key string) string {
	if strings.Contains(key, ",") {
		return fmt.Sprintf("%v#%v", r[0], r[1])
	}
	return fmt.Sprint(r[0])
}

// columnsOf names the columns of a row struct: ContactID → contact_id.
func columnsOf[R any]() []string {
	rt := reflect.TypeFor[R]()
	cols := make([]string, rt.NumField())
	for i := range cols {
		var b strings.Builder
		name := rt.Field(i).Name
		for j, r := range name {
			if j > 0 && unicode.IsUpper(r) && unicode.IsLower(rune(name[j-1])) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		}
		cols[i] = b.String()
	}
	return cols
}

// rowValues is a row struct as normalized column values.
func rowValues(r any) []any {
	v := reflect.ValueOf(r)
	out := make([]any, v.NumField())
	for i := range out {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		}
		out[i] = normalize(v.Type().Field(i).Name, f.Interface())
	}
	return out
}

func queryRows(t *testing.T, db *sql.DB, q string, cols []string) [][]any {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i := range vals {
			if vals[i] != nil {
				vals[i] = normalize(cols[i], vals[i])
			}
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// normalize makes a value comparable across Go rows and scanned columns:
// times in UTC text, integers as int64, JSON columns canonical.
func normalize(col string, v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case int32:
		return int64(x)
	case []byte:
		v = string(x)
	}
	switch col {
	case "raw", "Raw", "custom_fields", "CustomFields", "teams", "Teams":
		return canonicalJSON(v)
	}
	return v
}

func canonicalJSON(v any) string {
	if s, ok := v.(string); ok {
		var x any
		if err := json.Unmarshal([]byte(s), &x); err != nil {
			return "invalid JSON: " + s
		}
		v = x
	}
	b, _ := json.Marshal(v)
	return string(b)
}
