package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/sub"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), nil, 0o644)
	for name, target := range map[string]string{
		"abs": "/etc", "rel": "etc/sub", "up": "../../..", "absup": "/../etc",
		"etc/sub/back": "../passwd", "loop": "loop", "final": "/etc/passwd",
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		in, want   string
		followLast bool
	}{
		{"/", ".", false},
		{"/../../etc/passwd", "etc/passwd", false}, // the user's own ".." stops at the root
		{"/abs/passwd", "etc/passwd", false},
		{"/rel/back", "etc/sub/back", false},
		{"/rel/back", "etc/passwd", true},
		{"/final", "final", false},
		{"/final", "etc/passwd", true},
		{"/abs/new/file", "etc/new/file", false},
	} {
		got, err := ResolveIn(root, c.in, c.followLast)
		if err != nil || got != c.want {
			t.Errorf("ResolveIn(%q, %v) = %q, %v; want %q", c.in, c.followLast, got, err, c.want)
		}
	}
	for _, in := range []string{"/up/etc", "/absup/passwd", "/rel/../up"} {
		if _, err := ResolveIn(root, in, true); !errors.Is(err, ErrEscape) {
			t.Errorf("ResolveIn(%q): %v, want an escape", in, err)
		}
	}
	if _, err := ResolveIn(root, "/loop/x", true); err == nil {
		t.Error("a symlink loop resolved")
	}
}
