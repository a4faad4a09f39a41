package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sample is one timed command: wall and user+sys CPU in ms, peak RSS in
// KiB (RSS passes only).
type sample struct{ wall, cpu, rss float64 }

// The single operations, in report order.
const (
	opRun     = "run"
	opRunHost = "run (host netns)"
	opRunSecc = "run (Docker seccomp)"
	opCreate  = "create"
	opStart   = "start"
	opState   = "state"
	opList1   = "list (1)"
	opListN   = "list (N)" // renamed at report time with -list-n
	opDelete  = "delete"
	opExec    = "exec"
	opDelF    = "delete -f"
)

var singleOps = []string{opRun, opRunHost, opRunSecc, opCreate, opStart, opState, opList1, opListN, opDelete, opExec, opDelF}

// opTimeout bounds one command, so that a hung runtime ends the run
// (with cleanup) instead of hanging it.
const opTimeout = 2 * time.Minute

// command is a runtime command with /dev/null as stdin and stdout (a
// detached container holding the timer's stdout would delay it) in a
// process group of its own, so that a terminal's ^C reaches only the
// bench, which stops between commands and cleans up.
func command(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// timed runs path args once and measures it. With rss it runs under GNU
// time -f %M instead, for the peak RSS (that pass's wall and CPU include
// time's own fork and are not reported).
func timed(rss bool, path string, args ...string) (sample, error) {
	var rssFile string
	if rss {
		f, err := os.CreateTemp("", "bench-rss-")
		if err != nil {
			return sample{}, err
		}
		rssFile = f.Name()
		f.Close()
		defer os.Remove(rssFile)
		args = append([]string{"-f", "%M", "-o", rssFile, path}, args...)
		path = *timeBin
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A file, not a pipe: a detached container keeps its stderr open, and
	// waiting for a pipe's end would time the container.
	errFile, err := os.CreateTemp("", "bench-stderr-")
	if err != nil {
		return sample{}, err
	}
	defer os.Remove(errFile.Name())
	defer errFile.Close()
	cmd.Stderr = errFile
	t0 := time.Now()
	err = cmd.Run()
	wall := time.Since(t0)
	if err != nil {
		msg, _ := os.ReadFile(errFile.Name())
		return sample{}, fmt.Errorf("%s %s: %v: %s", path, strings.Join(args, " "), err, strings.TrimSpace(string(msg)))
	}
	// rusage of the waited child: the runtime and the children it waited
	// for. No maxrss from it: Go's vfork makes it include the bench's.
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	s := sample{wall: ms(wall), cpu: ms(cpu)}
	if rss {
		data, err := os.ReadFile(rssFile)
		if err != nil {
			return s, err
		}
		lines := strings.Fields(string(data))
		if len(lines) == 0 {
			return s, fmt.Errorf("%s: no %%M output", *timeBin)
		}
		s.rss, err = strconv.ParseFloat(lines[len(lines)-1], 64)
		if err != nil {
			return s, fmt.Errorf("%s: %%M output %q: %w", *timeBin, data, err)
		}
	}
	return s, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// round runs each single operation once for rt: timed (samples), or under
// GNU time for the peak RSS (rss).
func (b *bench) round(rt *runtimeUnderTest, r int, rss bool) error {
	if err := interrupted(); err != nil {
		return err
	}
	record := func(op string, s sample) {
		if rss {
			rt.rss[op] = append(rt.rss[op], s.rss)
		} else {
			rt.samples[op] = append(rt.samples[op], s)
		}
	}
	kind := "t"
	if rss {
		kind = "m"
	}
	id := fmt.Sprintf("%s-%s%d", rt.name, kind, r)
	runID, hostID, seccID, longID := id+"-run", id+"-host", id+"-secc", id+"-long"
	runB, err := b.bundle(runID, true)
	if err != nil {
		return err
	}
	hostB, err := b.bundle(hostID, false)
	if err != nil {
		return err
	}
	seccB, err := b.bundleSeccomp(seccID, true, true)
	if err != nil {
		return err
	}
	createB, err := b.bundle(id, true)
	if err != nil {
		return err
	}
	longB, err := b.bundle(longID, true, "/bin/sleep", "1000")
	if err != nil {
		return err
	}
	pidFile := filepath.Join(createB, "pid")
	base := []string{"--root", rt.root}
	type op struct {
		name string
		args []string
	}
	for _, o := range []op{
		{opRun, append(base, "run", "--bundle", runB, runID)},
		{opRunHost, append(base, "run", "--bundle", hostB, hostID)},
		{opRunSecc, append(base, "run", "--bundle", seccB, seccID)},
		{opCreate, append(base, "create", "--bundle", createB, "--pid-file", pidFile, id)},
		{opState, append(base, "state", id)},
		{opList1, append(base, "list")},
		{opListN, []string{"--root", rt.root50, "list"}},
		{opStart, append(base, "start", id)},
	} {
		s, err := timed(rss, rt.path, o.args...)
		if err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
		record(o.name, s)
	}
	// /bin/true has exited once the subreaper reaps it.
	data, _ := os.ReadFile(pidFile)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
	}
	s, err := timed(rss, rt.path, append(base, "delete", id)...)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	record(opDelete, s)
	// exec and delete --force need a running container.
	for _, args := range [][]string{{"create", "--bundle", longB, longID}, {"start", longID}} {
		if _, err := timed(false, rt.path, append(base, args...)...); err != nil {
			return err
		}
	}
	for _, o := range []op{
		{opExec, append(base, "exec", longID, "/bin/true")},
		{opDelF, append(base, "delete", "--force", longID)},
	} {
		s, err := timed(rss, rt.path, o.args...)
		if err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
		record(o.name, s)
	}
	reapAll()
	return nil
}

// The floor: what namespaces + chroot + /bin/true cost, with no runtime.
const (
	floorNet   = "unshare mnt/uts/ipc/pid/net --fork chroot /bin/true"
	floorNoNet = "unshare mnt/uts/ipc/pid --fork chroot /bin/true"
	refTrue    = "/bin/true"
)

var floorCmds = []string{floorNet, floorNoNet}

// floorLabel is a short name, for the RSS table's reference rows.
var floorLabel = map[string]string{floorNet: "floor (net)", floorNoNet: "floor (no net)", refTrue: "/bin/true"}

// floorRound measures the floor once (timed, or peak RSS with /bin/true
// as a reference too).
func (b *bench) floorRound(rss bool) error {
	if err := interrupted(); err != nil {
		return err
	}
	cmds := map[string][]string{
		floorNet:   {"unshare", "--mount", "--uts", "--ipc", "--pid", "--net", "--fork", "chroot", b.rootfs, "/bin/true"},
		floorNoNet: {"unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "chroot", b.rootfs, "/bin/true"},
		refTrue:    {"/bin/true"},
	}
	names := floorCmds
	if rss {
		names = append(names[:len(names):len(names)], refTrue)
	}
	for _, n := range names {
		c := cmds[n]
		path, err := exec.LookPath(c[0])
		if err != nil {
			return err
		}
		s, err := timed(rss, path, c[1:]...)
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		if rss {
			b.rssRef[n] = append(b.rssRef[n], s.rss)
		} else {
			b.floor[n] = append(b.floor[n], s)
		}
	}
	return nil
}

// listSet starts (up) or removes (!up) the -list-n running sleep
// containers in rt's second state root, 8-way parallel, untimed.
func (b *bench) listSet(rt *runtimeUnderTest, up bool) error {
	ids := make([]string, *listN)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-l%02d", rt.name, i)
	}
	return forEach(ids, *parallel, func(id string) error {
		if !up {
			_, err := timed(false, rt.path, "--root", rt.root50, "delete", "--force", id)
			return err
		}
		bundle, err := b.bundle(id, true, "/bin/sleep", "1000")
		if err != nil {
			return err
		}
		for _, args := range [][]string{{"create", "--bundle", bundle, id}, {"start", id}} {
			if _, err := timed(false, rt.path, append([]string{"--root", rt.root50}, args...)...); err != nil {
				return err
			}
		}
		return nil
	})
}
