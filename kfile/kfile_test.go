package kfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadWrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	big := strings.Repeat("x", 10000) // more than one read
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, big); err != nil {
		t.Fatal(err)
	}
	got, err := Read(p)
	if err != nil || string(got) != big {
		t.Fatalf("Read = %d bytes, %v; want %d bytes", len(got), err, len(big))
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("Read of a missing file: %v, want ENOENT", err)
	}
	if err := Write(filepath.Join(t.TempDir(), "missing"), "1"); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("Write of a missing file: %v, want ENOENT (Write never creates)", err)
	}
}

func TestReadProc(t *testing.T) {
	// procfs files report size 0: Read must not trust the size.
	got, err := Read("/proc/self/stat")
	if err != nil || !strings.Contains(string(got), ")") {
		t.Fatalf("Read(/proc/self/stat) = %q, %v", got, err)
	}
}
