// Package nsenter joins existing namespaces before the Go runtime starts.
//
// setns(2) into a user or mount namespace needs a single-threaded process,
// and Go starts threads before main. So a small C constructor (nsenter.c)
// runs first in `minirunc init` when the parent asks for it through the
// environment, joins the namespaces, creates the new ones that must be owned
// by a joined user namespace, and forks once when the process has to be
// inside a pid or time namespace. Everything else stays in Go.
//
// In every other minirunc command the constructor pins the process to the
// CPU it runs on before Go starts its threads (so Go counts one CPU and
// runs one P), and widens the timer slack there and in init; the children
// a command starts, and the program init executes, get the original
// affinity and slack back (affinity.go).
//
// Environment (set by the parent, removed by the constructor):
//
//	_MINIRUNC_CGROUP_TASKS  v1 cgroup "tasks" files, one per line, the
//	                   process writes "0" to first, moving itself (see
//	                   cgroup.Placement)
//	_MINIRUNC_SETNS    comma-separated fds of namespace files to join, user first
//	_MINIRUNC_UNSHARE  clone flags of namespaces to create after joining
//	_MINIRUNC_FORK     "1": fork (CLONE_PARENT) so the child is in the new
//	                   pid/time namespace; the intermediate reports the
//	                   child's pid on the sync socket and exits
//	_MINIRUNC_ROOT     "1": setresuid(0) after joining a user namespace
//	_MINIRUNC_SYNCFD   the sync socket, also used by Go init
//
// Messages the constructor writes on the sync socket, one JSON per line:
// {"type":"usermap"} after creating a user namespace (the parent writes the
// id maps and answers with one newline byte), and {"type":"pid","pid":N}
// from the intermediate after a fork.
package nsenter

/*
#cgo CFLAGS: -Wall -Wextra -O2
extern void minirunc_nsenter(void);
void __attribute__((constructor)) minirunc_nsenter_init(void) { minirunc_nsenter(); }
*/
import "C"

// Env names shared with the parent.
const (
	EnvCgroupTasks = "_MINIRUNC_CGROUP_TASKS"
	EnvSetns       = "_MINIRUNC_SETNS"
	EnvUnshare     = "_MINIRUNC_UNSHARE"
	EnvFork        = "_MINIRUNC_FORK"
	EnvRoot        = "_MINIRUNC_ROOT"
)

// Message types the constructor sends.
const (
	MsgUsermap = "usermap"
	MsgPid     = "pid"
)
