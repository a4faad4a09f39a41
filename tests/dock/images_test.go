package dock

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	return busyboxLayers(t, [][]byte{top}, cmd, env...)
}

// busyboxLayers is a linux/amd64 image of the busybox rootfs and then
// tops (tars), whose config runs cmd, with env when it is given.
func busyboxLayers(t *testing.T, tops [][]byte, cmd []string, env ...string) v1.Image {
	t.Helper()
	base, err := os.ReadFile(busyboxTar)
	if err != nil {
		t.Fatal(err)
	}
	ls := []v1.Layer{layerOf(t, base)}
	for _, top := range tops {
		ls = append(ls, layerOf(t, top))
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
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
	// repositories.json names it; imagedb holds its config, whose sha256
	// is the ID.
	var repos struct{ Repositories map[string]map[string]string }
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(e.Root, "image/overlay2/repositories.json"))), &repos); err != nil ||
		repos.Repositories["two"]["two:v1"] != want.String() {
		t.Fatalf("repositories.json: %v %v", repos, err)
	}
	if cfg, err := os.ReadFile(filepath.Join(e.Root, "image/overlay2/imagedb/content/sha256", want.Hex)); err != nil || sha256Hex(string(cfg)) != want.Hex {
		t.Fatalf("imagedb content of %s: %v", want, err)
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

// manyLayerImage is busybox plus n-1 layers; layer i (from 1) adds
// /layers/i and rewrites /top with i. Layer 1 also holds symlinks where
// the init layer has placeholders (/etc/hosts, /etc/hostname to a file
// outside, /dev/console to /etc/passwd).
func manyLayerImage(t *testing.T, n int, outside string) v1.Image {
	t.Helper()
	var tops [][]byte
	for i := 1; i < n; i++ {
		var b tarBuilder
		b.add(&tar.Header{Name: "layers/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
		b.add(&tar.Header{Name: fmt.Sprintf("layers/%d", i), Typeflag: tar.TypeReg, Mode: 0o644}, nil)
		b.add(&tar.Header{Name: "top", Typeflag: tar.TypeReg, Mode: 0o644}, []byte(fmt.Sprintf("%d\n", i)))
		if i == 1 {
			b.add(&tar.Header{Name: "etc/hosts", Typeflag: tar.TypeSymlink, Linkname: outside}, nil)
			b.add(&tar.Header{Name: "etc/hostname", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../.." + outside}, nil)
			b.add(&tar.Header{Name: "dev/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
			b.add(&tar.Header{Name: "dev/console", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, nil)
		}
		tops = append(tops, b.bytes())
	}
	return busyboxLayers(t, tops, []string{"sh"})
}

// TestLayoutAtMostLayersAndInitLayer: an image of 127 layers, the most,
// loads; every layer is in layerdb under its chain ID with diff, parent
// (none for the bottom one), cache-id and size, and in overlay2 with its
// link, l/ short link and lower; a container's init layer holds the
// placeholders, whatever symlinks the image has there, and the overlay's
// lowerdir is the init layer, then the image's layers top to bottom. An
// image of 128 layers is refused and leaves nothing; a commit that would
// make a 128th layer too.
func TestLayoutAtMostLayersAndInitLayer(t *testing.T) {
	e := NewEnv(t)
	outside := filepath.Join(t.TempDir(), "host-file")
	if err := os.WriteFile(outside, []byte("host data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := manyLayerImage(t, 127, outside)
	archive := filepath.Join(e.dir, "many.tar")
	tag, _ := name.NewTag("many:v1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	e.MustRun("load", "-q", "-i", archive)

	cf, _ := img.ConfigFile()
	ldb := filepath.Join(e.Root, "image/overlay2/layerdb/sha256")
	ov := filepath.Join(e.Root, "overlay2")
	var links []string // the layers' short links, bottom first
	chain := ""
	for i, d := range cf.RootFS.DiffIDs {
		parent := chain
		if i == 0 {
			chain = d.String()
		} else {
			chain = "sha256:" + sha256Hex(chain+" "+d.String())
		}
		dir := filepath.Join(ldb, strings.TrimPrefix(chain, "sha256:"))
		if got := readFile(t, filepath.Join(dir, "diff")); got != d.String() {
			t.Fatalf("layer %d: diff %q, want %s", i, got, d)
		}
		if i == 0 {
			if _, err := os.Stat(filepath.Join(dir, "parent")); err == nil {
				t.Fatalf("the bottom layer has a parent file")
			}
		} else if got := readFile(t, filepath.Join(dir, "parent")); got != parent {
			t.Fatalf("layer %d: parent %q, want %s", i, got, parent)
		}
		if size := readFile(t, filepath.Join(dir, "size")); strings.Trim(size, "0123456789") != "" || size == "" {
			t.Fatalf("layer %d: size %q", i, size)
		}
		cache := readFile(t, filepath.Join(dir, "cache-id"))
		link := readFile(t, filepath.Join(ov, cache, "link"))
		if tgt, err := os.Readlink(filepath.Join(ov, "l", link)); err != nil || tgt != "../"+cache+"/diff" {
			t.Fatalf("layer %d: l/%s -> %q (%v), want ../%s/diff", i, link, tgt, err, cache)
		}
		lower, err := os.ReadFile(filepath.Join(ov, cache, "lower"))
		if i == 0 && err == nil {
			t.Fatalf("the bottom layer has a lower file: %q", lower)
		}
		if i > 0 {
			if want := lowerOf(links); string(lower) != want {
				t.Fatalf("layer %d: lower %q, want %q", i, lower, want)
			}
		}
		links = append(links, link)
	}
	if ents, _ := os.ReadDir(ldb); len(ents) != 127 {
		t.Fatalf("layerdb has %d layers, want 127", len(ents))
	}

	id := strings.TrimSpace(e.MustRun("run", "-d", "--name", "many", "many:v1", "sleep", "1000"))
	e.WaitStatus("many", "running", 5*time.Second)
	mounts := filepath.Join(e.Root, "image/overlay2/layerdb/mounts", id)
	mountID := readFile(t, filepath.Join(mounts, "mount-id"))
	if got := readFile(t, filepath.Join(mounts, "parent")); got != chain {
		t.Fatalf("mounts parent %q, want the top chain ID %s", got, chain)
	}
	initDiff := filepath.Join(ov, mountID+"-init", "diff")
	for _, p := range []struct{ path, kind string }{
		{"etc/hostname", "file"}, {"etc/hosts", "file"}, {"etc/resolv.conf", "file"}, {"dev/console", "file"}, {".dockerenv", "file"},
		{"dev/pts", "dir"}, {"dev/shm", "dir"}, {"proc", "dir"}, {"sys", "dir"},
	} {
		st, err := os.Lstat(filepath.Join(initDiff, p.path))
		if err != nil || (p.kind == "dir") != st.IsDir() || (p.kind == "file" && (!st.Mode().IsRegular() || st.Size() != 0)) {
			t.Fatalf("init layer %s: want an empty %s: %v %v", p.path, p.kind, st, err)
		}
	}
	if tgt, _ := os.Readlink(filepath.Join(initDiff, "etc/mtab")); tgt != "/proc/mounts" {
		t.Fatalf("init layer etc/mtab -> %q", tgt)
	}
	initLink := readFile(t, filepath.Join(ov, mountID+"-init", "link"))
	wantLower := "l/" + initLink + ":" + lowerOf(links)
	if lower := readFile(t, filepath.Join(ov, mountID, "lower")); lower != wantLower {
		t.Fatalf("rw layer lower %q, want %q", lower, wantLower)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if !strings.Contains(string(mi), "lowerdir="+wantLower+",") {
		t.Fatalf("no overlay mount with lowerdir=%s", wantLower)
	}
	// Inside: the top layer wins, all layers are there, and the image's
	// symlinks at the placeholders were not followed.
	out := e.MustRun("exec", "many", "sh", "-c",
		"cat /top; ls /layers | wc -l; test -L /etc/hosts || grep -c many /etc/hosts; test -L /etc/hostname || cat /etc/hostname; test -L /dev/console || echo console-not-a-link")
	if want := "126\n126\n1\n" + id[:12] + "\nconsole-not-a-link\n"; out != want {
		t.Fatalf("inside: %q, want %q", out, want)
	}
	if got := readFile(t, outside); got != "host data" {
		t.Fatalf("the host file behind the image's symlinks: %q", got)
	}
	// A 128th layer: by commit, or in a loaded image.
	_, stderr, code := e.Run("commit", "many", "many:v2")
	oneLine(t, "commit of a 127-layer container", stderr, code)
	e.MustRun("rm", "-f", "many")
	layersBefore, ldbBefore := e.overlayLayers(), e.layerdbEntries()
	var b tarBuilder
	b.add(&tar.Header{Name: "one-too-many", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x"))
	big, err := mutate.AppendLayers(img, layerOf(t, b.bytes()))
	if err != nil {
		t.Fatal(err)
	}
	tag, _ = name.NewTag("many:v3")
	if err := tarball.WriteToFile(archive, tag, big); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = e.Run("load", "-q", "-i", archive)
	oneLine(t, "load of 128 layers", stderr, code)
	if !strings.Contains(stderr, "at most 127") {
		t.Fatalf("load of 128 layers: %q", stderr)
	}
	if imgs := e.MustRun("images"); strings.Count(imgs, "\n") != 2 || strings.Contains(imgs, "v2") || strings.Contains(imgs, "v3") {
		t.Fatalf("images after the refused ones:\n%s", imgs)
	}
	if got := e.overlayLayers(); len(got) != len(layersBefore) {
		t.Fatalf("overlay2 dirs %d, before %d", len(got), len(layersBefore))
	}
	if got := e.layerdbEntries(); len(got) != len(ldbBefore) {
		t.Fatalf("layerdb entries %d, before %d", len(got), len(ldbBefore))
	}
}

// lowerOf is the lower file of a layer over the layers of links (bottom
// first): "l/" links top to bottom.
func lowerOf(links []string) string {
	var l []string
	for i := len(links) - 1; i >= 0; i-- {
		l = append(l, "l/"+links[i])
	}
	return strings.Join(l, ":")
}
