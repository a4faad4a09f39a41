// Command bench measures minirunc against runc and crun in one run, on one
// busybox root file system, and prints medians and paired ratios (issue #9).
// It is a benchmark, not a test: it never fails on a number.
//
// Method. Every runtime gets the same operations in the same order; the
// runtimes are interleaved round by round and their order rotates each
// round, so that all of them see the same machine state. A ratio is the
// median of the per-round ratios (paired), for wall time and for the
// user+sys CPU time of the runtime's process tree (rusage of the waited
// child). The operations are:
//
//   - run /bin/true (pid, net, ipc, uts, mount namespaces, read-only root,
//     an absolute cgroupsPath of its own), and run without a network
//     namespace;
//   - create, state, list with 1 container, list with 50 running
//     containers present (a second state root), start, delete (stopped);
//   - exec /bin/true into a running sleep, delete --force of it;
//   - scale: 50 sleep containers, each with its own bundle and cgroup, up
//     (create+start) and down (delete --force), sequentially and 8-way
//     parallel, in a few rounds of their own, the runtime order rotating;
//   - peak RSS of each operation with GNU time %M, in extra passes so the
//     wall and CPU samples are not disturbed (Go's vfork makes a Go child's
//     maxrss include its parent's; /usr/bin/time is a small C program);
//   - the floor: unshare mnt/uts/ipc/pid(/net) --fork chroot rootfs
//     /bin/true, with and without --net.
//
// It re-executes itself in a private mount namespace. crun 1.8.1 refuses a
// hybrid cgroup host, so inside that namespace an empty file covers
// /sys/fs/cgroup/unified/cgroup.controllers for every runtime alike (host
// mounts are untouched). Detached containers get /dev/null for stdin and
// stdout (a container holding the timer's stdout delays it) and a file for
// stderr. Every container, cgroup (under /minirunc-bench in every
// hierarchy) and temporary directory is removed at the end, also after an
// error or SIGINT/SIGTERM.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgParent holds every container's cgroup, in every hierarchy.
const cgParent = "/minirunc-bench"

var (
	rounds      = flag.Int("rounds", 30, "rounds of every single operation")
	rssRounds   = flag.Int("rss-rounds", 5, "extra rounds measuring peak RSS through GNU time")
	scaleRounds = flag.Int("scale-rounds", 5, "rounds of the scale test")
	scaleN      = flag.Int("scale-n", 50, "containers in the scale test")
	listN       = flag.Int("list-n", 50, "containers present for the second list")
	parallel    = flag.Int("parallel", 8, "workers in the parallel scale test")
	markdown    = flag.Bool("markdown", true, "print the tables again as markdown at the end")
	mrBin       = flag.String("minirunc", "bin/minirunc", "minirunc binary")
	timeBin     = flag.String("time", "/usr/bin/time", "GNU time, for peak RSS")
)

// stopping is set by SIGINT, SIGTERM or SIGHUP; the loops check it between
// commands and return errInterrupted, and the deferred cleanup runs.
var stopping atomic.Bool

var errInterrupted = errors.New("interrupted")

func interrupted() error {
	if stopping.Load() {
		return errInterrupted
	}
	return nil
}

