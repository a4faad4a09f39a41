package integration

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Caller faults (issue 11): what the caller does wrong or suffers while
// minirunc works for it.

// TestCallerKilledDuringRun: the caller of a foreground run is SIGKILLed.
// As with runc's run, the container does not outlive it: its init has the
// parent-death signal, so the container dies with everything in its pid
// namespace; state then says stopped and a plain delete removes the rest.
// Run as root and as a user (a change of user clears the parent-death
// signal, which init sets again).
func TestCallerKilledDuringRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*specs.Spec)
	}{
		{"root", nil},
		{"user", func(s *specs.Spec) { s.Process.User = specs.User{UID: 1000, GID: 1000} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEnv(t)
			id := e.NewID()
			b := e.Bundle(id, []string{"sh", "-c", "sleep 1000 & echo up; sleep 1000"}, tc.mutate)
			r := e.startBgRun(b, id)
			r.waitLine("up")
			pid := statePid(e, id)
			if err := r.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			r.wait()
			waitFor(t, "the container's init to die with its run", func() bool { return pidGone(pid) })
			waitFor(t, "the container's processes to die", func() bool { return len(procsInCgroup(id)) == 0 })
			if st := e.State(id); st["status"] != "stopped" {
				t.Fatalf("state after the run was killed: %v, want stopped", st["status"])
			}
			e.MustRun("delete", id)
			requireNoResidue(t, e.Root, id)
		})
	}
}

// TestConsoleSocketClosedEarly: the console socket's owner accepts and
// closes at once (or is gone before create connects): create fails with
// one line and leaves nothing.
func TestConsoleSocketClosedEarly(t *testing.T) {
	t.Run("closed-after-accept", func(t *testing.T) {
		e := NewEnv(t)
		id := e.NewID()
		b := e.Bundle(id, []string{"true"}, terminal)
		path := filepath.Join(t.TempDir(), "console.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, err := l.Accept(); err == nil {
				c.Close()
			}
		}()
		out, stderr, code := e.Run("create", "--console-socket", path, "--bundle", b, id)
		wg.Wait()
		if code == 0 {
			t.Fatalf("create with a closed console socket succeeded: %s", out)
		}
		requireOneLine(t, stderr, "console socket")
		requireNoResidue(t, e.Root, id)
	})
	t.Run("gone-before-connect", func(t *testing.T) {
		e := NewEnv(t)
		id := e.NewID()
		b := e.Bundle(id, []string{"true"}, terminal)
		path := filepath.Join(t.TempDir(), "console.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close() // the path stays, nobody listens
		_, stderr, code := e.Run("create", "--console-socket", path, "--bundle", b, id)
		if code == 0 {
			t.Fatal("create with nobody on the console socket succeeded")
		}
		requireOneLine(t, stderr, path)
		requireNoResidue(t, e.Root, id)
	})
}

// mountTmpfs mounts a tmpfs on a new directory (in the tests' private
// mount namespace) and unmounts it at the end.
func mountTmpfs(t *testing.T, flags uintptr, data string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, data); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// TestPidFileReadOnlyDir: the pid file's directory is read-only (a
// read-only mount: root ignores mode bits). create fails clearly, and the
// container it had made is gone with its cgroups and init.
func TestPidFileReadOnlyDir(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "1000"}, nil)
	ro := mountTmpfs(t, unix.MS_RDONLY, "size=64k")
	out, stderr, code := e.Run("create", "--pid-file", filepath.Join(ro, "pid"), "--bundle", b, id)
	if code == 0 {
		t.Fatalf("create with a pid file on a read-only mount succeeded: %s", out)
	}
	requireOneLine(t, stderr, "pid file")
	if !strings.Contains(stderr, "read-only file system") {
		t.Errorf("stderr %q does not say why", stderr)
	}
	requireNoResidue(t, e.Root, id)
	if ents, _ := os.ReadDir(ro); len(ents) > 0 {
		t.Errorf("files left on the read-only mount: %v", ents)
	}
}

