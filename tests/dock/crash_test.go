package dock

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// manyFilesLayer is a layer of n small files under many/dN/, slow enough
// to unpack (tens of thousands of files) that a test can kill its load.
func manyFilesLayer(n int) []byte {
	var b tarBuilder
	b.add(&tar.Header{Name: "many/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			b.add(&tar.Header{Name: fmt.Sprintf("many/d%d/", i/1000), Typeflag: tar.TypeDir, Mode: 0o755}, nil)
		}
		b.add(&tar.Header{Name: fmt.Sprintf("many/d%d/f%d", i/1000, i), Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x"))
	}
	return b.bytes()
}

// bigArchive writes a `docker save` archive of busybox plus a many-files
// layer, tagged big:v1.
func bigArchive(t *testing.T, dir string) (string, v1.Image) {
	t.Helper()
	img := busyboxPlus(t, manyFilesLayer(40000), []string{"sh"})
	p := filepath.Join(dir, "big.tar")
	tag, _ := name.NewTag("big:v1")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return p, img
}

// startDock starts minidock in the background with this env's roots.
func (e *Env) startDock(stdin io.Reader, args ...string) *exec.Cmd {
	e.t.Helper()
	cmd := e.command(args...)
	cmd.Stdin = stdin
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

func (e *Env) layerdbEntries() []string {
	ents, _ := os.ReadDir(filepath.Join(e.Root, "image", "overlay2", "layerdb", "sha256"))
	var out []string
	for _, ent := range ents {
		out = append(out, ent.Name())
	}
	return out
}

// overlayLayers lists the overlay2 layer dirs (not the l/ links dir).
func (e *Env) overlayLayers() []string {
	ents, _ := os.ReadDir(filepath.Join(e.Root, "overlay2"))
	var out []string
	for _, ent := range ents {
		if ent.Name() != "l" {
			out = append(out, ent.Name())
		}
	}
	return out
}

func (e *Env) incompleteEntries() []string {
	ents, _ := os.ReadDir(filepath.Join(e.Root, "image", "overlay2", "incomplete"))
	var out []string
	for _, ent := range ents {
		out = append(out, ent.Name())
	}
	return out
}

// unpacking reports a load that has stored its bottom layer and is in the
// middle of unpacking the many-files one.
func (e *Env) unpacking() bool {
	complete := 0
	for _, n := range e.layerdbEntries() {
		if !strings.HasPrefix(n, ".") {
			complete++
		}
	}
	if complete != 1 {
		return false
	}
	for _, l := range e.overlayLayers() {
		if ents, err := os.ReadDir(filepath.Join(e.Root, "overlay2", l, "diff", "many")); err == nil && len(ents) > 2 {
			return true
		}
	}
	return false
}

func waitUntil(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// assertRepaired checks that nothing of an interrupted load is shown or
// left once one command has run after it.
func assertRepaired(t *testing.T, e *Env, tag string) {
	t.Helper()
	out := e.MustRun("images")
	if strings.Contains(out, tag) || strings.Count(out, "\n") != 1 {
		t.Fatalf("images after the crash shows a partial image:\n%s", out)
	}
	if l := e.layerdbEntries(); len(l) != 0 {
		t.Fatalf("layerdb entries left after the next command: %v", l)
	}
	if l := e.overlayLayers(); len(l) != 0 {
		t.Fatalf("overlay2 dirs left after the next command: %v", l)
	}
	if l := e.incompleteEntries(); len(l) != 0 {
		t.Fatalf("incomplete work left after the next command: %v", l)
	}
	if links, _ := os.ReadDir(filepath.Join(e.Root, "overlay2", "l")); len(links) != 0 {
		t.Fatalf("l/ links left: %d", len(links))
	}
}

// TestCrashLoadRepairedByNextCommand: a load killed with SIGKILL in the
// middle of a layer leaves a stored bottom layer, a half-unpacked layer
// and its work marker; the next command (here `images`) shows no image and
// removes all of it; a new load succeeds.
func TestCrashLoadRepairedByNextCommand(t *testing.T) {
	e := NewEnv(t)
	archive, img := bigArchive(t, e.dir)
	load := e.startDock(nil, "load", "-q", "-i", archive)
	waitUntil(t, "the load to unpack its second layer", 60*time.Second, e.unpacking)
	load.Process.Kill()
	load.Wait()
	// The crash did leave work behind (or this test tests nothing).
	if len(e.layerdbEntries()) == 0 || len(e.overlayLayers()) < 2 || len(e.incompleteEntries()) != 1 {
		t.Fatalf("the killed load left: layerdb %v, overlay2 %v, incomplete %v", e.layerdbEntries(), e.overlayLayers(), e.incompleteEntries())
	}
	assertRepaired(t, e, "big")

	out := e.MustRun("load", "-q", "-i", archive)
	if !strings.Contains(out, "Loaded image: big:v1") {
		t.Fatalf("reload: %q", out)
	}
	want, _ := img.ConfigName()
	if id := e.Inspect("big:v1")["Id"]; id != want.String() {
		t.Fatalf("image ID %v, want %s", id, want)
	}
	if out := e.MustRun("run", "--rm", "big:v1", "sh", "-c", "ls /many/d39 | wc -l"); strings.TrimSpace(out) != "1000" {
		t.Fatalf("the reloaded image: %q", out)
	}
	if l := e.incompleteEntries(); len(l) != 0 {
		t.Fatalf("a clean load left work: %v", l)
	}
}

// TestCrashLoadLiveWorkUntouched: commands run while a load is in the
// middle of its work leave that work alone (its owner is alive and holds
// the lock), and the load finishes.
func TestCrashLoadLiveWorkUntouched(t *testing.T) {
	e := NewEnv(t)
	archive, _ := bigArchive(t, e.dir)
	load := e.startDock(nil, "load", "-q", "-i", archive)
	waitUntil(t, "the load to unpack its second layer", 60*time.Second, e.unpacking)
	before := e.layerdbEntries()
	// Another command opens the store meanwhile.
	if out := e.MustRun("images"); strings.Contains(out, "big") {
		t.Fatalf("images shows the image before its load is done:\n%s", out)
	}
	if !processAlive(load.Process.Pid) {
		t.Logf("the load finished before images did: the check below is weaker")
	}
	for _, l := range before {
		if _, err := os.Stat(filepath.Join(e.Root, "image", "overlay2", "layerdb", "sha256", l)); err != nil && !strings.HasPrefix(l, ".") {
			t.Fatalf("another command removed the live load's layer %s", l)
		}
	}
	if err := load.Wait(); err != nil {
		t.Fatalf("the load failed: %v", err)
	}
	if out := e.MustRun("images"); !strings.Contains(out, "big") {
		t.Fatalf("images after the load:\n%s", out)
	}
	if l := e.incompleteEntries(); len(l) != 0 {
		t.Fatalf("a clean load left work: %v", l)
	}
}

// TestCrashImportAndSpooledLoad: an import killed while it unpacks its
// stdin, and a load killed while it spools its stdin, are repaired by the
// next command.
func TestCrashImportAndSpooledLoad(t *testing.T) {
	e := NewEnv(t)
	big := manyFilesLayer(40000)

	pr, pw := pipe(t)
	imp := e.startDock(pr, "import", "-", "imported:v1")
	pr.Close()
	go func() {
		pw.Write(big[:len(big)/2]) // half, then nothing more: it stays mid-layer
	}()
	waitUntil(t, "the import to unpack", 60*time.Second, func() bool {
		for _, l := range e.overlayLayers() {
			if ents, err := os.ReadDir(filepath.Join(e.Root, "overlay2", l, "diff", "many")); err == nil && len(ents) > 2 {
				return true
			}
		}
		return false
	})
	imp.Process.Kill()
	pw.Close()
	imp.Wait()
	if len(e.overlayLayers()) == 0 || len(e.incompleteEntries()) != 1 {
		t.Fatalf("the killed import left: overlay2 %v, incomplete %v", e.overlayLayers(), e.incompleteEntries())
	}
	assertRepaired(t, e, "imported")

	archive, _ := bigArchive(t, e.dir)
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw = pipe(t)
	load := e.startDock(pr, "load", "-q")
	pr.Close()
	go func() { pw.Write(data[:len(data)/3]) }()
	waitUntil(t, "the load to spool its stdin", 60*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(e.Root, "image", "overlay2", "incomplete", "*", "stdin-*"))
		if len(m) != 1 {
			return false
		}
		st, err := os.Stat(m[0])
		return err == nil && st.Size() > 0
	})
	load.Process.Kill()
	pw.Close()
	load.Wait()
	assertRepaired(t, e, "big")
}

// pipe is an os.Pipe whose ends are closed at the end of the test (a
// *os.File stdin is handed to the child as it is, with no copying).
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// TestCrashClientKilled: a minidock client killed -9 takes nothing with
// it: an attached run's container goes on under its monitor, a stop in
// the middle of its -t wait leaves the container running, and the next
// commands report that truth and stop it.
func TestCrashClientKilled(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	run := e.startDock(nil, "run", "--name", "fg", "busybox:local", "sh", "-c", "echo started; while true; do sleep 0.1; done")
	waitUntil(t, "the attached run's container to run", 10*time.Second, func() bool {
		out, _, code := e.Run("inspect", "fg")
		var v []struct{ State struct{ Status string } }
		return code == 0 && jsonUnmarshal([]byte(out), &v) == nil && len(v) == 1 && v[0].State.Status == "running"
	})
	run.Process.Kill()
	run.Wait()
	time.Sleep(200 * time.Millisecond)
	if ps := e.MustRun("ps"); !strings.Contains(ps, "Up ") || !strings.Contains(ps, "fg") {
		t.Fatalf("ps after the attached run was killed: %s", ps)
	}
	if logs := e.MustRun("logs", "fg"); logs != "started\n" {
		t.Fatalf("logs: %q", logs)
	}
	// sh as PID 1 ignores SIGTERM: this stop waits its 30 seconds.
	stop := e.startDock(nil, "stop", "-t", "30", "fg")
	time.Sleep(500 * time.Millisecond)
	stop.Process.Kill()
	stop.Wait()
	if st := e.Inspect("fg")["State"].(map[string]any); st["Status"] != "running" {
		t.Fatalf("after a killed stop: %v", st)
	}
	if out := e.MustRun("exec", "fg", "echo", "alive"); out != "alive\n" {
		t.Fatalf("exec after a killed stop: %q", out)
	}
	start := time.Now()
	e.MustRun("stop", "-t", "0", "fg")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the second stop took %v", d)
	}
	if st := e.Inspect("fg")["State"].(map[string]any); st["Status"] != "exited" || st["ExitCode"] != float64(137) {
		t.Fatalf("after the second stop: %v", st)
	}
	e.MustRun("rm", "fg")
}