func main() {
	flag.Parse()
	if os.Getenv("MINIRUNC_BENCH_NS") == "" {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		args := append([]string{"unshare", "--mount", "--propagation", "private", self}, os.Args[1:]...)
		path, err := exec.LookPath("unshare")
		if err == nil {
			err = syscall.Exec(path, args, append(os.Environ(), "MINIRUNC_BENCH_NS=1"))
		}
		fmt.Fprintln(os.Stderr, "bench: re-exec in a mount namespace:", err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for s := range sigs {
			if !stopping.Swap(true) {
				fmt.Fprintf(os.Stderr, "\nbench: %v: stopping after the current command, then cleaning up\n", s)
			}
		}
	}()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "\nbench:", err)
		if errors.Is(err, errInterrupted) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// bench is one benchmark run: its work directory, bundles and runtimes.
type bench struct {
	work   string
	rootfs string
	tmpl   []byte // config.json from `minirunc spec`
	// seccomp is Docker's default profile for tmpl, decoded JSON.
	seccomp any
	rts     []*runtimeUnderTest
	floor   map[string][]sample // floor command -> per round
	// rssRef is the peak RSS of the reference commands (floor, /bin/true).
	rssRef map[string][]float64
}

// runtimeUnderTest is one runtime and its samples, indexed by round.
type runtimeUnderTest struct {
	name, path string
	// root holds the single operations' containers, root50 the list-N
	// containers, rootScale the scale test's.
	root, root50, rootScale string
	samples                 map[string][]sample  // op -> per round
	rss                     map[string][]float64 // op -> per RSS round, KiB
	scale                   map[string][]float64 // phase -> per scale round, ms
}

func (rt *runtimeUnderTest) roots() []string { return []string{rt.root, rt.root50, rt.rootScale} }

func run() (err error) {
	b := &bench{floor: map[string][]sample{}, rssRef: map[string][]float64{}}
	b.work, err = os.MkdirTemp("", "minirunc-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(b.work)
	defer removeCgroups()
	// As a subreaper the bench reaps detached containers itself, so it
	// knows when one has stopped without asking the runtime, and no
	// zombie outlives the run.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	defer reapAll()
	defer killCgroupProcs()
	coverNote := coverUnified(b.work)
	if err := b.makeRootfs(); err != nil {
		return err
	}
	mr, _ := filepath.Abs(*mrBin)
	for _, c := range [][2]string{{"minirunc", mr}, {"crun", "crun"}, {"runc", "runc"}} {
		p, err := exec.LookPath(c[1])
		if err != nil {
			fmt.Printf("note: %s not found, skipped\n", c[0])
			continue
		}
		dir := filepath.Join(b.work, "state-"+c[0])
		b.rts = append(b.rts, &runtimeUnderTest{name: c[0], path: p,
			root: dir + "/single", root50: dir + "/list", rootScale: dir + "/scale",
			samples: map[string][]sample{}, rss: map[string][]float64{}, scale: map[string][]float64{}})
	}
	if len(b.rts) == 0 || b.rts[0].name != "minirunc" {
		return fmt.Errorf("minirunc binary %s not found", mr)
	}
	defer b.removeContainers()
	haveTime := true
	if _, err := os.Stat(*timeBin); err != nil {
		fmt.Printf("note: %s missing (apt-get install time): no peak RSS\n", *timeBin)
		haveTime = false
	}
	printHeader(b, coverNote, haveTime)
	start := time.Now()

	fmt.Printf("setup: %d running sleep containers per runtime for list (%d)\n", *listN, *listN)
	for _, rt := range b.rts {
		if err := b.listSet(rt, true); err != nil {
			return fmt.Errorf("%s: list set: %w", rt.name, err)
		}
	}
	for r := 0; r < *rounds; r++ {
		progress("single operations", r, *rounds)
		for i := range b.rts {
			rt := b.rts[(i+r)%len(b.rts)]
			if err := b.round(rt, r, false); err != nil {
				return fmt.Errorf("%s: %w", rt.name, err)
			}
		}
		if err := b.floorRound(false); err != nil {
			return err
		}
	}
	for r := 0; haveTime && r < *rssRounds; r++ {
		progress("peak RSS passes", r, *rssRounds)
		for i := range b.rts {
			rt := b.rts[(i+r)%len(b.rts)]
			if err := b.round(rt, r, true); err != nil {
				return fmt.Errorf("%s (RSS pass): %w", rt.name, err)
			}
		}
		if err := b.floorRound(true); err != nil {
			return err
		}
	}
	for _, rt := range b.rts {
		if err := b.listSet(rt, false); err != nil {
			return fmt.Errorf("%s: list set: %w", rt.name, err)
		}
	}
	reapAll()
	for s := 0; s < *scaleRounds; s++ {
		progress("scale", s, *scaleRounds)
		if err := b.scaleRound(s); err != nil {
			return err
		}
	}
	fmt.Printf("done in %.0f s\n", time.Since(start).Seconds())
	b.report(haveTime)
	return nil
}

// progress prints "what: 1 2 3 ... n", one number per round.
func progress(what string, i, n int) {
	if i == 0 {
		fmt.Printf("%s (%d rounds):", what, n)
	}
	fmt.Printf(" %d", i+1)
	if i+1 == n {
		fmt.Println()
	}
}

// coverUnified hides cgroup2's controllers from crun 1.8.1, which refuses
// a hybrid host, by an empty file bound over cgroup.controllers in this
// private mount namespace, for every runtime alike.
func coverUnified(work string) string {
	const f = "/sys/fs/cgroup/unified/cgroup.controllers"
	st, err := os.Stat(f)
	if err != nil || !st.Mode().IsRegular() {
		return ""
	}
	empty := filepath.Join(work, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		return ""
	}
	if err := unix.Mount(empty, f, "", unix.MS_BIND, ""); err != nil {
		return "hybrid cgroup host, but covering " + f + " failed: " + err.Error() + " (crun may refuse)"
	}
	return "hybrid cgroup host (v1 controllers + cgroup2 at /sys/fs/cgroup/unified): crun 1.8.1 refuses it, so " +
		"an empty file covers " + f + " in the bench's private mount namespace, for every runtime alike (host mounts untouched)"
}

// removeContainers deletes --force whatever container is left in any of
// the runtimes' state roots.
func (b *bench) removeContainers() {
	for _, rt := range b.rts {
		for _, root := range rt.roots() {
			var ids []string
			if out, err := command(rt.path, "--root", root, "list", "-q").Output(); err == nil {
				ids = strings.Fields(string(out))
			} else {
				// runc, crun and minirunc keep a directory per container.
				ents, _ := os.ReadDir(root)
				for _, e := range ents {
					if e.IsDir() {
						ids = append(ids, e.Name())
					}
				}
			}
			for _, id := range ids {
				command(rt.path, "--root", root, "delete", "--force", id).Run()
			}
		}
	}
	reapAll()
}

// cgRun is this run's cgroup, under cgParent: engineers sharing the
// machine may run the bench at the same time, and the cleanup touches only
// this run's cgroups and processes.
var cgRun = fmt.Sprintf("%s/run-%d", cgParent, os.Getpid())

// cgroupDirs lists, in every cgroup hierarchy mounted in this namespace,
// the container cgroups under cgRun and cgRun itself.
func cgroupDirs() (subs, runs []string) {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		for i, x := range f {
			if x != "-" || i+1 >= len(f) || (f[i+1] != "cgroup" && f[i+1] != "cgroup2") {
				continue
			}
			d := filepath.Join(f[4], cgRun)
			if seen[d] {
				continue
			}
			seen[d] = true
			if _, err := os.Stat(d); err != nil {
				continue
			}
			runs = append(runs, d)
			ents, _ := os.ReadDir(d)
			for _, e := range ents {
				if e.IsDir() {
					subs = append(subs, filepath.Join(d, e.Name()))
				}
			}
		}
	}
	return subs, runs
}

// killCgroupProcs SIGKILLs the processes left in this run's cgroups:
// containers this run started whose runtime failed to remove them.
func killCgroupProcs() {
	subs, _ := cgroupDirs()
	killed := false
	for _, d := range subs {
		data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, s := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(s); err == nil && pid > 1 {
				unix.Kill(pid, unix.SIGKILL)
				killed = true
			}
		}
	}
	if killed {
		time.Sleep(100 * time.Millisecond)
		reapAll()
	}
}

// removeCgroups removes this run's cgroups, and cgParent when no other run
// uses it.
func removeCgroups() {
	subs, runs := cgroupDirs()
	for _, d := range subs {
		// A runtime may nest cgroups of its own: deepest first.
		var dirs []string
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i])
		}
	}
	for _, d := range runs {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			fmt.Fprintln(os.Stderr, "bench: cleanup:", err)
		}
		os.Remove(filepath.Dir(d)) // fails while another run uses it
	}
}

// reapAll reaps the containers that ended under this subreaper. Call it
// only when no command of the bench is running: it would steal its status.
func reapAll() {
	for {
		var ws unix.WaitStatus
		if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); err != nil || pid <= 0 {
			return
		}
	}
}
