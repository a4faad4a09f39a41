package seccomp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The compile cache. libseccomp takes about 15 ms of CPU to turn Docker's
// default profile into BPF, more than the rest of a container's start, and
// every container of a host gets the same few profiles. A compiled program
// is kept in a file named by a hash of everything the BPF depends on: the
// profile, the binary that compiled it (its libseccomp is linked in; a
// rebuilt or upgraded binary misses), libseccomp's version, the kernel
// and the architecture. Files are written whole (temp file + rename) and
// start with a hash of their name and BPF, so a reader sees a complete
// program filed under its own key or none; a bad file is a miss and is
// replaced.

// cacheFormat names this file layout and key; change it with either.
const cacheFormat = "minirunc seccomp cache 1\n"

// cacheMax bounds the entries; past it the oldest go.
const cacheMax = 64

// CompileCached returns the program for s from the cache directory dir,
// compiling it and storing it there on a miss. A cache that cannot be read
// or written costs only the compile.
func CompileCached(dir string, s *specs.LinuxSeccomp) (*Program, error) {
	key, err := cacheKey(s)
	if err != nil {
		return Compile(s)
	}
	path := filepath.Join(dir, key)
	if raw, err := readEntry(path, key); err == nil {
		if p, err := Decode(raw, s); err == nil {
			return p, nil
		}
	}
	p, err := Compile(s)
	if err != nil {
		return nil, err
	}
	writeEntry(dir, key, p.BPF()) // best effort: the program is right either way
	return p, nil
}

// cacheKey hashes what the compiled program depends on.
func cacheKey(s *specs.LinuxSeccomp) (string, error) {
	h := sha256.New()
	h.Write([]byte(cacheFormat))
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return "", err
	}
	fmt.Fprintf(h, "exe %d %d %d %d.%d\n", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
	maj, min, mic := libseccomp.GetLibraryVersion()
	fmt.Fprintf(h, "libseccomp %d.%d.%d %s\n", maj, min, mic, runtime.GOARCH)
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	h.Write(u.Release[:])
	h.Write(u.Machine[:])
	profile, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	h.Write(profile)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// entrySum binds a program to its key: a file renamed or copied to
// another key does not pass.
func entrySum(key string, raw []byte) [sha256.Size]byte {
	return sha256.Sum256(append([]byte(key+"\n"), raw...))
}

// readEntry returns a cached program's BPF if the file is whole and its
// key's.
func readEntry(path, key string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < sha256.Size {
		return nil, errors.New("short cache entry")
	}
	sum, raw := data[:sha256.Size], data[sha256.Size:]
	if got := entrySum(key, raw); !bytes.Equal(got[:], sum) {
		return nil, errors.New("cache entry does not match its hash")
	}
	return raw, nil
}

// writeEntry stores raw under key, atomically, after making room.
func writeEntry(dir, key string, raw []byte) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	prune(dir)
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return
	}
	sum := entrySum(key, raw)
	_, err = f.Write(append(sum[:], raw...))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, key))
	}
	if err != nil {
		os.Remove(f.Name())
	}
}

// prune removes the oldest entries (and temp files a killed writer left)
// so that one more fits under cacheMax.
func prune(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) < cacheMax {
		return
	}
	type entry struct {
		name string
		mod  int64
	}
	var all []entry
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			all = append(all, entry{e.Name(), fi.ModTime().UnixNano()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod < all[j].mod })
	for i := 0; i <= len(all)-cacheMax; i++ {
		os.Remove(filepath.Join(dir, all[i].name))
	}
}
