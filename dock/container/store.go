package container

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/minirunc/minirunc/dock/fsutil"
	"github.com/minirunc/minirunc/dock/image"
	"github.com/minirunc/minirunc/dock/network"
	"github.com/minirunc/minirunc/dock/runtime"
)

// Manager is the container store and its lifecycle.
type Manager struct {
	Root         string // the minidock root
	ExecRoot     string // run state (/run/minidock)
	CgroupParent string // containers' cgroupsPath parent
	Images       *image.Store
	RT           *runtime.Runtime
	Self         string         // the minidock binary, for the monitor
	GlobalArgs   []string       // the global flags the monitor is started with
	Net          network.Config // the bridge of --network bridge
}

// Dir is the container's dir under containers/.
func (m *Manager) Dir(id string) string { return filepath.Join(m.Root, "containers", id) }

// RunDir is the container's run dir under the exec root.
func (m *Manager) RunDir(id string) string { return filepath.Join(m.ExecRoot, id) }

// MergedDir is where the container's overlay is mounted.
func (m *Manager) MergedDir(c *Container) string {
	return filepath.Join(m.Images.Driver.Dir(c.MountID), "merged")
}

// BundleDir holds the OCI bundle's config.json.
func (m *Manager) BundleDir(id string) string { return filepath.Join(m.Dir(id), "bundle") }

// Lock takes the container's lock.
func (m *Manager) Lock(id string) (*fsutil.Lock, error) {
	return fsutil.LockFile(filepath.Join(m.Root, "containers", ".locks", id))
}

// ErrNotFound is a missing container.
var ErrNotFound = errors.New("no such container")

// Load reads config.v2.json and hostconfig.json of id.
func (m *Manager) Load(id string) (*Container, *HostConfig, error) {
	c := &Container{}
	if err := fsutil.ReadJSON(filepath.Join(m.Dir(id), "config.v2.json"), c); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, nil, err
	}
	hc := &HostConfig{}
	if err := fsutil.ReadJSON(filepath.Join(m.Dir(id), "hostconfig.json"), hc); err != nil {
		return nil, nil, err
	}
	return c, hc, nil
}

// Save writes config.v2.json atomically. Hold the container's lock.
func (m *Manager) Save(c *Container) error {
	return fsutil.WriteJSON(filepath.Join(m.Dir(c.ID), "config.v2.json"), c)
}

// Update changes the container under its lock.
func (m *Manager) Update(id string, fn func(c *Container) error) (*Container, error) {
	l, err := m.Lock(id)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	c, _, err := m.Load(id)
	if err != nil {
		return nil, err
	}
	if err := fn(c); err != nil {
		return c, err
	}
	return c, m.Save(c)
}

var idRE = regexp.MustCompile(`^[a-f0-9]{64}$`)

// IDs lists the stored container IDs.
func (m *Manager) IDs() []string {
	ents, _ := os.ReadDir(filepath.Join(m.Root, "containers"))
	var out []string
	for _, e := range ents {
		if idRE.MatchString(e.Name()) {
			if _, err := os.Stat(filepath.Join(m.Dir(e.Name()), "config.v2.json")); err == nil {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

// List returns every container, newest first, each repaired first when
// its monitor died.
func (m *Manager) List() []*Container {
	var out []*Container
	for _, id := range m.IDs() {
		c, _, err := m.Load(id)
		if err != nil {
			continue
		}
		if c = m.Reconcile(c); c != nil {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// Lookup finds a container by full ID, name or unique ID prefix, repaired
// when its monitor died.
func (m *Manager) Lookup(ref string) (*Container, *HostConfig, error) {
	if ref == "" {
		return nil, nil, fmt.Errorf("%w: %q", ErrNotFound, ref)
	}
	ids := m.IDs()
	found := ""
	for _, id := range ids {
		if id == ref {
			found = id
		}
	}
	if found == "" {
		name := "/" + strings.TrimPrefix(ref, "/")
		for _, id := range ids {
			if c, _, err := m.Load(id); err == nil && c.Name == name {
				found = id
			}
		}
	}
	if found == "" && regexp.MustCompile(`^[a-f0-9]+$`).MatchString(ref) {
		var matches []string
		for _, id := range ids {
			if strings.HasPrefix(id, ref) {
				matches = append(matches, id)
			}
		}
		if len(matches) > 1 {
			return nil, nil, fmt.Errorf("multiple IDs found with provided prefix: %s", ref)
		}
		if len(matches) == 1 {
			found = matches[0]
		}
	}
	if found == "" {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	c, _, err := m.Load(found)
	if err != nil {
		return nil, nil, err
	}
	if c = m.Reconcile(c); c == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	c2, hc, err := m.Load(found)
	if err != nil {
		return nil, nil, err
	}
	return c2, hc, nil
}

var nameRE = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

var (
	adjectives = []string{"admiring", "brave", "clever", "dreamy", "eager", "focused", "gallant", "happy", "jolly", "keen", "lucid", "modest", "nifty", "quirky", "serene", "tender", "vibrant", "wizardly", "zealous", "upbeat"}
	surnames   = []string{"babbage", "curie", "dijkstra", "euler", "feynman", "galileo", "hopper", "knuth", "lovelace", "meitner", "noether", "pike", "ritchie", "shannon", "thompson", "turing", "wozniak", "yalow", "zhukovsky", "hamilton"}
)

func randomName() string {
	pick := func(l []string) string {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(l))))
		return l[n.Int64()]
	}
	return pick(adjectives) + "_" + pick(surnames)
}

// nameInUse returns the ID of the container named name, if any.
func (m *Manager) nameInUse(name string) string {
	for _, id := range m.IDs() {
		if c, _, err := m.Load(id); err == nil && c.Name == name {
			return id
		}
	}
	return ""
}

// UsingImage returns a container that uses image id, if any.
func (m *Manager) UsingImage(id string) string {
	for _, cid := range m.IDs() {
		if c, _, err := m.Load(cid); err == nil && c.Image == id {
			return cid
		}
	}
	return ""
}
