// Package oncehubtest is a fake of the OnceHub REST API v2 conversation
// endpoints (GET /v2/conversations, GET /v2/conversations/{id}, GET /v2/test),
// for tests, the demo, benchmarks and `convsync simulate`.
//
// OnceHub documents no conversation endpoints (reference §1): the behaviour
// here follows the documented conventions of its other list endpoints, and
// everything conversation-specific is an inference. The data is generated
// deterministically from a seed, on a data clock the caller advances
// (Advance), and the server keeps a request log so tests can count API calls.
//
// Paging semantics chosen where OnceHub is silent: the order is
// (creation_time desc, id desc); `after` pages toward older items, `before`
// returns the limit items just newer than the cursor, and has_more always
// means "more in the direction of travel". An unknown cursor id is a 400
// "No such conversation: '<id>'" with param after/before. Link carries
// rel="next" when older matches exist and rel="previous" when newer ones do
// (none on an empty page). Filter values are truncated to the millisecond.
//
// The package imports nothing else from convsync: it plays the server.
package oncehubtest

import (
	"math/rand/v2"
	"sync"
	"time"
)

// OnceHub's documented rate limits (reference §7), for Options.
const (
	// RatePerSecond is OnceHub's limit of requests per second per account (key).
	RatePerSecond = 5
	// RatePer5Minutes is OnceHub's limit of requests per 5 minutes per client IP.
	RatePer5Minutes = 200
)

// Options configure a Server. The zero value is a usable small simulator
// with quirks on and rate limits off.
type Options struct {
	// Seed makes the data: the same Seed, Start and Conversations give the
	// same conversations, byte for byte.
	Seed uint64
	// Conversations is the number generated at start; default 1000.
	Conversations int
	// Start is the data clock's initial time (Now); creation times are spread
	// over Span before it. Default: the wall clock at New, truncated to the
	// millisecond (pass a fixed Start for byte-identical data across runs).
	Start time.Time
	// Span is how far back creation times go; default 180 days.
	Span time.Duration
	// APIKey is the only key accepted in the API-Key header; default "test-key".
	APIKey string
	// Account is the e-mail GET /v2/test names; default "admin@example.com".
	Account string
	// RatePerSecond limits requests per second per API key (a token bucket of
	// that rate and burst); 0 is off. OnceHub's value is RatePerSecond.
	RatePerSecond int
	// RatePer5Minutes limits requests per 5 minutes per client IP (a token
	// bucket of that burst refilled over 5 minutes); 0 is off.
	RatePer5Minutes int
	// RateSlack forgives request-arrival jitter so a client token bucket with
	// the same limits never sees a 429; default 50ms, capped at half the
	// interval between tokens.
	RateSlack time.Duration
	// QuirkRate is the share of generated conversations (and contacts) given
	// each payload quirk; default 0.03. NoQuirks turns all quirks off.
	QuirkRate float64
	// NoQuirks generates clean data only: no Quirk flags, no unknown enum
	// values, and Link headers keep /v2 and every query parameter.
	NoQuirks bool
	// NewPerHour and UpdatesPerHour are the data-clock rates Advance uses;
	// defaults: Conversations/500 and twice that, at least 1 and 2.
	NewPerHour     float64
	UpdatesPerHour float64
	// Live, for ListenAndServe only: the data clock follows the wall clock,
	// advanced once a second.
	Live bool
	// FaultRate is the share of list and get requests (after auth and rate
	// limits, when no queued fault is due) that fail at random, drawn from
	// Seed: a 500, 502 or 503, a 429 with Retry-After 1, or a dropped
	// connection, in equal parts. 0 (the default) is none.
	FaultRate float64
	// LogLimit caps the request log (oldest entries dropped; counters keep
	// counting); default 100000.
	LogLimit int
}

func (o Options) withDefaults() Options {
	if o.Conversations <= 0 {
		o.Conversations = 1000
	}
	if o.Start.IsZero() {
		o.Start = time.Now()
	}
	o.Start = o.Start.UTC().Truncate(time.Millisecond)
	if o.Span <= 0 {
		o.Span = 180 * 24 * time.Hour
	}
	if o.APIKey == "" {
		o.APIKey = "test-key"
	}
	if o.Account == "" {
		o.Account = "admin@example.com"
	}
	if o.RateSlack <= 0 {
		o.RateSlack = 50 * time.Millisecond
	}
	if o.QuirkRate <= 0 {
		o.QuirkRate = 0.03
	}
	if o.NoQuirks {
		o.QuirkRate = 0
	}
	if o.NewPerHour <= 0 {
		o.NewPerHour = max(1, float64(o.Conversations)/500)
	}
	if o.UpdatesPerHour <= 0 {
		o.UpdatesPerHour = 2 * o.NewPerHour
	}
	if o.LogLimit <= 0 {
		o.LogLimit = 100000
	}
	return o
}

// Server is the simulator: an http.Handler serving the API under /v2, plus
// the methods tests use to move its clock, mutate data, inject faults and
// read ground truth. All methods are safe for concurrent use with requests.
type Server struct {
	opts Options

	mu         sync.RWMutex
	now        time.Time          // the data clock
	order      []*record          // ascending (creation_time, id); the list serves it reversed
	byUpdated  []updatedEntry     // records by ascending last_updated_time, some stale (index)
	byID       map[string]*record // conversation id -> record
	contacts   map[string]*dim
	contactIDs []string // in creation order, for deterministic picks
	users      []*dim
	bots       []*botDef
	websites   []*dim
	audiences  []*dim
	dims       map[string]*dim // every related object by id
	ids        map[string]bool // every id ever issued, so none repeats
	rng        *rand.Rand      // generation and Advance; only under mu
	carryNew   float64         // fractional new conversations not yet created
	carryUpd   float64

	limits  limiter
	faults  faults
	reqlog  requestLog
	reqSeq  uint64 // under reqlog.mu
	wallNow func() time.Time
}

// New builds a simulator with opts (defaults filled in) and generates its
// initial data.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:     opts,
		now:      opts.Start,
		byID:     make(map[string]*record, opts.Conversations),
		contacts: map[string]*dim{},
		dims:     map[string]*dim{},
		ids:      map[string]bool{},
		rng:      rand.New(rand.NewPCG(opts.Seed, 0x0ce_4b)),
		wallNow:  time.Now,
	}
	s.limits.init(opts.RatePerSecond, opts.RatePer5Minutes, opts.RateSlack)
	s.faults.rate, s.faults.rng = opts.FaultRate, rand.New(rand.NewPCG(opts.Seed, 0xfa_17))
	s.reqlog.limit = opts.LogLimit
	s.generate()
	return s
}

// Now is the data clock: the time the simulated account has reached. Pass
// it to a client as its clock, so windows end where the data does.
func (s *Server) Now() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.now
}

// APIKey is the key the server accepts.
func (s *Server) APIKey() string { return s.opts.APIKey }
