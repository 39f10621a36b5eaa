package load

import (
	"bufio"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLock_InProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")

	t.Run("SecondHolderIsRefusedWithTheOwner", func(t *testing.T) {
		l, err := AcquireLock(path, "convsync sync")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		_, err = AcquireLock(path, "convsync other")
		var le *LockedError
		if !errors.As(err, &le) {
			t.Fatalf("second acquire: got %v, want *LockedError", err)
		}
		if le.Path != path || !strings.Contains(le.Owner, "convsync sync") ||
			!strings.Contains(le.Owner, "pid "+strconv.Itoa(os.Getpid())) {
			t.Errorf("LockedError = %+v, want path %s and owner naming convsync sync and this pid", le, path)
		}
		if time.Since(le.Since) > time.Minute || le.Since.IsZero() {
			t.Errorf("Since = %v, want about now", le.Since)
		}
		if !strings.Contains(err.Error(), "locked by convsync sync") {
			t.Errorf("message %q does not say who holds the lock", err)
		}
	})

	t.Run("ReleasedLockCanBeTakenAgain", func(t *testing.T) {
		l, err := AcquireLock(path, "first")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(); err != nil {
			t.Fatalf("second Release: %v", err)
		}
		l2, err := AcquireLock(path, "second")
		if err != nil {
			t.Fatalf("acquire after release: %v", err)
		}
		l2.Release()
	})
}

const lockHelperEnv = "CONVSYNC_LOCK_HELPER"

// TestLockHelperProcess is not a test: TestLock_AcrossProcesses runs the test
// binary again with it selected, to hold a lock in another process.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv(lockHelperEnv)
	if path == "" {
		return
	}
	l, err := AcquireLock(path, "helper")
	if err != nil {
		os.Stdout.WriteString("error " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("locked\n")
	time.Sleep(time.Minute) // until killed
	l.Release()
	os.Exit(0)
}

func TestLock_AcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	cmd := osexec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	_, err = AcquireLock(path, "parent")
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("acquire while the helper holds it: got %v, want *LockedError", err)
	}
	if want := "pid " + strconv.Itoa(cmd.Process.Pid); !strings.Contains(le.Owner, want) {
		t.Errorf("owner %q does not name the helper (%s)", le.Owner, want)
	}

	// A killed holder never releases; the OS drops its lock.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	l, err := AcquireLock(path, "parent")
	if err != nil {
		t.Fatalf("acquire after the holder was killed: %v", err)
	}
	defer l.Release()
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"owner":"parent"`) {
		t.Errorf("lock file %s does not name the new owner", b)
	}
}
