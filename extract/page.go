package extract

import (
	"encoding/json"
	"time"
)

// Page is one page of the conversations list, decoded. Items that could not
// be decoded or validated are not dropped: they come back as Rejects with
// their reason and raw JSON.
type Page struct {
	Conversations []Conversation
	Rejects       []Reject
	// Next is the cursor for the following page (the id to send as `after`),
	// or "" when this is the last page of the query.
	Next string
	// RequestID is the API's Request-Id header of the response.
	RequestID string
}

// Reject is a list item that could not be turned into a Conversation.
type Reject struct {
	ID     string          // the item's id when it could be read, else "" (made UTF-8 as Raw is)
	Reason string          // what is wrong, e.g. `last_updated_time: invalid time "x" (value "x")`
	Raw    json.RawMessage // the item as received, each byte that is not UTF-8 replaced by U+FFFD
}

// Window is a half-open range [Lo, Hi) of last_updated_time. The API's
// filters are exclusive on both ends (`.gt`/`.lt`) at millisecond precision,
// so a Window is read as last_updated_time.gt = Lo-1ms and .lt = Hi: a
// conversation updated exactly on a boundary belongs to exactly one window.
type Window struct {
	Lo, Hi time.Time
}
