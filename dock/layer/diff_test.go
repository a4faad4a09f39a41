package layer

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWriteTarWhiteouts: an overlay upper dir's whiteouts and opaque dirs
// come out as OCI entries; init placeholders are left out.
func TestWriteTarWhiteouts(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root (whiteout devices, trusted xattrs)")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.MkdirAll(filepath.Join(dir, "var"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/added"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/hostname"), nil, 0o644)
	os.Link(filepath.Join(dir, "etc/added"), filepath.Join(dir, "etc/hard"))
	if err := unix.Mknod(filepath.Join(dir, "etc/gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(dir, "var"), opaqueXattr, []byte("y"), 0); err != nil {
		t.Skipf("trusted xattrs: %v", err)
	}
	var buf bytes.Buffer
	if err := WriteTar(&buf, dir, TarOptions{Whiteouts: true, Skip: SkipInit}); err != nil {
		t.Fatal(err)
	}
	got := map[string]*tar.Header{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
	}
	for _, n := range []string{"etc/", "etc/added", "etc/.wh.gone", "var/", "var/.wh..wh..opq"} {
		if got[n] == nil {
			t.Errorf("missing %s in %v", n, got)
		}
	}
	if h := got["etc/hard"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "etc/added" {
		t.Errorf("hard link: %+v", h)
	}
	for _, n := range []string{"etc/hostname", "etc/gone"} {
		if got[n] != nil {
			t.Errorf("%s should not be in the tar", n)
		}
	}
}
