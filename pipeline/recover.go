package pipeline

import (
	"fmt"
	"runtime/debug"
)

// recovered returns f with a panic turned into an error, stack included:
// a bug met by one run fails that run (rolled back, recorded as failed)
// instead of crashing a process that runs syncs on a schedule.
func recovered(f func() error) func() error {
	return func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}()
		return f()
	}
}
