// Command convsync keeps an analytics warehouse (DuckDB or Parquet) in sync
// with OnceHub chatbot conversations. See README.md for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/convsync/convsync/load"
)

// Exit codes, documented in README.md.
const (
	exitOK       = 0
	exitFailure  = 1
	exitConfig   = 2 // bad flags or configuration; nothing was written
	exitLocked   = 3 // another run holds the warehouse lock
	exitSignaled = 128
)

func main() {
	// SIGTERM (what Kubernetes and systemd send) and SIGINT cancel ctx: the
	// run in flight rolls back its batch, within sync.shutdown_grace.
	ctx, cancel := context.WithCancelCause(context.Background())
	var sig atomic.Int32
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := (<-ch).(syscall.Signal)
		sig.Store(int32(s))
		cancel(fmt.Errorf("signal %s", s))
		<-ch // a second signal stops at once
		os.Exit(exitSignaled + int(s))
	}()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	// A command that finished despite the signal exits 0: its work is done.
	if s := sig.Load(); s != 0 && code != exitOK {
		code = exitSignaled + int(s)
	}
	cancel(nil)
	os.Exit(code)
}

// env is what a command may use of the outside world.
type env struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

// command is one subcommand: it parses its own flags and does its work.
type command struct {
	name, args, help string
	run              func(ctx context.Context, e env, args []string) error
}

// commands lists the commands; their args are the README's Commands table.
func commands() []command {
	return []command{
		{"sync", "[--config FILE] [--full-refresh]", "run one incremental sync and exit (for cron and Kubernetes CronJobs)", runSync},
		{"run", "[--config FILE] [--schedule CRON] [--listen ADDR]", "run syncs on a schedule until stopped, serving /metrics and /healthz", runScheduled},
		{"backfill", "--from T1 --to T2 [--config FILE]", "re-read [T1, T2) without moving the cursor; run it again to resume", runBackfill},
		{"config", "check [--config FILE] [--offline]", "validate the configuration and print it, secrets masked", runConfig},
		{"demo", "[--dir DIR] [--conversations N] [--seed S] [--format duckdb|parquet]", "sync the built-in simulator into DIR/warehouse.duckdb (or DIR/warehouse/), then twice more as its clock moves, and show the result", runDemo},
		{"simulate", "[--addr HOST:PORT] [--conversations N] [--seed S] [--api-key K] [--rate-limits=false] [--live=false] [--fault-rate F] [--quiet]", "serve the OnceHub API simulator", runSimulate},
		{"probe", "[--config FILE]", "check with a few API calls that the API behaves as a sync needs (key, filters, pages); writes nothing", runProbe},
		{"sql", "[--config FILE] [--format table|csv|json] QUERY", "run a read-only SQL query against the warehouse", runSQL},
		{"status", "[--config FILE]", "show the sync cursor, the last runs and row counts", runStatus},
		{"bench", "[--conversations N] [--delta F] [--deltas N] [--compare-at N] [--parquet=false] [--split=false] [--seed S] [--rate-limited N] [--batch-size N] [--memory-limit M] [--low-memory] [--dir DIR] [--out FILE] [--cpuprofile FILE]", "measure sync speed, memory and API calls against DuckDB's own JSON load", runBench},
	}
}

// run is the whole program; main only gathers its arguments. It returns the
// process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	e := env{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return exitConfig
	}
	if args[0] == "help" || isHelp(args[0]) {
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(stderr, "convsync %s: %v\n", c.name, err)
			}
			return exitCode(err)
		}
	}
	fmt.Fprintf(stderr, "convsync: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitConfig
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: convsync COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n  %-9s   %s\n", c.name, c.args, "", c.help)
	}
	fmt.Fprintln(w, "\nRun 'convsync COMMAND -h' for a command's flags.")
}

// usageError is a bad command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var cfgErr *ConfigError
	var useErr usageError
	var lockErr *load.LockedError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &cfgErr), errors.As(err, &useErr):
		return exitConfig
	case errors.As(err, &lockErr):
		return exitLocked
	default:
		return exitFailure
	}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(e env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("convsync "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parse parses args, turning a flag error into a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// parseFlags parses the args of a command that takes flags only: a stray
// argument (convsync sync prod.yaml, for --config prod.yaml) is a usage
// error naming it, not something to ignore. Only the first is named: flag
// parsing stops there, so what follows it is left unread too.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return nil
	}
	msg := fmt.Sprintf("unexpected argument %q", fs.Arg(0))
	if fs.Lookup("config") != nil {
		msg += " (the configuration file is --config FILE)"
	}
	return usageError{msg}
}

// isHelp says whether arg asks for help, as package flag reads it.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--h" || arg == "-help" || arg == "--help"
}

// configPath is --config, else $CONVSYNC_CONFIG, else convsync.yaml if it
// exists, else none (defaults and environment only).
func configPath(e env, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := e.getenv("CONVSYNC_CONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat("convsync.yaml"); err == nil {
		return "convsync.yaml"
	}
	return ""
}
