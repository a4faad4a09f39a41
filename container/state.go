// Package container owns a container's lifecycle and state: the state
// directory <root>/<id> with its lock, state.json and exec fifo; create (the
// parent side of the re-exec), start, kill, delete; and the status, which is
// derived from the init process and the fifo, never trusted from disk.
package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minirunc/minirunc/freezer"
	"github.com/minirunc/minirunc/kfile"
	"github.com/minirunc/minirunc/specconv"
	"github.com/minirunc/minirunc/syncpipe"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Errors callers string-match (containerd, Docker, Podman).
var (
	ErrNotExist   = errors.New("container does not exist")
	ErrNotRunning = errors.New("container not running")
)

// Status values.
const (
	Creating = "creating"
	Created  = "created"
	Running  = "running"
	Paused   = "paused"
	Stopped  = "stopped"
)

const (
	stateFile = "state.json"
	fifoName  = "exec.fifo"
)

// State is what <root>/<id>/state.json holds: the OCI state plus what later
// calls need to act on the container.
type State struct {
	OCIVersion    string            `json:"ociVersion"`
	ID            string            `json:"id"`
	Status        string            `json:"status"` // as last recorded; see Container.Status
	Pid           int               `json:"pid"`
	Bundle        string            `json:"bundle"`
	Rootfs        string            `json:"rootfs"`
	Created       time.Time         `json:"created"`
	Owner         string            `json:"owner"`
	Annotations   map[string]string `json:"annotations,omitempty"`
	InitStartTime uint64            `json:"initStartTime"`
	CgroupDirs    []string          `json:"cgroupDirs,omitempty"`
	NoNewKeyring  bool              `json:"noNewKeyring,omitempty"` // exec joins no session keyring either
	// OwnPidNS: init leads a pid namespace of its own, so the kernel
	// kills every other process of the container when init dies.
	OwnPidNS bool `json:"ownPidNs,omitempty"`
	// Hooks says whether the spec has poststart or poststop hooks, the
	// only ones start and delete run; without them neither reads the
	// spec. Unset in states written before it was.
	Hooks *bool `json:"hooks,omitempty"`
	// Config is the spec, kept raw and last: state, list and kill never
	// need it, and it is most of the file. decodeState stops before it;
	// config() reads it when wanted. save writes it.
	Config json.RawMessage `json:"config,omitempty"`
}

// Container is an opened, locked state directory.
type Container struct {
	Dir   string
	State State
	lock  *os.File
	spec  *specs.Spec // State.Config, decoded on first use
	// specRaw is spec's encoding while spec is as create read it, so
	// that saving does not encode it again (reflection over every spec
	// type, the first time in a process).
	specRaw []byte
	pspec   *specs.Spec // ProcessSpec's partial decoding
	// data is state.json as read, for config().
	data []byte
	// inCreate: read without the lock (List) while a live create held it.
	inCreate bool
}

// Spec is the container's spec. A config that cannot be decoded (a
// state written by something else) reads as an empty one.
func (c *Container) Spec() *specs.Spec {
	if c.spec == nil {
		var s specs.Spec
		if raw := c.config(); len(raw) > 0 {
			_ = json.Unmarshal(raw, &s)
		}
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		c.spec = &s
	}
	return c.spec
}

// ProcessSpec is the spec as exec needs it: the container's process, its
// namespaces and its seccomp profile, without decoding the rest (decoding
// makes encoding/json analyse every type it reaches, on first use, and
// mounts and hooks are most of a spec).
func (c *Container) ProcessSpec() *specs.Spec {
	if c.spec != nil {
		return c.spec
	}
	if c.pspec == nil {
		type view struct {
			Process *specs.Process `json:"process"`
			Linux   *struct {
				Namespaces []specs.LinuxNamespace `json:"namespaces"`
				Seccomp    *specs.LinuxSeccomp    `json:"seccomp"`
			} `json:"linux"`
		}
		var v view
		var err error
		if len(c.State.Config) == 0 && c.data != nil {
			// Straight from state.json: one pass over the spec, not
			// one to cut it out and another to decode it.
			w := struct {
				Config *view `json:"config"`
			}{&v}
			err = json.Unmarshal(c.data, &w)
		} else {
			err = json.Unmarshal(c.config(), &v)
		}
		if err != nil || v.Process == nil || v.Linux == nil {
			return c.Spec()
		}
		c.pspec = &specs.Spec{Process: v.Process, Linux: &specs.Linux{Namespaces: v.Linux.Namespaces, Seccomp: v.Linux.Seccomp}}
	}
	return c.pspec
}

