//go:build faultinject

package fault

import (
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Enabled reports whether this binary honours $MINIRUNC_FAULT.
const Enabled = true

const (
	envFault = "MINIRUNC_FAULT"       // the point to die at
	envStop  = "MINIRUNC_FAULT_STOP"  // the point to stop (SIGSTOP) at
	envTrace = "MINIRUNC_FAULT_TRACE" // a file every point reached is appended to
)

var (
	target    = os.Getenv(envFault)
	stopAt    = os.Getenv(envStop)
	traceOnce sync.Once
	trace     *os.File
)

// Point kills the process with SIGKILL when name is $MINIRUNC_FAULT, stops
// it with SIGSTOP (until a SIGCONT) when name is $MINIRUNC_FAULT_STOP, so
// that a test can change the world at that step, and records name in
// $MINIRUNC_FAULT_TRACE when that is set.
func Point(name string) {
	if p := os.Getenv(envTrace); p != "" {
		traceOnce.Do(func() {
			trace, _ = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o644)
		})
		if trace != nil {
			_, _ = trace.WriteString(name + "\n")
		}
	}
	if name == stopAt {
		_ = unix.Kill(os.Getpid(), unix.SIGSTOP)
	}
	if name != target {
		return
	}
	_ = unix.Kill(os.Getpid(), unix.SIGKILL)
	// A pid namespace's init ignores SIGKILL from inside its namespace:
	// end it as abruptly.
	unix.Exit(137)
}

// Env hands every $MINIRUNC_FAULT* variable (the fault, the trace, a
// test's marker) on to a child init, whose environment is built from
// scratch.
func Env() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, envFault) {
			out = append(out, kv)
		}
	}
	return out
}
