package containerinit

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// dieWithParent is set for a foreground `run`: init, and the program it
// becomes, get SIGKILL when the run dies, so the container does not
// outlive its caller; the next delete removes its state and cgroups.
// create never sets it: its init must outlive the create.
var dieWithParent bool

// armPdeathsig sets PR_SET_PDEATHSIG to SIGKILL. The signal survives
// execve (but for set-user-ID programs) and is cleared by a change of
// user, after which it is set again.
func armPdeathsig() error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set parent death signal: %w", err)
	}
	return nil
}

// faultPrefix names init's fault points: "init:" for a container's init,
// "execinit:" for an exec's.
func faultPrefix() string {
	if os.Getenv(EnvExec) != "" {
		return "execinit:"
	}
	return "init:"
}
