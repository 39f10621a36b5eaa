package extract

import (
	"net/url"
	"time"
)

// filterTime is how a filter time is sent: RFC 3339, UTC, milliseconds.
const filterTime = "2006-01-02T15:04:05.000Z07:00"

// Slices splits [lo, hi) into consecutive windows of the given size, oldest
// first, so that a run can commit its progress slice by slice. The last
// window ends at hi and may be shorter; size <= 0 gives one window. It
// returns nil when lo is not before hi. Consecutive windows share their
// boundary (one's Hi is the next one's Lo), so every instant of [lo, hi)
// belongs to exactly one of them.
func Slices(lo, hi time.Time, size time.Duration) []Window {
	if !lo.Before(hi) {
		return nil
	}
	if size <= 0 {
		return []Window{{Lo: lo, Hi: hi}}
	}
	var out []Window
	for start := lo; start.Before(hi); {
		end := start.Add(size)
		if !end.Before(hi) {
			end = hi
		}
		out = append(out, Window{Lo: start, Hi: end})
		start = end
	}
	return out
}

// Filters returns the values of last_updated_time.gt and .lt that select w,
// as sent to the API: gt = Lo - 1ms and lt = Hi, in UTC with milliseconds.
// Both ends are truncated to the millisecond first (the API's precision), so
// the windows of Slices still partition every millisecond timestamp. A zero
// Lo or Hi leaves that end open and its value "".
func (w Window) Filters() (gt, lt string) {
	if !w.Lo.IsZero() {
		gt = w.Lo.UTC().Truncate(time.Millisecond).Add(-time.Millisecond).Format(filterTime)
	}
	if !w.Hi.IsZero() {
		lt = w.Hi.UTC().Truncate(time.Millisecond).Format(filterTime)
	}
	return gt, lt
}

// query adds w's filters to q.
func (w Window) query(q url.Values) {
	gt, lt := w.Filters()
	if gt != "" {
		q.Set("last_updated_time.gt", gt)
	}
	if lt != "" {
		q.Set("last_updated_time.lt", lt)
	}
}
