package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/convsync/convsync/extract"
)

// runProbe checks, with a handful of API calls, the behaviour of the API
// that a sync relies on and OnceHub does not document for conversations
// (its list endpoint is undocumented; see the README): the key, the list
// envelope, that the last_updated_time filters select to the millisecond
// (a coarser filter would make incremental windows miss data silently),
// and that cursor pages do not repeat. It writes nothing. A failed check
// is exit 1.
func runProbe(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "probe")
	cfgFlag := fs.String("config", "", "config file (default $CONVSYNC_CONFIG, else ./convsync.yaml if present)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(configPath(e, *cfgFlag), e.getenv, forAPI)
	if err != nil {
		return err
	}
	client, err := newClient(cfg, newLogger(e.stderr, cfg.Log))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "convsync probe: %s\n", cfg.Source.BaseURL)
	failed, total := probe(ctx, client, e.stdout)
	fmt.Fprintf(e.stdout, "%d checks, %d failed (%d API calls)\n", total, failed, client.Stats().APICalls)
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed: a sync would not read this API as it should", failed, total)
	}
	return nil
}

// errEnough stops a Pages call after the page wanted.
var errEnough = errors.New("enough pages")

// probe runs the checks, printing one line each, and returns how many
// failed out of how many ran.
func probe(ctx context.Context, c *extract.Client, w io.Writer) (failed, total int) {
	report := func(ok bool, format string, args ...any) {
		total++
		mark := "ok  "
		if !ok {
			mark, failed = "FAIL", failed+1
		}
		fmt.Fprintf(w, "  %s  %s\n", mark, fmt.Sprintf(format, args...))
	}
	msg, err := c.Check(ctx)
	report(err == nil, "API key: %s", orError(msg, err))
	if err != nil {
		return failed, total
	}

	first, err := onePage(ctx, c, extract.Window{}, "")
	if err != nil {
		report(false, "list: %v", err)
		return failed, total
	}
	more := "the only page"
	if first.Next != "" {
		more = "more pages after it"
	}
	report(true, "list: %d conversations and %d items that do not decode on the first page; %s",
		len(first.Conversations), len(first.Rejects), more)
	if len(first.Conversations) == 0 {
		fmt.Fprintln(w, "  skip  filters and pages: the account has no conversations to probe them with")
		return failed, total
	}

	// The conversation least recently updated on the page: the least
	// likely to change between the calls.
	conv := first.Conversations[0]
	for _, cv := range first.Conversations {
		if cv.LastUpdatedTime.Before(conv.LastUpdatedTime.Time) {
			conv = cv
		}
	}
	t := conv.LastUpdatedTime.UTC().Truncate(time.Millisecond)
	at := extract.Window{Lo: t, Hi: t.Add(time.Millisecond)}
	got, outside, err := inWindow(ctx, c, at, 3)
	switch {
	case err != nil:
		report(false, "filters: the millisecond of %s (last updated %s): %v", conv.ID, stamp(t), err)
	default:
		report(got[conv.ID] && outside == "", "filters: the millisecond of %s (last updated %s) returns it and nothing else%s",
			conv.ID, stamp(t), filterFault(got[conv.ID], outside))
	}
	after := extract.Window{Lo: t.Add(time.Millisecond), Hi: t.Add(time.Millisecond + 24*time.Hour)}
	got, outside, err = inWindow(ctx, c, after, 1)
	switch {
	case err != nil:
		report(false, "filters: the day after it: %v", err)
	default:
		report(!got[conv.ID] && outside == "", "filters: the day after it leaves it out, and its first page holds only what the day does%s",
			filterFault(true, outside))
	}

	if first.Next == "" {
		return failed, total
	}
	second, err := onePage(ctx, c, extract.Window{}, first.Next)
	if err != nil {
		report(false, "pages: the page after %s: %v", first.Next, err)
		return failed, total
	}
	seen := map[string]bool{}
	for _, cv := range first.Conversations {
		seen[cv.ID] = true
	}
	repeated := 0
	for _, cv := range second.Conversations {
		if seen[cv.ID] {
			repeated++
		}
	}
	report(repeated == 0 && len(second.Conversations) > 0, "pages: the page after %s holds %d conversations, %d of them already on the first",
		first.Next, len(second.Conversations), repeated)
	return failed, total
}

// readPages calls fn with the pages of w after the cursor, at most
// maxPages of them.
func readPages(ctx context.Context, c *extract.Client, w extract.Window, after string, maxPages int, fn func(extract.Page)) error {
	n := 0
	err := c.Pages(ctx, w, after, func(p extract.Page) error {
		fn(p)
		if n++; n == maxPages {
			return errEnough
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		return nil
	}
	return err
}

// onePage returns the first page of w after the cursor.
func onePage(ctx context.Context, c *extract.Client, w extract.Window, after string) (extract.Page, error) {
	var page extract.Page
	err := readPages(ctx, c, w, after, 1, func(p extract.Page) { page = p })
	return page, err
}

// inWindow reads the pages of w, at most maxPages, and returns the ids read
// and the first conversation whose last_updated_time lies outside w (""
// if none).
func inWindow(ctx context.Context, c *extract.Client, w extract.Window, maxPages int) (map[string]bool, string, error) {
	ids, outside := map[string]bool{}, ""
	err := readPages(ctx, c, w, "", maxPages, func(p extract.Page) {
		for _, cv := range p.Conversations {
			ids[cv.ID] = true
			if t := cv.LastUpdatedTime.Time; outside == "" && (t.Before(w.Lo) || !t.Before(w.Hi)) {
				outside = fmt.Sprintf("%s, last updated %s", cv.ID, stamp(t))
			}
		}
	})
	return ids, outside, err
}

// filterFault says what a failed filter check saw.
func filterFault(found bool, outside string) string {
	switch {
	case outside != "":
		return fmt.Sprintf(": it returned %s, outside the window (do the filters compare dates only?)", outside)
	case !found:
		return ": it did not return it (do the filters compare dates only, or not filter by last_updated_time?)"
	default:
		return ""
	}
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func orError(msg string, err error) string {
	if err != nil {
		return err.Error()
	}
	return msg
}
