package dock

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCommitWhiteoutRoundTrip: a file added, one changed and one deleted in
// a container, a directory emptied and refilled (opaque); the committed
// image keeps all of it, the deletion as an OCI whiteout.
func TestCommitWhiteoutRoundTrip(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	e.MustRun("run", "--name", "c1", "busybox:local", "sh", "-c",
		"echo added > /etc/added; echo changed >> /etc/passwd; rm /etc/group; mkdir -p /var/x; rm -rf /var; mkdir /var; echo new > /var/only")
	id := strings.TrimSpace(e.MustRun("commit", "-m", "my change", "--change", "ENV COMMITTED=1", "c1", "committed:v1"))
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("commit printed %q", id)
	}
	out := e.MustRun("run", "--rm", "committed:v1", "sh", "-c",
		"cat /etc/added; tail -n1 /etc/passwd; test -e /etc/group && echo group-still-there; ls /var; echo $COMMITTED; test -e /.dockerenv && echo dockerenv")
	if want := "added\nchanged\nonly\n1\ndockerenv\n"; out != want {
		t.Fatalf("run of the committed image: %q, want %q", out, want)
	}
	img := e.Inspect("committed:v1")
	layers := img["RootFS"].(map[string]any)["Layers"].([]any)
	if len(layers) != 2 {
		t.Fatalf("committed image has %d layers", len(layers))
	}
	hist := img["History"].([]any)
	if c := hist[len(hist)-1].(map[string]any)["comment"]; c != "my change" {
		t.Fatalf("history: %v", hist)
	}
	// layerdb: the new layer under its chain ID, with the image's top
	// layer as parent, and its diff as recorded in the config.
	base := layers[0].(string)
	top := layers[1].(string)
	chain := "sha256:" + sha256Hex(base+" "+top)
	dir := filepath.Join(e.Root, "image/overlay2/layerdb/sha256", strings.TrimPrefix(chain, "sha256:"))
	if got := readFile(t, filepath.Join(dir, "diff")); got != top {
		t.Fatalf("layerdb diff %q, want %q", got, top)
	}
	if got := readFile(t, filepath.Join(dir, "parent")); got != base {
		t.Fatalf("layerdb parent %q, want %q", got, base)
	}
	// The layer's tar (through save) holds the OCI whiteouts, not the
	// overlay ones, and no init placeholder.
	names := layerNames(t, e, "committed:v1", top)
	for _, want := range []string{"etc/.wh.group", "var/.wh..wh..opq", "etc/added", "var/only"} {
		if !names[want] {
			t.Errorf("committed layer lacks %s: %v", want, names)
		}
	}
	for _, bad := range []string{".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab"} {
		if names[bad] {
			t.Errorf("committed layer holds the init placeholder %s", bad)
		}
	}
	// A commit of the committed image's container adds another layer and
	// the deletion still holds.
	e.MustRun("run", "--name", "c2", "committed:v1", "touch", "/second")
	e.MustRun("commit", "c2", "committed:v2")
	if out := e.MustRun("run", "--rm", "committed:v2", "sh", "-c", "ls /second; cat /etc/group 2>&1 || true"); !strings.Contains(out, "/second\n") || !strings.Contains(out, "No such file") {
		t.Fatalf("second commit: %q", out)
	}
	// Bad input: an unknown container, a bad reference.
	if _, stderr, code := e.Run("commit", "nope", "x:y"); code != 125 || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("commit of an unknown container: %d %q", code, stderr)
	}
	if _, stderr, code := e.Run("commit", "c1", "Bad:Ref:x"); code != 125 || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("commit to a bad reference: %d %q", code, stderr)
	}
}

// layerNames lists the entries of the image's layer diffID, from save.
func layerNames(t *testing.T, e *Env, ref, diffID string) map[string]bool {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "img.tar")
	e.MustRun("save", "-o", archive, ref)
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("layer %s not found in the saved archive: %v", diffID, err)
		}
		data, _ := io.ReadAll(tr)
		if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
			if zr, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
				data, _ = io.ReadAll(zr)
			}
		}
		if h.Typeflag != tar.TypeReg || "sha256:"+sha256Hex(string(data)) != diffID {
			continue
		}
		return tarNames(t, data)
	}
}

func tarNames(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[strings.TrimSuffix(h.Name, "/")] = true
	}
}

func TestExport(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	e.MustRun("run", "--name", "ex", "busybox:local", "sh", "-c", "echo hello > /root/file; rm /etc/group")
	out := filepath.Join(t.TempDir(), "rootfs.tar")
	e.MustRun("export", "-o", out, "ex")
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	names := tarNames(t, data)
	for _, want := range []string{"root/file", "bin/busybox", "bin/sh", "etc/passwd", "proc"} {
		if !names[want] {
			t.Errorf("export lacks %s", want)
		}
	}
	for _, bad := range []string{"etc/group", ".dockerenv", "etc/hostname", "etc/.wh.group"} {
		if names[bad] {
			t.Errorf("export holds %s", bad)
		}
	}
	// To stdout, the same archive; a running container exports too.
	stdout, _, code := e.Run("export", "ex")
	if code != 0 || stdout != string(data) {
		t.Fatalf("export to stdout differs (exit %d, %d bytes vs %d)", code, len(stdout), len(data))
	}
	e.MustRun("run", "-d", "--name", "live", "busybox:local", "sh", "-c", "echo up > /tmp/up; exec sleep 1000")
	e.WaitStatus("live", "running", 5*time.Second)
	waitFor(t, func() bool {
		stdout, _, _ := e.Run("export", "live")
		return tarNames(t, []byte(stdout))["tmp/up"]
	})
	if _, stderr, code := e.Run("export", "nope"); code != 125 || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("export of an unknown container: %d %q", code, stderr)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("timed out")
}

