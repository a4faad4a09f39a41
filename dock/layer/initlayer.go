package layer

import (
	"os"
	"path/filepath"
	"strings"
)

// InitEntries are the init layer's placeholders: what every container
// needs and that must never be committed or exported. "dir" and "file"
// are empty ones; anything else is a symlink target.
var InitEntries = []struct{ Path, Kind string }{
	{"/dev/pts", "dir"},
	{"/dev/shm", "dir"},
	{"/proc", "dir"},
	{"/sys", "dir"},
	{"/.dockerenv", "file"},
	{"/etc/resolv.conf", "file"},
	{"/etc/hosts", "file"},
	{"/etc/hostname", "file"},
	{"/dev/console", "file"},
	{"/etc/mtab", "/proc/mounts"},
}

// IsInitPath reports whether p (absolute, cleaned) is an init placeholder.
func IsInitPath(p string) bool {
	for _, e := range InitEntries {
		if e.Path == p {
			return true
		}
	}
	return false
}

// FillInit writes the placeholders into the init layer's diff dir, a fresh
// empty directory (the image layers are not mounted, so nothing an image
// holds, not even a symlinked /dev or /etc, is followed), then marks the
// layer committed.
func (d *Driver) FillInit(id string) error {
	diff := d.DiffDir(id)
	for _, e := range InitEntries {
		p := filepath.Join(diff, e.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		switch e.Kind {
		case "dir":
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case "file":
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
			if err != nil {
				return err
			}
			f.Close()
		default:
			if err := os.Symlink(e.Kind, p); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(d.Dir(id), "committed"), nil, 0o600)
}

// InitID is the init layer of a read-write layer.
func InitID(mountID string) string { return mountID + "-init" }

// IsInitLayer reports whether id names an init layer.
func IsInitLayer(id string) bool { return strings.HasSuffix(id, "-init") }
