package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// score counts TAP assertions.
type score struct{ ok, notOK, skip int }

func (s *score) add(o score) { s.ok += o.ok; s.notOK += o.notOK; s.skip += o.skip }

// outcome is one program's run.
type outcome struct {
	score
	exit     int
	timedOut bool
	tap      string
	plan     int // -1: none
	planSkip bool
	notes    []string
	broken   bool // crashed, timed out, bad or missing plan
}

// newWorkDir makes the directory programs run in: runtimetest and the
// rootfs tarball (they look for both in their cwd), and tmp/ for bundles.
func newWorkDir(s *suiteBuild) (string, error) {
	work, err := os.MkdirTemp("", "minirunc-oci-work-")
	if err != nil {
		return "", err
	}
	// Traversable like /tmp, so user-namespaced containers reach bundles.
	if err := os.Chmod(work, 0o755); err != nil {
		return "", err
	}
	if err := copyFile(filepath.Join(work, "runtimetest"), filepath.Join(s.dir, "runtimetest"), 0o755); err != nil {
		return "", err
	}
	if err := copyFile(filepath.Join(work, filepath.Base(s.rootfs)), s.rootfs, 0o644); err != nil {
		return "", err
	}
	if err := os.Mkdir(filepath.Join(work, "tmp"), 0o1777); err != nil {
		return "", err
	}
	return work, os.Chmod(filepath.Join(work, "tmp"), 0o1777)
}

func runProgram(s *suiteBuild, work, logs, rt, prog string, guard bool) *outcome {
	o := &outcome{plan: -1}
	ids := filepath.Join(work, "ids-"+prog)
	tapPath := filepath.Join(logs, prog+".tap")
	errPath := filepath.Join(logs, prog+".err")
	tapFile, _ := os.Create(tapPath)
	errFile, _ := os.Create(errPath)
	// A private mount and IPC namespace per program: a container without
	// namespaces of its own (linux_ns_itype) then cannot touch the host's
	// mounts, and what a program leaves mounted dies with it.
	cmd := exec.Command("unshare", "--mount", "--ipc", "--propagation", "private", filepath.Join(s.dir, "tests", prog))
	cmd.Dir = work
	g := "0"
	if guard {
		g = "1"
	}
	cmd.Env = append(os.Environ(), "RUNTIME="+filepath.Join(s.dir, "shim"), "MINIRUNC_OCI_RUNTIME="+rt,
		"MINIRUNC_OCI_IDS="+ids, "MINIRUNC_OCI_CGROUP_GUARD="+g, "TMPDIR="+filepath.Join(work, "tmp"))
	cmd.Stdout, cmd.Stderr = tapFile, errFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err := cmd.Start()
	if err == nil {
		timer := time.AfterFunc(*timeoutFlag, func() {
			o.timedOut = true
			killGroup(cmd.Process.Pid)
		})
		err = cmd.Wait()
		timer.Stop()
		killGroup(cmd.Process.Pid) // helpers the program left running
	}
	tapFile.Close()
	errFile.Close()
	if ee, ok := err.(*exec.ExitError); ok {
		o.exit = ee.ExitCode()
	} else if err != nil {
		o.exit = -1
		o.notes = append(o.notes, err.Error())
	}
	if n := cleanup(rt, ids); n > 0 {
		o.notes = append(o.notes, fmt.Sprintf("cleaned %d leftover container(s)", n))
	}
	// Never descend into a mount a program may have left.
	exec.Command("rm", "-rf", "--one-file-system", filepath.Join(work, "tmp")).Run()
	os.Mkdir(filepath.Join(work, "tmp"), 0o1777)
	os.Chmod(filepath.Join(work, "tmp"), 0o1777)
	data, _ := os.ReadFile(tapPath)
	o.tap = string(data)
	o.parse()
	if o.broken || o.notOK > 0 {
		if first := firstLine(errPath); first != "" {
			o.notes = append(o.notes, "stderr: "+first)
		}
	}
	return o
}