func TestCp(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "in.txt"), []byte("from host\n"), 0o640)
	os.MkdirAll(filepath.Join(host, "tree/sub"), 0o755)
	os.WriteFile(filepath.Join(host, "tree/sub/deep"), []byte("deep\n"), 0o644)
	// A stopped container (its filesystem mounted for the copy) ...
	e.MustRun("create", "--name", "cpc", "busybox:local", "sh", "-c",
		"cat /root/in.txt /copied/sub/deep; stat -c %a /root/in.txt; echo made > /tmp/out.txt; ln -s /../../../../../.. /tmp/esc; ln -s ../../../../.. /tmp/esc2; ln -s /etc /tmp/abs")
	e.MustRun("cp", filepath.Join(host, "in.txt"), "cpc:/root/")
	e.MustRun("cp", filepath.Join(host, "tree"), "cpc:/copied")
	out, _, _ := e.Run("start", "-a", "cpc")
	if want := "from host\ndeep\n640\n"; out != want {
		t.Fatalf("inside after cp in: %q, want %q", out, want)
	}
	// ... and out: a file into a dir, a dir under a new name.
	e.MustRun("cp", "cpc:/tmp/out.txt", host)
	if got := readFile(t, filepath.Join(host, "out.txt")); got != "made" {
		t.Fatalf("copied out: %q", got)
	}
	e.MustRun("cp", "cpc:/copied", filepath.Join(host, "back"))
	if got := readFile(t, filepath.Join(host, "back/sub/deep")); got != "deep" {
		t.Fatalf("dir copied out: %q", got)
	}
	// An absolute symlink is resolved inside the container's root.
	e.MustRun("cp", "cpc:/tmp/abs/passwd", filepath.Join(host, "passwd"))
	if got := readFile(t, filepath.Join(host, "passwd")); !strings.Contains(got, "user:x:1000") {
		t.Fatalf("passwd through /tmp/abs: %q", got)
	}
	// -L follows a symlink at the source: /tmp/abs is /etc.
	e.MustRun("cp", "-L", "cpc:/tmp/abs", filepath.Join(host, "etccopy"))
	if got := readFile(t, filepath.Join(host, "etccopy/group")); !strings.Contains(got, "user:x:1000") {
		t.Fatalf("cp -L of /tmp/abs: %q", got)
	}
	// Symlinks that climb out of the root are refused both ways, and
	// nothing is written outside.
	marker := filepath.Join("/tmp", "minidock-cp-escape-"+filepath.Base(host))
	defer os.Remove(marker)
	for _, args := range [][]string{
		{"cp", filepath.Join(host, "in.txt"), "cpc:/tmp/esc" + marker},
		{"cp", filepath.Join(host, "in.txt"), "cpc:/tmp/esc2" + marker},
		{"cp", "cpc:/tmp/esc/etc/passwd", filepath.Join(host, "leak")},
	} {
		_, stderr, code := e.Run(args...)
		t.Logf("%v: %s", args[len(args)-2:], strings.TrimSpace(stderr))
		if code != 125 || !strings.Contains(stderr, "escapes") || strings.Count(stderr, "\n") != 1 {
			t.Fatalf("%v: exit %d: %q", args, code, stderr)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("cp wrote outside the container")
	}
	if _, err := os.Stat(filepath.Join(host, "leak")); err == nil {
		t.Fatal("cp read from outside the container")
	}
	// A running container: copied in, seen inside at once.
	e.MustRun("run", "-d", "--name", "run1", "busybox:local", "sleep", "1000")
	e.WaitStatus("run1", "running", 5*time.Second)
	e.MustRun("cp", filepath.Join(host, "in.txt"), "run1:/tmp/live.txt")
	if out := e.MustRun("exec", "run1", "cat", "/tmp/live.txt"); out != "from host\n" {
		t.Fatalf("cp into a running container: %q", out)
	}
	if _, stderr, code := e.Run("cp", "run1:/no/such", host); code != 125 || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("cp of a missing file: %d %q", code, stderr)
	}
}

func TestStats(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	e.MustRun("run", "-d", "--name", "st", "--memory", "64m", "busybox:local", "sleep", "1000")
	e.WaitStatus("st", "running", 5*time.Second)
	out := e.MustRun("stats", "--no-stream", "st")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "CONTAINER ID") || !strings.Contains(lines[1], "st") ||
		!strings.Contains(lines[1], "/ 64MiB") || !strings.Contains(lines[1], "%") {
		t.Fatalf("stats: %q", out)
	}
	if f := strings.Fields(lines[1]); f[len(f)-1] != "1" {
		t.Fatalf("stats pids: %q", lines[1])
	}
	e.MustRun("stop", "-t", "1", "st")
	if _, stderr, code := e.Run("stats", "--no-stream", "st"); code != 125 || !strings.Contains(stderr, "not running") {
		t.Fatalf("stats of a stopped container: %d %q", code, stderr)
	}
}
