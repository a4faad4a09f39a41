package rootfs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptionsTmpcopyup(t *testing.T) {
	p := parseOptions([]string{"rw", "tmpcopyup", "size=1m"})
	if !p.copyUp || p.dataString() != "size=1m" {
		t.Fatalf("copyUp %v, data %q: tmpcopyup is runc's extension, not tmpfs data", p.copyUp, p.dataString())
	}
}

// TestCopyTree: what a tmpcopyup tmpfs starts with is a copy of the
// directory it covers: files, subdirectories, symlinks (not followed) and
// fifos, with their modes and owners.
func TestCopyTree(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(src, "sub", "deep"), 0o750)
	os.WriteFile(filepath.Join(src, "sub", "deep", "f"), []byte("deep file"), 0o640)
	os.WriteFile(filepath.Join(src, "top"), []byte("top file"), 0o755)
	os.Symlink("/etc/passwd", filepath.Join(src, "link"))
	if err := unix.Mkfifo(filepath.Join(src, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		os.Lchown(filepath.Join(src, "top"), 1000, 1001)
	}
	unix.Chmod(filepath.Join(src, "top"), 0o4755)
	s, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := copyTree(s, d); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "sub", "deep", "f")); string(b) != "deep file" {
		t.Errorf("sub/deep/f = %q", b)
	}
	for name, want := range map[string]os.FileMode{"sub": os.ModeDir | 0o750, "sub/deep/f": 0o640, "top": os.ModeSetuid | 0o755, "fifo": os.ModeNamedPipe | 0o600} {
		st, err := os.Lstat(filepath.Join(dst, name))
		if err != nil || st.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", name, st.Mode(), err, want)
		}
	}
	if l, err := os.Readlink(filepath.Join(dst, "link")); err != nil || l != "/etc/passwd" {
		t.Errorf("link -> %q, %v", l, err)
	}
	if os.Getuid() == 0 {
		var st unix.Stat_t
		unix.Lstat(filepath.Join(dst, "top"), &st)
		if st.Uid != 1000 || st.Gid != 1001 {
			t.Errorf("top owned by %d:%d, want 1000:1001", st.Uid, st.Gid)
		}
	}
}
