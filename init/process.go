package containerinit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"unsafe"

	"github.com/minirunc/minirunc/specconv"
	"github.com/minirunc/minirunc/syncpipe"
	"github.com/moby/sys/capability"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupProcess prepares the process the container will run: environment,
// rlimits, umask, user and groups, capabilities, no_new_privs, cwd, and
// closes every fd it does not hand on.
func setupProcess(cfg *syncpipe.Config) error {
	p := cfg.Spec.Process
	// CVE-2024-21626: nothing of the runtime's may reach the container.
	// Everything above the preserved fds closes at execve. This comes
	// first: close_range is newer than many seccomp profiles.
	if err := unix.CloseRange(uint(3+cfg.PreserveFDs), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("mark fds close-on-exec: %w", err)
	}
	if err := decodeSeccomp(cfg); err != nil {
		return err
	}
	os.Clearenv()
	for _, e := range p.Env {
		k, v, _ := strings.Cut(e, "=")
		os.Setenv(k, v)
	}
	if _, ok := os.LookupEnv("HOME"); !ok {
		os.Setenv("HOME", homeDir(int(p.User.UID)))
	}
	for _, rl := range p.Rlimits {
		lim := unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if err := unix.Prlimit(0, specconv.Rlimits[rl.Type], &lim, nil); err != nil {
			return fmt.Errorf("process.rlimits %s (soft %d, hard %d): %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	umask := 0o022
	if p.User.Umask != nil {
		umask = int(*p.User.Umask)
	}
	unix.Umask(umask)
	// Change to cwd while still privileged (the user may not be able to
	// reach it later); check it and find the program before a seccomp
	// filter can refuse getcwd or stat.
	cwdErr := unix.Chdir(p.Cwd)
	if cwdErr == nil {
		if err := verifyCwd(p.Cwd); err != nil {
			return err
		}
		if err := lookPath(p.Args[0]); err != nil {
			return err
		}
	}
	// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
	// now, before the capabilities go. Otherwise as late as possible.
	if !p.NoNewPrivileges {
		if err := loadSeccomp(cfg); err != nil {
			return err
		}
	}
	if err := setUser(p); err != nil {
		return err
	}
	if dieWithParent {
		// A change of user clears the parent-death signal: set it
		// again. A seccomp filter may refuse prctl by now; the container
		// then outlives its run, which the next delete cleans up.
		_ = armPdeathsig()
	}
	if cwdErr != nil {
		// Only the container's user may reach it: try again as the user.
		if err := unix.Chdir(p.Cwd); err != nil {
			return fmt.Errorf("process.cwd %s: %w", p.Cwd, cwdErr)
		}
		if err := verifyCwd(p.Cwd); err != nil {
			return err
		}
		if err := lookPath(p.Args[0]); err != nil {
			return err
		}
	}
	if p.ApparmorProfile != "" {
		if err := applyAppArmor(p.ApparmorProfile); err != nil {
			return err
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("process.noNewPrivileges: %w", err)
		}
	}
	return nil
}

// verifyCwd refuses a working directory outside the container's root
// (CVE-2024-21626: a cwd reached through a leaked fd shows as unreachable).
func verifyCwd(cwd string) error {
	if wd, err := unix.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("process.cwd %s: current directory is outside the container", cwd)
	}
	return nil
}

// lookPath resolves the program as execve will, so that a missing or
// non-executable one fails create with runc's words.
func lookPath(arg0 string) error {
	path, err := exec.LookPath(arg0)
	if err != nil && !errors.Is(err, exec.ErrDot) {
		return err
	}
	exe = path
	return nil
}

func homeDir(uid int) string {
	users, err := user.ParsePasswdFileFilter("/etc/passwd", func(u user.User) bool { return u.Uid == uid })
	if err == nil && len(users) > 0 && users[0].Home != "" {
		return users[0].Home
	}
	return "/"
}

// The credential calls below change this thread only, as the kernel's
// calls do. This is the thread that calls execve, and the program gets its
// credentials (execve ends every other thread), as it gets this thread's
// capabilities, no_new_privs and seccomp filter. Go's wrappers go through
// libc, which changes every thread of the process by signalling each and
// waiting for it: dozens of wakeups per container for threads execve
// destroys anyway.

// threadCall makes a credential syscall on this thread.
func threadCall(trap, a1, a2, a3 uintptr) error {
	if _, _, errno := unix.RawSyscall(trap, a1, a2, a3); errno != 0 {
		return errno
	}
	return nil
}

// threadSetgroups sets this thread's supplementary groups.
func threadSetgroups(gids []uint32) error {
	if len(gids) == 0 {
		return threadCall(unix.SYS_SETGROUPS, 0, 0, 0)
	}
	return threadCall(unix.SYS_SETGROUPS, uintptr(len(gids)), uintptr(unsafe.Pointer(&gids[0])), 0)
}

// setUser switches to the spec's uid, gid and groups and applies the
// capability sets. The bounding set is dropped first (that needs
// CAP_SETPCAP), and PR_SET_KEEPCAPS carries the permitted set across
// setuid so the spec's capabilities can still be raised after it.
func setUser(p *specs.Process) error {
	// No process.capabilities means no capabilities at all, as with runc.
	pc := p.Capabilities
	if pc == nil {
		pc = &specs.LinuxCapabilities{}
	}
	caps, err := capability.NewPid2(0)
	if err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	caps.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	set := func(which capability.CapType, names []string) {
		for _, n := range names {
			if c, ok := specconv.Capability(n); ok {
				caps.Set(which, c)
			}
		}
	}
	set(capability.BOUNDING, pc.Bounding)
	set(capability.EFFECTIVE, pc.Effective)
	set(capability.PERMITTED, pc.Permitted)
	set(capability.INHERITABLE, pc.Inheritable)
	set(capability.AMBIENT, pc.Ambient)
	if err := caps.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("apply bounding capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	u := p.User
	if err := threadSetgroups(u.AdditionalGids); err != nil && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("process.user.additionalGids: %w", err)
	} else if err != nil && len(u.AdditionalGids) > 0 {
		return fmt.Errorf("process.user.additionalGids: %w", err)
	}
	if err := threadCall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); err != nil {
		return fmt.Errorf("process.user.gid %d: %w", u.GID, err)
	}
	if err := threadCall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); err != nil {
		return fmt.Errorf("process.user.uid %d: %w", u.UID, err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("reset keep capabilities: %w", err)
	}
	if err := caps.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("unable to apply caps: %w", err)
	}
	if err := caps.Apply(capability.AMBS); err != nil {
		return fmt.Errorf("apply ambient capabilities: %w", err)
	}
	return nil
}

// applyAppArmor makes the next execve change to profile. A profile on a
// host without AppArmor is an error, not silently dropped.
func applyAppArmor(profile string) error {
	enabled, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if err != nil || !strings.HasPrefix(string(enabled), "Y") {
		return fmt.Errorf("process.apparmorProfile %q: AppArmor is not enabled on this host", profile)
	}
	// Through a verified procfs handle (CVE-2025-52881): the container's
	// /proc must not be able to send the label elsewhere.
	err = writeProcFile(threadSelf, "attr/apparmor/exec", "exec "+profile)
	if errors.Is(err, os.ErrNotExist) {
		err = writeProcFile(threadSelf, "attr/exec", "exec "+profile)
	}
	if err != nil {
		return fmt.Errorf("process.apparmorProfile %q: %w", profile, err)
	}
	return nil
}
