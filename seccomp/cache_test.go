package seccomp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func profile(names ...string) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: names, Action: specs.ActErrno}},
	}
}

func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// A miss compiles what Compile compiles and files it; a hit is read from
// the file (a planted program of the same key comes back).
func TestCompileCachedHitAndMiss(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	s := profile("mkdir", "mkdirat")
	want, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := CompileCached(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.BPF(), want.BPF()) || got.flags != want.flags {
		t.Fatal("cached compile differs from Compile")
	}
	files := cacheFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("cache holds %v: want one entry", files)
	}
	key, err := cacheKey(s)
	if err != nil || files[0] != key {
		t.Fatalf("entry %q, key %q (%v)", files[0], key, err)
	}
	// Plant another profile's program under this key, well formed: the
	// next call must return it, which shows it reads the cache.
	other, err := Compile(profile("chmod"))
	if err != nil {
		t.Fatal(err)
	}
	writeEntry(dir, key, other.BPF())
	got, err = CompileCached(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.BPF(), other.BPF()) {
		t.Fatal("a well-formed entry was not used")
	}
	// Another profile has another key.
	if _, err := CompileCached(dir, profile("chmod")); err != nil {
		t.Fatal(err)
	}
	if n := len(cacheFiles(t, dir)); n != 2 {
		t.Fatalf("%d entries: want 2", n)
	}
}

// A damaged entry, or one filed under another key, is compiled again and
// replaced.
func TestCompileCachedBadEntry(t *testing.T) {
	dir := t.TempDir()
	s := profile("mkdir")
	want, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	key, err := cacheKey(s)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Compile(profile("chmod"))
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := func(path string) {
		writeEntry(dir, "x", other.BPF())
		os.Rename(filepath.Join(dir, "x"), path)
	}
	flipByte := func(path string) {
		writeEntry(dir, key, want.BPF())
		data, _ := os.ReadFile(path)
		data[len(data)-1] ^= 0xff
		os.WriteFile(path, data, 0o600)
	}
	truncate := func(path string) { os.WriteFile(path, []byte("short"), 0o600) }
	for name, damage := range map[string]func(string){"wrong key": wrongKey, "flipped byte": flipByte, "truncated": truncate} {
		path := filepath.Join(dir, key)
		damage(path)
		got, err := CompileCached(dir, s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.BPF(), want.BPF()) {
			t.Fatalf("%s: the damaged entry was loaded", name)
		}
		if raw, err := readEntry(path, key); err != nil || !bytes.Equal(raw, want.BPF()) {
			t.Fatalf("%s: entry not replaced (%v)", name, err)
		}
	}
}

// The cache keeps at most cacheMax entries, dropping the oldest.
func TestCompileCachedPrune(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	for i := 0; i < cacheMax+5; i++ {
		p := filepath.Join(dir, "old"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old.Add(time.Duration(i)*time.Second), old.Add(time.Duration(i)*time.Second))
	}
	s := profile("mkdir")
	if _, err := CompileCached(dir, s); err != nil {
		t.Fatal(err)
	}
	files := cacheFiles(t, dir)
	if len(files) != cacheMax {
		t.Fatalf("%d entries: want %d", len(files), cacheMax)
	}
	key, _ := cacheKey(s)
	have := map[string]bool{}
	for _, f := range files {
		have[f] = true
	}
	if !have[key] || have["oldaa"] || !have["old"+string(rune('a'+(cacheMax+4)%26))+string(rune('a'+(cacheMax+4)/26))] {
		t.Fatalf("entries %v: want the new one and the newest old ones", files)
	}
}

// An unwritable cache costs only the compile.
func TestCompileCachedUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	s := profile("mkdir")
	want, _ := Compile(s)
	got, err := CompileCached(filepath.Join(file, "cache"), s)
	if err != nil || !bytes.Equal(got.BPF(), want.BPF()) {
		t.Fatalf("CompileCached under a file: %v", err)
	}
}
