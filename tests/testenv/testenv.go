// Package testenv is what the test suites in tests/ share: running the
// test binary in namespaces of its own (so that nothing a test mounts or
// configures reaches the host), finding a static busybox, the host's
// cgroup mounts, and removing a run's cgroup parent with a report of what
// a test left in it.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Reexec re-executes the test binary under `unshare <flags>
// --propagation private` unless the environment variable marker is set,
// which it sets for the new process. It returns only in that process.
func Reexec(marker string, flags ...string) {
	if os.Getenv(marker) != "" {
		return
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		fmt.Println("unshare (util-linux) is required:", err)
		os.Exit(1)
	}
	args := append(append([]string{"unshare"}, flags...), "--propagation", "private", os.Args[0])
	err = syscall.Exec(unshare, append(args, os.Args[1:]...), append(os.Environ(), marker+"=1"))
	fmt.Println("re-exec in new namespaces:", err)
	os.Exit(1)
}

// FindBusybox finds a static busybox, which works inside any rootfs.
func FindBusybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if out, err := exec.Command("ldd", p).CombinedOutput(); err != nil || bytes.Contains(out, []byte("not a dynamic")) {
			return p, nil
		}
	}
	return "", fmt.Errorf("a static busybox is required (apt-get install busybox-static)")
}

// CgroupMounts lists the host's cgroup mount points.
func CgroupMounts() []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		for i, x := range f {
			if x == "-" && i+1 < len(f) && (f[i+1] == "cgroup" || f[i+1] == "cgroup2") {
				out = append(out, f[4])
			}
		}
	}
	return out
}

// RemoveCgroupParent removes a run's cgroup parent (such as
// /minirunc-test/run-<pid>) in every hierarchy, reporting any cgroup a
// test left in it, and the shared top directory once no run uses it.
func RemoveCgroupParent(parent string) error {
	var errs []string
	for _, h := range CgroupMounts() {
		d := filepath.Join(h, parent)
		if _, err := os.Stat(d); err == nil {
			subs, _ := os.ReadDir(d)
			for _, s := range subs {
				if s.IsDir() {
					errs = append(errs, "leftover cgroup "+filepath.Join(d, s.Name()))
					os.Remove(filepath.Join(d, s.Name()))
				}
			}
			if err := os.Remove(d); err != nil {
				errs = append(errs, err.Error())
			}
		}
		os.Remove(filepath.Dir(d)) // fails while another run uses it
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
