package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Whiteout names of the OCI image spec.
const (
	WhiteoutPrefix = ".wh."
	WhiteoutOpaque = ".wh..wh..opq"
	opaqueXattr    = "trusted.overlay.opaque"
)

// Apply unpacks the tar stream r into dir (a layer's diff dir) without
// letting any entry reach outside it: every path is resolved with dir as
// its root (openat2 RESOLVE_IN_ROOT), so "..", absolute names and symlinks
// in parents all stay inside; hard links must name a file inside; OCI
// whiteouts become overlay whiteouts (a 0:0 char device, the opaque xattr).
// It returns the bytes of file content written.
func Apply(dir string, r io.Reader) (int64, error) {
	rootFd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(rootFd)
	a := &applier{root: rootFd, isRoot: os.Geteuid() == 0}
	tr := tar.NewReader(r)
	var size int64
	type dirTime struct {
		name string
		hdr  *tar.Header
	}
	var dirs []dirTime
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return size, fmt.Errorf("read layer tar: %w", err)
		}
		name := path.Clean("/" + hdr.Name)
		if name == "/" {
			continue
		}
		if err := a.entry(name, hdr, tr); err != nil {
			return size, fmt.Errorf("unpack %q: %w", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			size += hdr.Size
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTime{name, hdr})
		}
	}
	// Directory times last: entries written inside changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		dir, base := path.Split(dirs[i].name)
		if pfd, err := a.parent(dir, false); err == nil {
			setTimes(pfd, base, dirs[i].hdr)
			unix.Close(pfd)
		}
	}
	return size, nil
}

type applier struct {
	root   int
	isRoot bool
}

// parent opens the directory dir (a cleaned absolute path inside the
// layer) resolved inside the root, creating missing components as 0755.
func (a *applier) parent(dir string, create bool) (int, error) {
	rel := strings.Trim(dir, "/")
	if rel == "" {
		return unix.Dup(a.root)
	}
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(a.root, rel, how)
	if err == nil || !create || err != unix.ENOENT {
		return fd, err
	}
	// Create the missing parents one by one, each resolved in the root.
	cur := ""
	for _, comp := range strings.Split(rel, "/") {
		next := comp
		if cur != "" {
			next = cur + "/" + comp
		}
		fd, err := unix.Openat2(a.root, next, how)
		if err == unix.ENOENT {
			pfd, perr := a.parent(cur, false)
			if perr != nil {
				return -1, perr
			}
			err = unix.Mkdirat(pfd, comp, 0o755)
			unix.Close(pfd)
			if err != nil && err != unix.EEXIST {
				return -1, err
			}
			fd, err = unix.Openat2(a.root, next, how)
		}
		if err != nil {
			return -1, err
		}
		unix.Close(fd)
		cur = next
	}
	return unix.Openat2(a.root, rel, how)
}

func (a *applier) entry(name string, hdr *tar.Header, r io.Reader) error {
	dir, base := path.Split(name)
	pfd, err := a.parent(dir, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	if strings.HasPrefix(base, WhiteoutPrefix) {
		if base == WhiteoutOpaque {
			return setOpaque(pfd)
		}
		target := strings.TrimPrefix(base, WhiteoutPrefix)
		if target == "" || target == "." || target == ".." {
			return fmt.Errorf("invalid whiteout")
		}
		if err := removeAt(pfd, target); err != nil {
			return err
		}
		return unix.Mknodat(pfd, target, unix.S_IFCHR, 0)
	}

	// Replace what is there, unless a directory stays a directory.
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if !(hdr.Typeflag == tar.TypeDir && st.Mode&unix.S_IFMT == unix.S_IFDIR) {
			if err := removeAt(pfd, base); err != nil {
				return err
			}
		}
	}

	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && err != unix.EEXIST {
			return err
		}
	case tar.TypeReg:
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), base)
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return err
		}
	case tar.TypeLink:
		target := path.Clean("/" + hdr.Linkname)
		if target == "/" {
			return fmt.Errorf("hard link to the layer root")
		}
		tdir, tbase := path.Split(target)
		tfd, err := a.parent(tdir, false)
		if err != nil {
			return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
		}
		var tst unix.Stat_t
		if err := unix.Fstatat(tfd, tbase, &tst, unix.AT_SYMLINK_NOFOLLOW); err != nil || tst.Mode&unix.S_IFMT == unix.S_IFDIR {
			unix.Close(tfd)
			return fmt.Errorf("hard link target %q is not a file in the layer", hdr.Linkname)
		}
		err = unix.Linkat(tfd, tbase, pfd, base, 0)
		unix.Close(tfd)
		if err != nil {
			return err
		}
		return nil // a hard link shares the target's metadata
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if !a.isRoot && hdr.Typeflag != tar.TypeFifo {
			return nil // device nodes only as root
		}
		t := uint32(unix.S_IFIFO)
		switch hdr.Typeflag {
		case tar.TypeChar:
			t = unix.S_IFCHR
		case tar.TypeBlock:
			t = unix.S_IFBLK
		}
		if err := unix.Mknodat(pfd, base, t|mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return err
		}
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}

	if a.isRoot {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	for k, v := range hdr.PAXRecords {
		if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if err := setXattr(pfd, base, x, []byte(v)); err != nil && err != unix.ENOTSUP && err != unix.EPERM {
				return fmt.Errorf("xattr %s: %w", x, err)
			}
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// Mode after chown: chown clears the set-id bits.
		if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
			return err
		}
	}
	if hdr.Typeflag != tar.TypeDir {
		setTimes(pfd, base, hdr)
	}
	return nil
}

// setXattr sets an xattr on dirfd/name without following a symlink.
func setXattr(dirfd int, name, attr string, val []byte) error {
	return unix.Lsetxattr("/proc/self/fd/"+strconv.Itoa(dirfd)+"/"+name, attr, val, 0)
}

func setOpaque(pfd int) error {
	fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fsetxattr(fd, opaqueXattr, []byte("y"), 0)
}

func setTimes(pfd int, base string, hdr *tar.Header) {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	ts := []unix.Timespec{toTimespec(at), toTimespec(hdr.ModTime)}
	unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func toTimespec(t time.Time) unix.Timespec {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return unix.Timespec{Sec: 0}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// removeAt removes dirfd/name (a whole tree for a directory); a missing
// name is no error.
func removeAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR && err != unix.EPERM {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(fd), name)
	names, err := d.Readdirnames(-1)
	if err != nil {
		d.Close()
		return err
	}
	for _, n := range names {
		if err := removeAt(fd, n); err != nil {
			d.Close()
			return err
		}
	}
	d.Close()
	err = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}