// hooks returns the spec's hooks. start and delete want only these: none
// when the state says so, else, when the spec is not decoded yet, only
// its "hooks" member is.
func (c *Container) hooks() *specs.Hooks {
	if c.spec != nil {
		return c.spec.Hooks
	}
	if c.State.Hooks != nil && !*c.State.Hooks {
		return nil
	}
	raw := c.config()
	if len(raw) == 0 {
		return c.Spec().Hooks
	}
	var s struct {
		Hooks *specs.Hooks `json:"hooks"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return c.Spec().Hooks
	}
	return s.Hooks
}

// config is the spec as recorded, taken from state.json on first use.
func (c *Container) config() []byte {
	if len(c.State.Config) == 0 && c.data != nil {
		var v struct {
			Config json.RawMessage `json:"config"`
		}
		if json.Unmarshal(c.data, &v) == nil {
			c.State.Config = v.Config
		}
		c.data = nil
	}
	return c.State.Config
}

// decodeState decodes a state.json into st up to its "config" member,
// which is most of the file and which most commands never read. Config is
// State's last field, so every state minirunc wrote ends with it
// (TestDecodeStateRoundTrip keeps it so), and compact JSON spells the
// member `,"config":` at the top level. The same bytes can only appear as
// the key of a nested object (a quote inside a string is escaped); a cut
// there leaves that object open, so the head fails to decode and the next
// one is tried. A file without the member is decoded whole.
func decodeState(data []byte, st *State) error {
	member := []byte(`,"config":`)
	for off := 0; ; {
		i := bytes.Index(data[off:], member)
		if i < 0 {
			break
		}
		end := off + i
		head := append(data[:end:end], '}')
		if json.Unmarshal(head, st) == nil {
			return nil
		}
		*st = State{}
		off = end + len(member)
	}
	return json.Unmarshal(data, st)
}

// stateDir validates id and returns <root>/<id>.
func stateDir(root, id string) (string, error) {
	if err := specconv.ValidateID(id); err != nil {
		return "", err
	}
	return filepath.Join(root, id), nil
}

// lockDir takes a flock on dir. It fails with ErrNotExist when dir is gone,
// including when it was removed while we waited for the lock.
func lockDir(dir string, exclusive bool) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNotExist
		}
		return nil, err
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Nlink == 0 {
		f.Close()
		return nil, ErrNotExist
	}
	return f, nil
}

// Load opens and locks the container id under root and reads its state.
func Load(root, id string, exclusive bool) (*Container, error) {
	dir, err := stateDir(root, id)
	if err != nil {
		return nil, err
	}
	lk, err := lockDir(dir, exclusive)
	if err != nil {
		return nil, err
	}
	c := &Container{Dir: dir, lock: lk}
	data, err := kfile.Read(filepath.Join(dir, stateFile))
	if err != nil {
		c.Unlock()
		if errors.Is(err, unix.ENOENT) {
			// A create that died before writing any state: there is
			// nothing of it to act on but the directory.
			return nil, ErrNotExist
		}
		return nil, err
	}
	if err := decodeState(data, &c.State); err != nil {
		c.Unlock()
		return nil, fmt.Errorf("state of %s is corrupt: %w", id, err)
	}
	c.data = data
	return c, nil
}

// Unlock releases the lock.
func (c *Container) Unlock() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

// save writes state.json atomically: a temp file, then rename. No fsync:
// the failure to survive is a killed process, which rename covers; the
// state root is a tmpfs (/run) that a power loss empties anyway.
func (c *Container) save() error {
	c.config() // a state saved must keep its spec
	if c.spec != nil {
		h := c.spec.Hooks
		post := h != nil && len(h.Poststart)+len(h.Poststop) > 0
		c.State.Hooks = &post
	}
	if c.spec != nil && c.specRaw != nil {
		c.State.Config = c.specRaw
	} else if c.spec != nil {
		// The decoded spec may have changed (update): it is the truth.
		raw, err := json.Marshal(c.spec)
		if err != nil {
			return err
		}
		c.State.Config = raw
	}
	raw := c.State.Config
	c.State.Config = nil
	data, err := json.Marshal(&c.State)
	c.State.Config = raw
	if err != nil {
		return err
	}
	data = syncpipe.WithRawField(data, "config", raw)
	// One temp name is enough: every save holds the exclusive lock. A
	// temp file left by a killed save is truncated by the next.
	tmp := filepath.Join(c.Dir, ".state.tmp")
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("write state: %w", &os.PathError{Op: "open", Path: tmp, Err: err})
	}
	for len(data) > 0 {
		n, werr := unix.Write(fd, data)
		if werr != nil {
			err = werr
			break
		}
		data = data[n:]
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err == nil {
		err = replaceState(tmp, filepath.Join(c.Dir, stateFile))
	}
	if err != nil {
		unix.Unlink(tmp)
		return fmt.Errorf("write state %s: %w", filepath.Join(c.Dir, stateFile), err)
	}
	return nil
}

// pfExiting is PF_EXITING of the kernel's task flags.
const pfExiting = 0x4

// procStartTime reads field 22 of /proc/<pid>/stat, and whether the process
// is a zombie or exiting.
func procStartTime(pid int) (start uint64, zombie bool, err error) {
	data, err := kfile.Read("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, err
	}
	// comm may hold spaces and parentheses: fields start after the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, false, errors.New("malformed stat")
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	// A process in exit (PF_EXITING) counts as dead: a pid namespace's
	// init stays in exit until every process of its namespace is reaped.
	flags, _ := strconv.ParseUint(f[6], 10, 64)
	return start, f[0] == "Z" || f[0] == "X" || flags&pfExiting != 0, err
}

// initAlive reports whether the recorded init process still runs: same
// pid, same start time (so a recycled pid is never taken for it), not a
// zombie.
func (c *Container) initAlive() bool {
	if c.State.Pid <= 0 {
		return false
	}
	start, zombie, err := procStartTime(c.State.Pid)
	return err == nil && !zombie && start == c.State.InitStartTime
}

// Status derives the current status.
func (c *Container) Status() string {
	if c.inCreate {
		return Creating // its init may not even be cloned yet
	}
	if !c.initAlive() {
		return Stopped
	}
	if c.State.Status == Creating {
		// Only create records creating, and it holds the exclusive lock
		// until it records created or removes everything. Whoever reads
		// creating holds the lock, so that create died: the container
		// never came up and never will (delete kills its init).
		return Stopped
	}
	if c.frozen() {
		return Paused // a paused created container is paused, as in runc
	}
	if fi, err := os.Lstat(filepath.Join(c.Dir, fifoName)); err == nil && c.initHolds(fi) {
		return Created
	}
	return Running
}

// replaceState puts tmp in place of the state file, atomically. It swaps
// the two (the old state stays in tmp for the next save to overwrite)
// rather than renaming over: on ext4, a rename over a file forces the new
// one's writeback (auto_da_alloc) and each save would allocate and evict
// an inode, about 0.2 ms a save here. The first save, or a file system
// without exchange, renames.
func replaceState(tmp, state string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, state, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
		err = unix.Rename(tmp, state)
	}
	return err
}

// initHolds reports whether init still has the exec fifo open: it does
// until it executes the program (its fds on the fifo are close-on-exec).
// A start that died after opening the fifo leaves it behind with the
// program running. When init's fds cannot be read, the fifo decides.
func (c *Container) initHolds(fifo os.FileInfo) bool {
	want, ok := fifo.Sys().(*syscall.Stat_t)
	dir := "/proc/" + strconv.Itoa(c.State.Pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if !ok || err != nil {
		return true
	}
	for _, e := range ents {
		var st unix.Stat_t
		if unix.Stat(dir+"/"+e.Name(), &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			return true
		}
	}
	return false
}

// frozen reports whether the container's freezer (v1 freezer.state where
// the freezer controller is on v1, else v2 cgroup.freeze) is frozen.
func (c *Container) frozen() bool {
	st, err := freezer.GetState(c.State.CgroupDirs)
	return err == nil && st == freezer.Frozen
}

// OCIState is the state as `state` prints it (runc's field order).
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// OCI returns the state for printing, with the derived status; a stopped
// container shows pid 0.
func (c *Container) OCI() OCIState {
	st := c.Status()
	pid := c.State.Pid
	if st == Stopped {
		pid = 0
	}
	return OCIState{
		OCIVersion: c.State.OCIVersion, ID: c.State.ID, Pid: pid, Status: st,
		Bundle: c.State.Bundle, Rootfs: c.State.Rootfs, Created: c.State.Created,
		Owner: c.State.Owner, Annotations: c.State.Annotations,
	}
}

// specState is the runtime-spec state handed to hooks.
func (c *Container) specState(status string) *specs.State {
	return &specs.State{
		Version: c.State.OCIVersion, ID: c.State.ID, Status: specs.ContainerState(status),
		Pid: c.State.Pid, Bundle: c.State.Bundle, Annotations: c.State.Annotations,
	}
}

// ListMap loads every container under root and returns f of each, in the
// directory's order, one after the other: a command has one P (see
// main.go), and two goroutines on both CPUs measured no faster.
func ListMap[T any](root string, f func(*Container) T) ([]T, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []T
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if c, err := peek(root, e.Name()); err == nil {
			out = append(out, f(c))
		} // else gone, or a create still without state
	}
	return out, nil
}

// peek reads a container's state without waiting for its lock: state.json
// is replaced whole (rename), so it is always complete. Only a recorded
// "creating" needs the lock's word: held, the create is under way; free,
// the create died (and Status says stopped).
func peek(root, id string) (*Container, error) {
	dir, err := stateDir(root, id)
	if err != nil {
		return nil, err
	}
	data, err := kfile.Read(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	c := &Container{Dir: dir, data: data}
	if err := decodeState(data, &c.State); err != nil {
		return nil, err
	}
	if c.State.Status == Creating {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		defer unix.Close(fd)
		if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); errors.Is(err, unix.EWOULDBLOCK) {
			c.inCreate = true
		}
	}
	return c, nil
}

// RemoveStale removes the directory of a container whose create died before
// it wrote any state. A missing directory is not an error.
func RemoveStale(root, id string) error {
	dir, err := stateDir(root, id)
	if err != nil {
		return err
	}
	lk, err := lockDir(dir, true)
	if errors.Is(err, ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer lk.Close()
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err == nil {
		return nil // a create finished meanwhile; not stale
	}
	return os.RemoveAll(dir)
}