var (
	planRe  = regexp.MustCompile(`(?m)^1\.\.(\d+)(.*)$`)
	okRe    = regexp.MustCompile(`(?m)^ok( |$)`)
	notOKRe = regexp.MustCompile(`(?m)^not ok( |$)`)
	skipRe  = regexp.MustCompile(`(?mi)^ok[^#\n]*#\s*skip`)
	errRe   = regexp.MustCompile(`(?m)^\s+"error": `)
)

func (o *outcome) parse() {
	o.skip = len(skipRe.FindAllString(o.tap, -1))
	o.ok = len(okRe.FindAllString(o.tap, -1)) - o.skip
	o.notOK = len(notOKRe.FindAllString(o.tap, -1))
	if m := planRe.FindStringSubmatch(o.tap); m != nil {
		o.plan, _ = strconv.Atoi(m[1])
		o.planSkip = strings.Contains(strings.ToLower(m[2]), "skip")
	}
}

// judge applies the scoring rules: a crash, timeout, non-zero exit or a
// missing or short plan is one failure; programs that assert nothing (the
// hook programs) count one ok, or one failure when they print an error;
// negative programs pass by exiting 0 silently.
func (o *outcome) judge(negative bool) {
	points := o.ok + o.notOK + o.skip
	switch {
	case o.timedOut:
		o.broken = true
		o.notes = append(o.notes, "timed out")
	case negative:
		if points > 0 {
			o.notes = append(o.notes, fmt.Sprintf("runtimetest TAP ignored (%d ok, %d not ok)", o.ok, o.notOK))
		}
		o.score = score{}
		switch {
		case o.exit == 0 && points == 0:
			o.ok = 1
			o.notes = append(o.notes, "config rejected as it should be")
		case o.exit == 1:
			o.notOK = 1
			o.notes = append(o.notes, "config accepted")
		default:
			o.broken = true
			o.notes = append(o.notes, fmt.Sprintf("exit %d", o.exit))
		}
	case points == 0:
		switch {
		case o.exit != 0:
			o.broken = true
			o.notes = append(o.notes, fmt.Sprintf("exit %d", o.exit))
		case o.plan < 0:
			o.broken = true
			o.notes = append(o.notes, "no TAP output")
		case o.planSkip:
			o.skip = 1
		case errRe.MatchString(o.tap):
			o.notOK = 1
			o.notes = append(o.notes, "error diagnostic")
		default:
			o.ok = 1
		}
	default:
		switch {
		case o.exit != 0:
			o.broken = true
			o.notes = append(o.notes, fmt.Sprintf("exit %d", o.exit))
		case o.plan < 0:
			o.broken = true
			o.notes = append(o.notes, "no TAP plan")
		case o.plan != points:
			o.broken = true
			o.notes = append(o.notes, fmt.Sprintf("plan %d but %d assertions", o.plan, points))
		}
	}
	if o.broken {
		o.notOK++
	}
}

func (o *outcome) result() string {
	switch {
	case o.timedOut:
		return "TIMEOUT"
	case o.broken:
		return "ERROR"
	case o.notOK > 0:
		return "FAIL"
	case o.ok == 0 && o.skip > 0:
		return "SKIP"
	}
	return "PASS"
}

// cleanup kills and deletes containers a program left behind.
func cleanup(rt, idsFile string) int {
	data, _ := os.ReadFile(idsFile)
	n := 0
	for _, id := range strings.Fields(string(data)) {
		if exec.Command(rt, "state", id).Run() != nil {
			continue
		}
		n++
		exec.Command(rt, "delete", "--force", id).Run()
	}
	return n
}

func firstLine(path string) string {
	data, _ := os.ReadFile(path)
	line, _, _ := bytes.Cut(bytes.TrimSpace(data), []byte("\n"))
	s := string(line)
	if len(s) > 90 {
		s = s[:90] + "..."
	}
	return s
}

// removeSuiteCgroups removes the empty cgroups the suite's fixed
// cgroupsPaths leave at the hierarchy roots.
func removeSuiteCgroups() {
	mounts, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, m := range mounts {
		for _, d := range []string{"testdir/cgrouptest/container", "testdir/cgrouptest", "testdir", "cgrouptest"} {
			os.Remove(filepath.Join(m, d))
		}
	}
}
