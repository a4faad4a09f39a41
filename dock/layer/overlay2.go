// Package layer is minidock's overlay2 storage driver, laid out on disk as
// Docker's: overlay2/<cache-id>/{diff,link,lower,work}, short links in
// overlay2/l/ so that a mount's lowerdir stays under a page, the read-only
// init layer with the placeholders every container needs, the safe
// unpacking of layer tarballs (nothing escapes the layer dir, OCI whiteouts
// become overlay whiteouts) and the tar of a layer's changes back out.
package layer

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// MaxLayers is the most layers an image may have (overlay's lower limit
// and the mount option's length).
const MaxLayers = 127

const (
	linkDir     = "l"
	idLength    = 26
	lowerFile   = "lower"
	linkFile    = "link"
	diffDirName = "diff"
	workDirName = "work"
)

// Driver is the overlay2 directory tree under Home (<root>/overlay2).
type Driver struct {
	Home string
}

// New makes the driver's home and link dir.
func New(home string) (*Driver, error) {
	if err := os.MkdirAll(filepath.Join(home, linkDir), 0o700); err != nil {
		return nil, err
	}
	return &Driver{Home: home}, nil
}

// RandomID returns 64 random hex digits (a cache-id or a container ID).
func RandomID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%x", b)
}

func shortID() string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, idLength)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// Dir is the layer's directory.
func (d *Driver) Dir(id string) string { return filepath.Join(d.Home, id) }

// DiffDir is the directory holding the layer's files.
func (d *Driver) DiffDir(id string) string { return filepath.Join(d.Home, id, diffDirName) }

// Exists reports whether the layer dir is there.
func (d *Driver) Exists(id string) bool {
	_, err := os.Stat(d.Dir(id))
	return err == nil
}

// Create makes the layer id on top of parent ("" for a bottom layer):
// diff, link and its l/ short link, and for a layer with a parent, work
// and lower (the parent's link followed by the parent's lower).
func (d *Driver) Create(id, parent string) (err error) {
	if strings.ContainsAny(id, "/") || id == "" || id == linkDir {
		return fmt.Errorf("invalid layer id %q", id)
	}
	dir := d.Dir(id)
	if err := os.Mkdir(dir, 0o710); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			d.Remove(id)
		}
	}()
	if err := os.Mkdir(filepath.Join(dir, diffDirName), 0o755); err != nil {
		return err
	}
	short := shortID()
	if err := os.Symlink(filepath.Join("..", id, diffDirName), filepath.Join(d.Home, linkDir, short)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, linkFile), []byte(short), 0o644); err != nil {
		return err
	}
	if parent == "" {
		return nil
	}
	if err := os.Mkdir(filepath.Join(dir, workDirName), 0o700); err != nil {
		return err
	}
	lower, err := d.lowerOf(parent)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, lowerFile), []byte(lower), 0o644)
}

// lowerOf is what a child of parent writes in its lower file.
func (d *Driver) lowerOf(parent string) (string, error) {
	link, err := os.ReadFile(filepath.Join(d.Dir(parent), linkFile))
	if err != nil {
		return "", fmt.Errorf("parent layer %s: %w", parent, err)
	}
	lower := linkDir + "/" + strings.TrimSpace(string(link))
	if pl, err := os.ReadFile(filepath.Join(d.Dir(parent), lowerFile)); err == nil {
		lower += ":" + strings.TrimSpace(string(pl))
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if n := strings.Count(lower, ":") + 1; n > MaxLayers+1 {
		return "", fmt.Errorf("max depth exceeded: %d layers", n)
	}
	return lower, nil
}

// Lower returns the layer's lower file ("l/A:l/B"), empty for a bottom layer.
func (d *Driver) Lower(id string) (string, error) {
	data, err := os.ReadFile(filepath.Join(d.Dir(id), lowerFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(data)), err
}

// Remove deletes the layer and its short link; a missing layer is no error.
func (d *Driver) Remove(id string) error {
	if id == "" || strings.Contains(id, "/") || id == linkDir {
		return fmt.Errorf("invalid layer id %q", id)
	}
	if link, err := os.ReadFile(filepath.Join(d.Dir(id), linkFile)); err == nil && len(link) > 0 {
		os.Remove(filepath.Join(d.Home, linkDir, strings.TrimSpace(string(link))))
	}
	return removeAll(d.Dir(id))
}

// removeAll removes a tree that may hold directories without write or
// search permission (layers are unpacked as they came).
func removeAll(path string) error {
	err := os.RemoveAll(path)
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	filepath.Walk(path, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// MountOptions is the overlay mount data for the read-write layer id,
// relative to Home (the mount is made from there).
func (d *Driver) MountOptions(id string) (string, error) {
	lower, err := d.Lower(id)
	if err != nil {
		return "", err
	}
	if lower == "" {
		return "", fmt.Errorf("layer %s has no lower layers", id)
	}
	return fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower,
		filepath.Join(id, diffDirName), filepath.Join(id, workDirName)), nil
}

// Mount mounts the read-write layer id (its lowers through the l/ links)
// on target. The relative paths keep the option under a page with 127
// layers; the mount is made with Home as working directory.
func (d *Driver) Mount(id, target string) error {
	opts, err := d.MountOptions(id)
	if err != nil {
		return err
	}
	return d.mountOverlay(target, opts, 0, 0o755)
}

// mountOverlay mounts an overlay with opts, whose paths are relative to
// Home, on target (made with mode when missing).
func (d *Driver) mountOverlay(target, opts string, flags uintptr, mode os.FileMode) error {
	if len(opts) >= os.Getpagesize()-1 {
		return fmt.Errorf("overlay mount options too long (%d bytes)", len(opts))
	}
	if err := os.MkdirAll(target, mode); err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		wd = "/"
	}
	if err := unix.Chdir(d.Home); err != nil {
		return err
	}
	err = unix.Mount("overlay", target, "overlay", flags, opts)
	if cerr := unix.Chdir(wd); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mount overlay on %s (%s): %w", target, opts, err)
	}
	return nil
}

// Unmount detaches target if something is mounted there.
func Unmount(target string) error {
	for {
		err := unix.Unmount(target, unix.MNT_DETACH)
		switch {
		case err == nil:
			continue // stacked mounts: until none is left
		case err == unix.EINVAL, errors.Is(err, unix.ENOENT):
			return nil
		default:
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
}

// Mounted reports whether target is a mount point.
func Mounted(target string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescape(f[4]) == target {
			return true
		}
	}
	return false
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Size is the disk usage of the layer's diff dir in bytes (files only).
func (d *Driver) Size(id string) int64 {
	var n int64
	filepath.Walk(d.DiffDir(id), func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// Layers lists the layer ids present under Home.
func (d *Driver) Layers() []string {
	ents, _ := os.ReadDir(d.Home)
	var out []string
	for _, e := range ents {
		if e.IsDir() && e.Name() != linkDir {
			out = append(out, e.Name())
		}
	}
	return out
}

// CleanLinks removes l/ links whose layer is gone.
func (d *Driver) CleanLinks() {
	ents, _ := os.ReadDir(filepath.Join(d.Home, linkDir))
	for _, e := range ents {
		p := filepath.Join(d.Home, linkDir, e.Name())
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			os.Remove(p)
		}
	}
}
