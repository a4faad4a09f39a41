package nsenter

/*
extern int minirunc_set_sched(int orig);
extern int minirunc_sched_changed(void);
extern int minirunc_restore_slack(void);
*/
import "C"

import (
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
)

// A command's threads share the CPU it started on, and sleep with a wide
// timer slack (the constructor sets both before Go starts any thread).
// Go wakes its threads for every handoff, signal registration and sysmon
// tick, and on a VM a wakeup on another CPU is an interrupt through the
// host: one CPU measured 11-16% less CPU for exec and run, and no slower
// (interleaved rounds). Sysmon sleeps 20 us at a time whenever a
// goroutine runs or blocks in a system call, which with the usual 50 us
// slack is a wakeup every ~90 us here, about 1 ms of CPU in a `run`; with
// 1 ms of slack it wakes about once a millisecond. Nothing in a command
// waits on a timer shorter than that but the freezer's and cgroup
// removal's retries, which only get slower to retry. What the command
// starts gets the affinity and slack the command was started with.

// WithOriginalSched runs start, which starts a child process (a
// container's init, a hook, ps), on a thread with the CPU affinity and
// timer slack minirunc was started with: a child inherits its creating
// thread's.
func WithOriginalSched(start func() error) error {
	if C.minirunc_sched_changed() == 0 {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if e := C.minirunc_set_sched(1); e != 0 {
		return fmt.Errorf("restore CPU affinity and timer slack: %w", syscall.Errno(e))
	}
	err := start()
	// The command's own again; should that fail, the thread merely keeps
	// the original.
	C.minirunc_set_sched(0)
	return err
}

// Run starts cmd with WithOriginalSched and waits for it, as cmd.Run.
func Run(cmd *exec.Cmd) error {
	if err := WithOriginalSched(cmd.Start); err != nil {
		return err
	}
	return cmd.Wait()
}

// RestoreSlack gives the calling thread the timer slack the process was
// started with: init calls it on the thread that executes the container's
// program, which keeps that thread's slack.
func RestoreSlack() error {
	if e := C.minirunc_restore_slack(); e != 0 {
		return fmt.Errorf("restore timer slack: %w", syscall.Errno(e))
	}
	return nil
}
