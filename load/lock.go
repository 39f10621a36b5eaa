package load

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Lock is an exclusive, advisory lock on a warehouse, held through an OS file
// lock (flock) on a lock file. The OS drops the lock when the holding process
// exits, however it exits, so a lock left by a killed run is recovered by the
// next AcquireLock without any staleness heuristics.
type Lock struct {
	f    *os.File
	path string
}

// LockedError is what AcquireLock returns when another holder has the lock.
type LockedError struct {
	Path  string    // the lock file
	Owner string    // who holds it: owner text, host and pid, as the holder wrote them
	Since time.Time // when the holder took it; zero if it had not written it yet
}

func (e *LockedError) Error() string {
	owner := e.Owner
	if owner == "" {
		owner = "another process"
	}
	if e.Since.IsZero() {
		return fmt.Sprintf("warehouse is locked by %s (lock file %s)", owner, e.Path)
	}
	return fmt.Sprintf("warehouse is locked by %s since %s (lock file %s)",
		owner, e.Since.UTC().Format(time.RFC3339), e.Path)
}

// lockOwner is the content of a held lock file.
type lockOwner struct {
	Owner string    `json:"owner"`
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

func (o lockOwner) String() string {
	return fmt.Sprintf("%s (host %s, pid %d)", o.Owner, o.Host, o.PID)
}

// AcquireLock takes the lock at path without waiting, creating the file if
// needed, and writes owner, the host name, the pid and the time into it. If
// the lock is held, by this or another process, it returns a *LockedError
// naming the holder. The lock file is never deleted: removing a file others
// may have open would let two holders lock two different inodes.
func AcquireLock(path, owner string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, lockedError(path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := writeOwner(f, owner); err != nil {
		f.Close() // closing drops the flock
		return nil, err
	}
	return &Lock{f: f, path: path}, nil
}

func writeOwner(f *os.File, owner string) error {
	host, _ := os.Hostname()
	b, err := json.Marshal(lockOwner{Owner: owner, Host: host, PID: os.Getpid(), Since: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("encode lock owner: %w", err)
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("write lock owner: %w", err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("write lock owner: %w", err)
	}
	return nil
}

// lockedError describes the holder from the lock file. The holder may not
// have written it yet, or may be releasing it; then the owner is unknown.
func lockedError(path string) *LockedError {
	e := &LockedError{Path: path}
	b, err := os.ReadFile(path)
	if err != nil {
		return e
	}
	var o lockOwner
	if json.Unmarshal(b, &o) == nil && o.PID != 0 {
		e.Owner, e.Since = o.String(), o.Since
	}
	return e
}

// Release empties the lock file and drops the lock. It is safe to call more
// than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	terr := f.Truncate(0)
	uerr := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	cerr := f.Close()
	if err := errors.Join(terr, uerr, cerr); err != nil {
		return fmt.Errorf("release lock %s: %w", l.path, err)
	}
	return nil
}