// TestStateRootFull: --root on a tmpfs with no room left. create fails
// with one line naming the cause, nothing half-written stays in the root
// (no container dir, no temp state file), and no cgroup or process is
// left. Both ways to be full: no blocks and no inodes.
func TestStateRootFull(t *testing.T) {
	for _, tc := range []struct{ name, opts string }{
		{"blocks", "size=64k"},
		{"inodes", "nr_inodes=16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEnv(t)
			id := e.NewID()
			b := e.Bundle(id, []string{"sleep", "1000"}, nil)
			root := mountTmpfs(t, 0, tc.opts)
			// Fill it: one big file for blocks, empty files for inodes.
			if tc.name == "blocks" {
				f, err := os.Create(filepath.Join(root, "filler"))
				if err != nil {
					t.Fatal(err)
				}
				chunk := make([]byte, 4096)
				for {
					if _, err := f.Write(chunk); err != nil {
						break
					}
				}
				f.Close()
			} else {
				for i := 0; ; i++ {
					f, err := os.Create(filepath.Join(root, "f"+strconv.Itoa(i)))
					if err != nil {
						break
					}
					f.Close()
				}
			}
			before, _ := os.ReadDir(root)
			_, stderr, code := cliRun(t, nil, nil, "--root", root, "create", "--bundle", b, id)
			if code == 0 {
				t.Fatal("create on a full state root succeeded")
			}
			requireOneLine(t, stderr, "no space left on device")
			after, _ := os.ReadDir(root)
			if len(after) != len(before) {
				var names []string
				for _, a := range after {
					names = append(names, a.Name())
				}
				t.Errorf("state root changed by the failed create: %v", names)
			}
			requireNoResidue(t, root, id)
			if _, _, code := cliRun(t, nil, nil, "--root", root, "state", id); code == 0 {
				t.Error("state finds the container of the failed create")
			}
		})
	}
}

// TestSharedRootTwoVersions: two minirunc builds (this tree, and HEAD
// with another version string) share one --root at once: each lists,
// states, starts, execs into, kills and deletes the other's containers.
func TestSharedRootTwoVersions(t *testing.T) {
	other := otherVersionBinary(t)
	e := NewEnv(t)
	bins := []string{minirunc, other}
	ids := make([]string, 4)
	for i := range ids {
		ids[i] = e.NewID()
	}
	bundles := map[string]string{}
	for _, id := range ids {
		bundles[id] = e.Bundle(id, []string{"sleep", "1000"}, nil)
	}
	run := func(bin string, args ...string) (string, string, int) {
		cmd := exec.Command(bin, append([]string{"--root", e.Root}, args...)...)
		dir := t.TempDir()
		so, _ := os.Create(filepath.Join(dir, "o"))
		se, _ := os.Create(filepath.Join(dir, "e"))
		defer so.Close()
		defer se.Close()
		cmd.Stdout, cmd.Stderr = so, se
		err := cmd.Run()
		o, _ := os.ReadFile(so.Name())
		x, _ := os.ReadFile(se.Name())
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		return string(o), string(x), code
	}
	must := func(bin string, args ...string) string {
		o, x, code := run(bin, args...)
		if code != 0 {
			t.Errorf("%s %v: exit %d: %s", filepath.Base(bin), args, code, x)
		}
		return o
	}
	// Both create at once, in the same root.
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			must(bins[i%2], "create", "--bundle", bundles[id], id)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Each starts the other's containers, at once.
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			must(bins[(i+1)%2], "start", id)
		}()
	}
	wg.Wait()
	for _, bin := range bins {
		var listed []map[string]any
		if err := json.Unmarshal([]byte(must(bin, "list", "--format", "json")), &listed); err != nil {
			t.Fatalf("%s list: %v", bin, err)
		}
		if len(listed) != len(ids) {
			t.Errorf("%s lists %d containers, want %d", filepath.Base(bin), len(listed), len(ids))
		}
		for _, c := range listed {
			if c["status"] != "running" {
				t.Errorf("%s lists %v as %v", filepath.Base(bin), c["id"], c["status"])
			}
		}
		for _, id := range ids {
			var st map[string]any
			if err := json.Unmarshal([]byte(must(bin, "state", id)), &st); err != nil || st["status"] != "running" {
				t.Errorf("%s state %s: %v %v", filepath.Base(bin), id, st, err)
			}
			if o := must(bin, "exec", id, "echo", "hi"); o != "hi\n" {
				t.Errorf("%s exec %s: %q", filepath.Base(bin), id, o)
			}
		}
	}
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			must(bins[i%2], "kill", id, "KILL")
			must(bins[(i+1)%2], "delete", "--force", id)
		}()
	}
	wg.Wait()
	for _, id := range ids {
		requireNoResidue(t, e.Root, id)
	}
}

// otherVersionBinary builds HEAD (the last commit, without the working
// tree's changes) with a version string of its own.
func otherVersionBinary(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"git", "go", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is needed to build a second version: %v", tool, err)
		}
	}
	src := t.TempDir()
	archive := exec.Command("sh", "-c", `git -C ../.. archive HEAD | tar -x -C "$1"`, "sh", src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Skipf("git archive HEAD: %v %s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "minirunc-head")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=0.0.0-head", "-o", bin, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build HEAD: %v %s", err, out)
	}
	if out, err := exec.Command(bin, "--version").Output(); err != nil || !strings.Contains(string(out), "0.0.0-head") {
		t.Fatalf("the HEAD build says %q (%v)", out, err)
	}
	return bin
}
