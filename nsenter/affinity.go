package nsenter

/*
extern int minirunc_set_affinity(int tid, int orig);
extern int minirunc_pinned(void);
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

// A command's threads share the CPU it started on (the constructor pins
// the process before Go starts any thread). Go wakes its threads for every
// handoff, signal registration and sysmon tick, and on a VM a wakeup on
// another CPU is an interrupt through the host: one CPU measured 11-16%
// less CPU for exec and run, and no slower (interleaved rounds). What the
// command starts gets the affinity the command was started with.

// WithOriginalAffinity runs start, which starts a child process (a
// container's init, a hook, ps), on a thread with the affinity minirunc
// was started with: a child inherits its creating thread's.
func WithOriginalAffinity(start func() error) error {
	if C.minirunc_pinned() == 0 {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if e := C.minirunc_set_affinity(0, 1); e != 0 {
		return fmt.Errorf("restore CPU affinity: %w", syscall.Errno(e))
	}
	err := start()
	// Pinned again; should that fail, the thread merely stays unpinned.
	C.minirunc_set_affinity(0, 0)
	return err
}

// Unpin gives every thread of the process the original affinity, for a
// command that works on several CPUs at once (list).
func Unpin() {
	if C.minirunc_pinned() == 0 {
		return
	}
	ents, err := os.ReadDir("/proc/thread-self/..")
	if err != nil {
		return
	}
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			C.minirunc_set_affinity(C.int(tid), 1)
		}
	}
}
