package dock

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

// randomLayerImage is busybox plus a layer of n random bytes (it does not
// compress, so its blob is about n bytes).
func randomLayerImage(t *testing.T, n int) v1.Image {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	var b tarBuilder
	b.add(&tar.Header{Name: "random", Typeflag: tar.TypeReg, Mode: 0o644}, data)
	return busyboxPlus(t, b.bytes(), []string{"sh"})
}

// runOnPty runs minidock with its stdout, stderr and stdin on a pty of
// 120 columns and returns what the terminal received.
func (e *Env) runOnPty(args ...string) (string, int) {
	e.t.Helper()
	master, slave := openPty(e.t)
	defer master.Close()
	unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120})
	cmd := e.command(args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	slave.Close()
	done := make(chan string, 1)
	go func() {
		var buf bytes.Buffer
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			buf.Write(b[:n])
			if err != nil {
				done <- buf.String()
				return
			}
		}
	}()
	timer := time.AfterFunc(90*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	master.SetReadDeadline(time.Now().Add(2 * time.Second))
	return <-done, code
}

var csiRE = regexp.MustCompile(`^\x1b\[([0-9]*)([A-Za-z])`)

// screen plays terminal output (text, \r, \n, cursor up/down, erase line)
// onto a screen and returns its lines: what the user sees in the end.
func screen(out string) []string {
	var lines [][]rune
	row, col := 0, 0
	for i := 0; i < len(out); {
		for len(lines) <= row {
			lines = append(lines, nil)
		}
		if m := csiRE.FindStringSubmatch(out[i:]); m != nil {
			n := 1
			if m[1] != "" {
				n = atoi(m[1])
			}
			switch m[2] {
			case "A":
				row -= n
			case "B":
				row += n
			case "K":
				lines[row] = nil
			}
			if row < 0 {
				row = 0
			}
			i += len(m[0])
			continue
		}
		switch c := out[i]; c {
		case '\r':
			col = 0
		case '\n':
			row++
		default:
			for len(lines[row]) <= col {
				lines[row] = append(lines[row], ' ')
			}
			lines[row][col] = rune(c)
			col++
		}
		i++
	}
	var res []string
	for _, l := range lines {
		if s := strings.TrimRight(string(l), " "); s != "" {
			res = append(res, s)
		}
	}
	return res
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func shortDigest(t *testing.T, l v1.Layer, blob bool) string {
	t.Helper()
	var h v1.Hash
	var err error
	if blob {
		h, err = l.Digest()
	} else {
		h, err = l.DiffID()
	}
	if err != nil {
		t.Fatal(err)
	}
	return h.Hex[:12]
}

// TestPullProgressOnTerminal: on a terminal, pull shows one line per layer
// rewritten in place (cursor movements), with Docker's bar and sizes, that
// ends as "Pull complete"; off a terminal the same pull prints one plain
// line per step.
func TestPullProgressOnTerminal(t *testing.T) {
	e := NewEnv(t)
	reg := startRegistry(t, "", "")
	img := randomLayerImage(t, 3<<20)
	ref := reg.push(t, "test/big:v1", img, nil)
	layers, _ := img.Layers()
	ids := []string{shortDigest(t, layers[0], true), shortDigest(t, layers[1], true)}

	out, code := e.runOnPty("pull", ref)
	if code != 0 {
		t.Fatalf("pull on a pty: exit %d: %q", code, out)
	}
	if !regexp.MustCompile(`\x1b\[\d+A\r\x1b\[2K` + ids[1] + `: Downloading \[=*>? *\] +[0-9.]+[kM]?B/3\.1[0-9]*MB`).MatchString(out) {
		t.Fatalf("no in-place Downloading bar of %s in %q", ids[1], out)
	}
	got := screen(out)
	want := []string{"v1: Pulling from test/big", ids[0] + ": Pull complete", ids[1] + ": Pull complete"}
	if len(got) != 5 || strings.Join(got[:3], "\n") != strings.Join(want, "\n") ||
		!strings.HasPrefix(got[3], "Digest: ") || !strings.HasPrefix(got[4], "Status: Downloaded newer image for ") {
		t.Fatalf("the terminal shows:\n%s\nwant:\n%s\nDigest...\nStatus...", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Off a terminal: plain lines, one per step, no escapes, no bars; a
	// layer already here is told so.
	e.MustRun("rmi", ref) // no image holds the layers: both come again
	plain := e.MustRun("pull", ref)
	wantPlain := "v1: Pulling from test/big\n" +
		ids[0] + ": Pulling fs layer\n" + ids[1] + ": Pulling fs layer\n" +
		ids[0] + ": Pull complete\n" + ids[1] + ": Pull complete\n"
	if !strings.HasPrefix(plain, wantPlain) || strings.Contains(plain, "\x1b") || strings.Contains(plain, "Downloading") {
		t.Fatalf("plain pull output:\n%s\nwant it to start with:\n%s", plain, wantPlain)
	}
	other := reg.push(t, "test/other:v1", markedImage(t, "other"), nil)
	again := e.MustRun("pull", other)
	if !strings.Contains(again, ids[0]+": Already exists\n") || strings.Contains(again, ids[0]+": Pull complete") {
		t.Fatalf("the shared busybox layer is not 'Already exists':\n%s", again)
	}
}

// TestLoadProgressOnTerminal: load shows the same in-place display, with
// each layer's tar size as the total.
func TestLoadProgressOnTerminal(t *testing.T) {
	e := NewEnv(t)
	img := randomLayerImage(t, 2<<20)
	archive := filepath.Join(e.dir, "r.tar")
	tag, _ := name.NewTag("rand:v1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ids := []string{shortDigest(t, layers[0], false), shortDigest(t, layers[1], false)}
	out, code := e.runOnPty("load", "-i", archive)
	if code != 0 {
		t.Fatalf("load on a pty: exit %d: %q", code, out)
	}
	if !regexp.MustCompile(`\x1b\[\d+A\r\x1b\[2K` + ids[1] + `: Loading layer \[=+\] +2\.0[0-9]*MB/2\.0[0-9]*MB`).MatchString(out) {
		t.Fatalf("no in-place full Loading layer bar of %s in %q", ids[1], out)
	}
	got := screen(out)
	want := []string{ids[0] + ": Load complete", ids[1] + ": Load complete", "Loaded image: rand:v1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the terminal shows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	e.MustRun("rmi", "rand:v1")
	plain := e.MustRun("load", "-i", archive)
	if want := ids[0] + ": Loading layer\n" + ids[0] + ": Load complete\n" + ids[1] + ": Loading layer\n" + ids[1] + ": Load complete\nLoaded image: rand:v1\n"; plain != want {
		t.Fatalf("plain load output %q, want %q", plain, want)
	}
}
