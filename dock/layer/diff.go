package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TarOptions choose what a tree's tar holds.
type TarOptions struct {
	// Whiteouts converts overlay whiteouts (0:0 char devices) to OCI
	// ".wh.NAME" entries and opaque dirs to ".wh..wh..opq" (a layer diff).
	Whiteouts bool
	// Skip leaves out an entry (its absolute path in the tree) and,
	// for a directory, everything below it.
	Skip func(p string) bool
}

// SkipInit leaves out the init layer's placeholders (never committed).
func SkipInit(p string) bool { return IsInitPath(p) }

// SkipInitFiles leaves out the init layer's placeholder files and the
// mtab link but keeps its directories (an export still has /proc).
func SkipInitFiles(p string) bool {
	for _, e := range InitEntries {
		if e.Path == p {
			return e.Kind != "dir"
		}
	}
	return false
}

// WriteTar writes the tree under dir as a tar stream to w, names relative
// to dir, in a stable order. Nothing is followed: symlinks are stored as
// links and hard links inside the tree as tar hard links.
func WriteTar(w io.Writer, dir string, o TarOptions) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{}
	if err := writeTree(tw, dir, "/", o, links); err != nil {
		return err
	}
	return tw.Close()
}

func writeTree(tw *tar.Writer, dir, rel string, o TarOptions, links map[[2]uint64]string) error {
	ents, err := os.ReadDir(filepath.Join(dir, rel))
	if err != nil {
		return err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		p := path.Join(rel, n)
		if o.Skip != nil && o.Skip(p) {
			continue
		}
		isDir, err := writeEntry(tw, dir, p, o, links)
		if err != nil {
			return err
		}
		if isDir {
			if err := writeTree(tw, dir, p, o, links); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeEntry writes one entry; it reports a directory to descend into.
func writeEntry(tw *tar.Writer, dir, p string, o TarOptions, links map[[2]uint64]string) (bool, error) {
	full := filepath.Join(dir, p)
	name := strings.TrimPrefix(p, "/")
	var st unix.Stat_t
	if err := unix.Lstat(full, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil // gone while we walked
		}
		return false, err
	}
	fi, err := os.Lstat(full)
	if err != nil {
		return false, err
	}
	if o.Whiteouts && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
		return false, tw.WriteHeader(&tar.Header{
			Name: path.Join(path.Dir(name), WhiteoutPrefix+path.Base(name)), Typeflag: tar.TypeReg,
			Mode: 0o600, ModTime: fi.ModTime(), Format: tar.FormatPAX,
		})
	}
	if fi.Mode()&os.ModeSocket != 0 {
		return false, nil // tar has no sockets; Docker leaves them out too
	}
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		if link, err = os.Readlink(full); err != nil {
			return false, err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return false, fmt.Errorf("%s: %w", p, err)
	}
	hdr.Name = name
	hdr.Uname, hdr.Gname = "", ""
	hdr.Format = tar.FormatPAX
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	if fi.IsDir() {
		hdr.Name += "/"
	}
	addXattrs(full, hdr)
	key := [2]uint64{st.Dev, st.Ino}
	if fi.Mode().IsRegular() && st.Nlink > 1 {
		if first, ok := links[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			return false, tw.WriteHeader(hdr)
		}
		links[key] = name
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return false, err
	}
	if fi.Mode().IsRegular() {
		f, err := os.OpenFile(full, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return false, err
		}
		_, err = io.CopyN(tw, f, hdr.Size)
		f.Close()
		if err != nil {
			return false, fmt.Errorf("%s: %w", p, err)
		}
	}
	if fi.IsDir() && o.Whiteouts && isOpaque(full) {
		if err := tw.WriteHeader(&tar.Header{
			Name: path.Join(name, WhiteoutOpaque), Typeflag: tar.TypeReg,
			Mode: 0o600, ModTime: fi.ModTime(), Format: tar.FormatPAX,
		}); err != nil {
			return false, err
		}
	}
	return fi.IsDir(), nil
}

func isOpaque(p string) bool {
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(p, opaqueXattr, buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// addXattrs keeps a file's extended attributes, except overlay's own.
func addXattrs(p string, hdr *tar.Header) {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n <= 0 {
		return
	}
	for _, k := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if k == "" || strings.HasPrefix(k, "trusted.overlay.") {
			continue
		}
		val := make([]byte, 4096)
		m, err := unix.Lgetxattr(p, k, val)
		if err != nil {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = string(val[:m])
	}
}

// MountReadOnly mounts a read-only view of layer id and everything below
// it on target: the layer's diff dir becomes the top lower dir, so no
// upper or work dir is shared with the container's own mount.
func (d *Driver) MountReadOnly(id, target string) error {
	lower, err := d.Lower(id)
	if err != nil {
		return err
	}
	opts := "lowerdir=" + filepath.Join(id, diffDirName)
	if lower != "" {
		opts += ":" + lower
	} else {
		// overlay wants two lower dirs without an upper one
		empty := filepath.Join(id, "empty")
		if err := os.MkdirAll(filepath.Join(d.Home, empty), 0o700); err != nil {
			return err
		}
		opts += ":" + empty
	}
	return d.mountOverlay(target, opts, unix.MS_RDONLY, 0o700)
}
