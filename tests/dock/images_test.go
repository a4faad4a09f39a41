package dock

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func layerOf(t *testing.T, data []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// busyboxPlus is a linux/amd64 image of two layers, the busybox rootfs
// and top (a tar), whose config runs cmd, with env when it is given.
func busyboxPlus(t *testing.T, top []byte, cmd []string, env ...string) v1.Image {
	t.Helper()
	base, err := os.ReadFile(busyboxTar)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layerOf(t, base), layerOf(t, top))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Config.Cmd = cmd
	if len(env) > 0 {
		cf.Config.Env = env
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// twoLayerImage is busybox plus a layer that adds /data/new, deletes
// /etc/group (a whiteout) and makes /var opaque.
func twoLayerImage(t *testing.T) v1.Image {
	t.Helper()
	var b tarBuilder
	b.add(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	b.add(&tar.Header{Name: "data/new", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("top layer\n"))
	b.add(&tar.Header{Name: "data/hard", Typeflag: tar.TypeLink, Linkname: "data/new"}, nil)
	b.add(&tar.Header{Name: "etc/.wh.group", Typeflag: tar.TypeReg, Mode: 0o644}, nil)
	b.add(&tar.Header{Name: "var/.wh..wh..opq", Typeflag: tar.TypeReg, Mode: 0o644}, nil)
	return busyboxPlus(t, b.bytes(), []string{"sh"}, "PATH=/bin", "FROM_IMAGE=yes")
}

func TestLoadDockerSaveOCILayoutAndSaveRoundTrip(t *testing.T) {
	e := NewEnv(t)
	img := twoLayerImage(t)
	want, _ := img.ConfigName()
	archive := filepath.Join(e.dir, "two.tar")
	tag, _ := name.NewTag("two:v1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	out := e.MustRun("load", "-q", "-i", archive)
	if !strings.Contains(out, "Loaded image: two:v1") {
		t.Fatalf("load: %q", out)
	}
	if id := e.Inspect("two:v1")["Id"]; id != want.String() {
		t.Fatalf("image ID %v, want %s", id, want)
	}
	// layerdb: keyed by chain ID, with diff, cache-id, parent, size.
	diffs, _ := img.ConfigFile()
	d0, d1 := diffs.RootFS.DiffIDs[0].String(), diffs.RootFS.DiffIDs[1].String()
	chain1 := "sha256:" + sha256Hex(d0+" "+d1)
	ldb := filepath.Join(e.Root, "image/overlay2/layerdb/sha256")
	if got := readFile(t, filepath.Join(ldb, strings.TrimPrefix(d0, "sha256:"), "diff")); got != d0 {
		t.Fatalf("bottom diff %q", got)
	}
	top := filepath.Join(ldb, strings.TrimPrefix(chain1, "sha256:"))
	if got := readFile(t, filepath.Join(top, "parent")); got != d0 {
		t.Fatalf("top parent %q, want %s", got, d0)
	}
	cache := readFile(t, filepath.Join(top, "cache-id"))
	diff := filepath.Join(e.Root, "overlay2", cache, "diff")
	// Whiteouts became overlay whiteouts; the hard link stayed one.
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(diff, "etc/group"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Fatalf("etc/group is not a 0:0 whiteout: %v %o", err, st.Mode)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(diff, "var"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Fatalf("var not opaque: %v", err)
	}
	var a, b unix.Stat_t
	unix.Lstat(filepath.Join(diff, "data/new"), &a)
	unix.Lstat(filepath.Join(diff, "data/hard"), &b)
	if a.Ino != b.Ino {
		t.Fatal("hard link not kept")
	}
	lower := readFile(t, filepath.Join(e.Root, "overlay2", cache, "lower"))
	if !strings.HasPrefix(lower, "l/") || strings.Count(lower, ":") != 0 {
		t.Fatalf("lower %q", lower)
	}
	// The image runs, and sees its top layer's changes.
	out = e.MustRun("run", "--rm", "two:v1", "sh", "-c", "cat /data/new; test -e /etc/group || echo gone; echo $FROM_IMAGE")
	if out != "top layer\ngone\nyes\n" {
		t.Fatalf("run: %q", out)
	}

	// save, rmi, load: the same image ID.
	saved := filepath.Join(e.dir, "saved.tar")
	e.MustRun("save", "-o", saved, "two:v1")
	e.MustRun("rmi", "two:v1")
	if ents, _ := os.ReadDir(ldb); len(ents) != 0 {
		t.Fatalf("layers left after rmi: %v", ents)
	}
	e.MustRun("load", "-q", "-i", saved)
	if id := e.Inspect("two:v1")["Id"]; id != want.String() {
		t.Fatalf("after save/load: image ID %v, want %s", id, want)
	}

	// An OCI layout directory, tagged by its ref.name annotation.
	lp := filepath.Join(e.dir, "layout")
	p, err := layout.Write(lp, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "oci/two:v2"})); err != nil {
		t.Fatal(err)
	}
	out = e.MustRun("load", "-q", "-i", lp)
	if !strings.Contains(out, "oci/two:v2") {
		t.Fatalf("load layout: %q", out)
	}
	if id := e.Inspect("oci/two:v2")["Id"]; id != want.String() {
		t.Fatalf("layout image ID %v", id)
	}
	// Layers are stored once: two layer dirs for two tags.
	if ents, _ := os.ReadDir(ldb); len(ents) != 2 {
		t.Fatalf("layerdb has %d entries, want 2", len(ents))
	}
	imgs := e.MustRun("images")
	if !strings.Contains(imgs, "oci/two") || !strings.Contains(imgs, "two ") {
		t.Fatalf("images: %s", imgs)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// hostileArchive is a docker save archive of busybox plus layer.
func hostileArchive(t *testing.T, e *Env, layer []byte, badDigest bool) string {
	t.Helper()
	base, _ := os.ReadFile(busyboxTar)
	img, err := mutate.AppendLayers(empty.Image, layerOf(t, base), layerOf(t, layer))
	if err != nil {
		t.Fatal(err)
	}
	if badDigest {
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.RootFS.DiffIDs[1] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
		img, _ = mutate.ConfigFile(img, cf)
	}
	p := filepath.Join(e.dir, "hostile.tar")
	tag, _ := name.NewTag("hostile:x")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHostileLayersRefused(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside")
	os.MkdirAll(outside, 0o755)
	cases := map[string]func() []byte{
		"traversal": func() []byte {
			var b tarBuilder
			b.add(&tar.Header{Name: "../../../../../../.." + outside + "/pwned", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x"))
			b.add(&tar.Header{Name: "/etc/../../x", Typeflag: tar.TypeLink, Linkname: "../../../../etc/shadow-nonexistent"}, nil)
			return b.bytes()
		},
		"symlink-escape": func() []byte {
			var b tarBuilder
			b.add(&tar.Header{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: outside}, nil)
			b.add(&tar.Header{Name: "evil/pwned", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x"))
			b.add(&tar.Header{Name: "hl", Typeflag: tar.TypeLink, Linkname: "/nonexistent-outside"}, nil)
			return b.bytes()
		},
	}
	for n, mk := range cases {
		t.Run(n, func(t *testing.T) {
			e := NewEnv(t)
			_, stderr, code := e.Run("load", "-q", "-i", hostileArchive(t, e, mk(), false))
			if code != 125 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("load hostile: exit %d: %q", code, stderr)
			}
			if _, err := os.Stat(filepath.Join(outside, "pwned")); err == nil {
				t.Fatal("a layer wrote outside its dir")
			}
			assertNoImages(t, e)
		})
	}
	t.Run("bad-digest", func(t *testing.T) {
		e := NewEnv(t)
		var b tarBuilder
		b.add(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x"))
		_, stderr, code := e.Run("load", "-q", "-i", hostileArchive(t, e, b.bytes(), true))
		if code != 125 || !strings.Contains(stderr, "digest") {
			t.Fatalf("bad digest: exit %d: %q", code, stderr)
		}
		assertNoImages(t, e)
	})
	t.Run("corrupted-archive", func(t *testing.T) {
		e := NewEnv(t)
		p := filepath.Join(e.dir, "junk.tar")
		data, _ := os.ReadFile(busyboxTar)
		os.WriteFile(p, data[:len(data)/3], 0o644)
		_, stderr, code := e.Run("load", "-i", p)
		if code != 125 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Fatalf("corrupted: exit %d: %q", code, stderr)
		}
		assertNoImages(t, e)
	})
}

// assertNoImages checks that nothing of a failed load is on disk.
func assertNoImages(t *testing.T, e *Env) {
	t.Helper()
	for _, d := range []string{"image/overlay2/layerdb/sha256", "image/overlay2/imagedb/content/sha256", "overlay2/l"} {
		if ents, _ := os.ReadDir(filepath.Join(e.Root, d)); len(ents) != 0 {
			t.Fatalf("%s left: %v", d, ents)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(e.Root, "overlay2"))
	if len(ents) > 1 {
		t.Fatalf("overlay2 dirs left: %v", ents)
	}
}
