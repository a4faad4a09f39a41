package image

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/minirunc/minirunc/dock/fsutil"
)

// Crash safety of the commands that write the store (load, pull, import,
// commit, create, rm, rmi). Each process that works on the store has a
// dir incomplete/<pid>-<start time>: it holds the process's scratch files
// (a load's spooled stdin, an unpacked OCI layout), a "locked" marker
// while it holds the store lock (its layers and configs may be half
// written), and "pending", the image configs it wrote and has not
// finished (tagged) yet. A clean end removes the dir. A kill -9 leaves it,
// and the next command that opens the store sees that its owner is gone:
// scratch is removed at once; a crash under the lock is repaired under
// the lock (taken without waiting, so that a live command's work is never
// touched): the pending images that got no tag are removed, then GC
// removes every layer, overlay2 dir and temp entry that no image or
// container holds.

func (s *Store) incompleteDir() string { return filepath.Join(s.base(), "incomplete") }

// WorkDir is this process's dir for scratch files, made on first use.
func (s *Store) WorkDir() (string, error) {
	d := filepath.Join(s.incompleteDir(), fsutil.Owner())
	return d, os.MkdirAll(d, 0o700)
}

// DoneWork removes this process's work dir once it is empty.
func (s *Store) DoneWork() {
	os.Remove(filepath.Join(s.incompleteDir(), fsutil.Owner()))
}

// StoreLock is the held store lock.
type StoreLock struct {
	s  *Store
	lk *fsutil.Lock
}

// Lock takes the store's lock; every change to images, layers and layer
// mounts records is made under it. While it is held, this process's work
// dir says so, so that a crash under it is repaired.
func (s *Store) Lock() (*StoreLock, error) {
	lk, err := fsutil.LockFile(filepath.Join(s.base(), ".lock"))
	if err != nil {
		return nil, err
	}
	wd, err := s.WorkDir()
	if err == nil {
		err = os.WriteFile(filepath.Join(wd, "locked"), nil, 0o600)
	}
	if err != nil {
		lk.Unlock()
		return nil, err
	}
	return &StoreLock{s: s, lk: lk}, nil
}

// Unlock ends the locked work cleanly and releases the lock.
func (l *StoreLock) Unlock() {
	if l == nil || l.lk == nil {
		return
	}
	wd := filepath.Join(l.s.incompleteDir(), fsutil.Owner())
	os.Remove(filepath.Join(wd, "pending"))
	os.Remove(filepath.Join(wd, "locked"))
	os.Remove(wd)
	l.lk.Unlock()
	l.lk = nil
}

// markPending records, before it is written, an image config this
// process adds, so that a crash before the image is finished removes it.
func (s *Store) markPending(id string) error {
	wd, err := s.WorkDir()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(wd, "pending"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(id + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// repair removes what commands killed while working on the store left;
// see above. It never waits: when a live command holds the lock, the
// repair is left to a later command.
func (s *Store) repair() {
	ents, err := os.ReadDir(s.incompleteDir())
	if err != nil || len(ents) == 0 {
		return
	}
	var crashed []string
	for _, e := range ents {
		if fsutil.OwnerAlive(e.Name()) {
			continue
		}
		dir := filepath.Join(s.incompleteDir(), e.Name())
		if _, err := os.Stat(filepath.Join(dir, "locked")); errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(dir) // scratch only
			continue
		}
		crashed = append(crashed, dir)
	}
	if len(crashed) == 0 {
		return
	}
	lk, ok, err := fsutil.TryLockFile(filepath.Join(s.base(), ".lock"))
	if err != nil || !ok {
		return
	}
	defer lk.Unlock()
	for _, dir := range crashed {
		data, _ := os.ReadFile(filepath.Join(dir, "pending"))
		for _, id := range strings.Fields(string(data)) {
			if h, err := hexOf(id); err == nil && len(s.TagsOf("sha256:"+h)) == 0 {
				os.Remove(filepath.Join(s.contentDir(), h))
			}
		}
	}
	// Layers of containers whose create or rm was cut short.
	for _, cid := range s.mountsRecords() {
		if _, err := os.Stat(filepath.Join(s.Root, "containers", cid)); errors.Is(err, os.ErrNotExist) {
			s.RemoveRW(cid)
		}
	}
	s.GC()
	// Temp entries of the atomic writes and of container creation, all
	// made under the lock.
	for _, pat := range []string{
		filepath.Join(s.base(), ".tmp-*"), filepath.Join(s.contentDir(), ".tmp-*"),
		filepath.Join(s.Root, "containers", ".tmp-*"), filepath.Join(s.Root, "containers", ".del-*"),
	} {
		if m, err := filepath.Glob(pat); err == nil {
			for _, p := range m {
				os.RemoveAll(p)
			}
		}
	}
	for _, dir := range crashed {
		os.RemoveAll(dir)
	}
}
