// Package image is minidock's image store, laid out as Docker's overlay2
// image store: repositories.json (name:tag to image ID), imagedb (the
// image configs, named by their sha256) and layerdb (one dir per layer,
// keyed by chain ID, holding diff, cache-id, parent, size and the
// tar-split metadata that rebuilds the layer's exact tar for save). It
// loads `docker save` archives and OCI layouts, imports rootfs tarballs,
// pulls from registries, and saves images back out.
package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/minirunc/minirunc/dock/fsutil"
	"github.com/minirunc/minirunc/dock/layer"
)

// Store is the image store under a minidock root.
type Store struct {
	Root   string // the minidock root
	Driver *layer.Driver
}

// Layer is one layerdb entry.
type Layer struct {
	ChainID string // sha256:...
	DiffID  string
	CacheID string
	Parent  string // chain ID of the parent, "" for a bottom layer
	Size    int64
}

// Image is an image config with its ID.
type Image struct {
	ID     string // sha256:...
	Raw    []byte
	Config *v1.ConfigFile
}

// Open opens (making as needed) the store under root.
func Open(root string) (*Store, error) {
	d, err := layer.New(filepath.Join(root, "overlay2"))
	if err != nil {
		return nil, err
	}
	s := &Store{Root: root, Driver: d}
	for _, p := range []string{s.contentDir(), s.layerDir(), s.MountsDir()} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return nil, err
		}
	}
	s.repair()
	return s, nil
}

func (s *Store) base() string       { return filepath.Join(s.Root, "image", "overlay2") }
func (s *Store) contentDir() string { return filepath.Join(s.base(), "imagedb", "content", "sha256") }
func (s *Store) layerDir() string   { return filepath.Join(s.base(), "layerdb", "sha256") }
func (s *Store) reposFile() string  { return filepath.Join(s.base(), "repositories.json") }

// MountsDir is layerdb/mounts, one dir per container.
func (s *Store) MountsDir() string { return filepath.Join(s.base(), "layerdb", "mounts") }

var hexRE = regexp.MustCompile(`^[a-f0-9]{64}$`)

func hexOf(d string) (string, error) {
	h := strings.TrimPrefix(d, "sha256:")
	if !hexRE.MatchString(h) {
		return "", fmt.Errorf("invalid digest %q", d)
	}
	return h, nil
}

// ChainID computes chain(Ln) = sha256(chain(Ln-1) + " " + diffID(Ln)).
func ChainID(parent, diffID string) string {
	if parent == "" {
		return diffID
	}
	sum := sha256.Sum256([]byte(parent + " " + diffID))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ChainIDs returns the chain IDs of every layer of diffIDs, bottom first.
func ChainIDs(diffIDs []string) []string {
	out := make([]string, len(diffIDs))
	parent := ""
	for i, d := range diffIDs {
		parent = ChainID(parent, d)
		out[i] = parent
	}
	return out
}

// GetLayer reads a layerdb entry.
func (s *Store) GetLayer(chainID string) (*Layer, error) {
	h, err := hexOf(chainID)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.layerDir(), h)
	read := func(n string) string {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		return strings.TrimSpace(string(b))
	}
	l := &Layer{ChainID: chainID, DiffID: read("diff"), CacheID: read("cache-id"), Parent: read("parent")}
	if l.CacheID == "" {
		return nil, fmt.Errorf("layer %s: %w", chainID, os.ErrNotExist)
	}
	fmt.Sscan(read("size"), &l.Size)
	return l, nil
}

func (s *Store) layerExists(chainID string) bool {
	_, err := s.GetLayer(chainID)
	return err == nil
}

// repositories is repositories.json.
type repositories struct {
	Repositories map[string]map[string]string `json:"Repositories"`
}

func (s *Store) readRepos() (*repositories, error) {
	r := &repositories{}
	if err := fsutil.ReadJSON(s.reposFile(), r); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if r.Repositories == nil {
		r.Repositories = map[string]map[string]string{}
	}
	return r, nil
}

func (s *Store) writeRepos(r *repositories) error {
	for k, v := range r.Repositories {
		if len(v) == 0 {
			delete(r.Repositories, k)
		}
	}
	return fsutil.WriteJSON(s.reposFile(), r)
}

var refRE = regexp.MustCompile(`^((?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?$`)

// NormalizeRef checks a name[:tag] and adds ":latest" when no tag is given.
// It returns the repository and the full reference.
func NormalizeRef(ref string) (repo, full string, err error) {
	m := refRE.FindStringSubmatch(ref)
	if m == nil || len(m[1]) > 255 || hexRE.MatchString(m[1]) {
		return "", "", fmt.Errorf("invalid reference format: %q", ref)
	}
	tag := m[2]
	if tag == "" {
		tag = "latest"
	}
	return m[1], m[1] + ":" + tag, nil
}

// Tag points ref at image id.
func (s *Store) Tag(id, ref string) error {
	repo, full, err := NormalizeRef(ref)
	if err != nil {
		return err
	}
	r, err := s.readRepos()
	if err != nil {
		return err
	}
	if r.Repositories[repo] == nil {
		r.Repositories[repo] = map[string]string{}
	}
	r.Repositories[repo][full] = id
	return s.writeRepos(r)
}

// Untag removes ref; it reports the image it pointed to.
func (s *Store) Untag(ref string) (string, error) {
	repo, full, err := NormalizeRef(ref)
	if err != nil {
		return "", err
	}
	r, err := s.readRepos()
	if err != nil {
		return "", err
	}
	id, ok := r.Repositories[repo][full]
	if !ok {
		return "", fmt.Errorf("no such image: %s", ref)
	}
	delete(r.Repositories[repo], full)
	return id, s.writeRepos(r)
}

// TagsOf lists the references of image id, sorted.
func (s *Store) TagsOf(id string) []string {
	r, err := s.readRepos()
	if err != nil {
		return nil
	}
	var out []string
	for _, tags := range r.Repositories {
		for t, i := range tags {
			if i == id {
				out = append(out, t)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Get reads image id (sha256:...).
func (s *Store) Get(id string) (*Image, error) {
	h, err := hexOf(id)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(s.contentDir(), h))
	if err != nil {
		return nil, fmt.Errorf("no such image: %s", id)
	}
	cf, err := v1.ParseConfigFile(strings.NewReader(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	return &Image{ID: "sha256:" + h, Raw: raw, Config: cf}, nil
}

// DiffIDs of the image, bottom first.
func (img *Image) DiffIDs() []string {
	out := make([]string, len(img.Config.RootFS.DiffIDs))
	for i, d := range img.Config.RootFS.DiffIDs {
		out[i] = d.String()
	}
	return out
}

// TopLayer is the chain ID of the image's top layer ("" for none).
func (img *Image) TopLayer() string {
	c := ChainIDs(img.DiffIDs())
	if len(c) == 0 {
		return ""
	}
	return c[len(c)-1]
}

// List returns every image, newest first.
func (s *Store) List() ([]*Image, error) {
	ents, err := os.ReadDir(s.contentDir())
	if err != nil {
		return nil, err
	}
	var out []*Image
	for _, e := range ents {
		if !hexRE.MatchString(e.Name()) {
			continue
		}
		img, err := s.Get("sha256:" + e.Name())
		if err != nil {
			continue
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Config.Created.After(out[j].Config.Created.Time) })
	return out, nil
}

// Resolve finds an image by reference, full ID or unique ID prefix.
func (s *Store) Resolve(ref string) (*Image, error) {
	if _, full, err := NormalizeRef(ref); err == nil {
		r, err := s.readRepos()
		if err != nil {
			return nil, err
		}
		repo, _, _ := NormalizeRef(ref)
		if id, ok := r.Repositories[repo][full]; ok {
			return s.Get(id)
		}
	}
	h := strings.TrimPrefix(ref, "sha256:")
	if len(h) >= 4 && regexp.MustCompile(`^[a-f0-9]+$`).MatchString(h) {
		ents, _ := os.ReadDir(s.contentDir())
		var found []string
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), h) {
				found = append(found, e.Name())
			}
		}
		if len(found) == 1 {
			return s.Get("sha256:" + found[0])
		}
		if len(found) > 1 {
			return nil, fmt.Errorf("ambiguous image ID prefix %q", ref)
		}
	}
	return nil, fmt.Errorf("no such image: %s", ref)
}

// putConfig writes an image config, returning its ID.
func (s *Store) putConfig(raw []byte) (string, error) {
	sum := sha256.Sum256(raw)
	h := hex.EncodeToString(sum[:])
	p := filepath.Join(s.contentDir(), h)
	if _, err := os.Stat(p); err == nil {
		return "sha256:" + h, nil
	}
	if err := s.markPending("sha256:" + h); err != nil {
		return "", err
	}
	return "sha256:" + h, fsutil.WriteFile(p, raw, 0o600)
}

// MountRecord is layerdb/mounts/<container>.
type MountRecord struct {
	MountID, InitID, Parent string
}

// GetMount reads a container's mounts record.
func (s *Store) GetMount(containerID string) (*MountRecord, error) {
	dir := filepath.Join(s.MountsDir(), containerID)
	read := func(n string) string {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		return strings.TrimSpace(string(b))
	}
	m := &MountRecord{MountID: read("mount-id"), InitID: read("init-id"), Parent: read("parent")}
	if m.MountID == "" {
		return nil, fmt.Errorf("no layers for container %s", containerID)
	}
	return m, nil
}

// CreateRW makes a container's init and read-write layers on top of the
// image's top layer and records them in layerdb/mounts/<containerID>.
// Call it under Lock.
func (s *Store) CreateRW(containerID string, img *Image) (m *MountRecord, err error) {
	top := img.TopLayer()
	l, err := s.GetLayer(top)
	if err != nil {
		return nil, err
	}
	mountID := layer.RandomID()
	initID := layer.InitID(mountID)
	if err := s.Driver.Create(initID, l.CacheID); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Driver.Remove(initID)
			s.Driver.Remove(mountID)
		}
	}()
	if err := s.Driver.FillInit(initID); err != nil {
		return nil, err
	}
	if err := s.Driver.Create(mountID, initID); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(s.MountsDir(), ".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for n, v := range map[string]string{"mount-id": mountID, "init-id": initID, "parent": top} {
		if err := os.WriteFile(filepath.Join(tmp, n), []byte(v), 0o600); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(tmp, filepath.Join(s.MountsDir(), containerID)); err != nil {
		return nil, err
	}
	return &MountRecord{MountID: mountID, InitID: initID, Parent: top}, nil
}

// RemoveRW removes a container's layers and mounts record. Call under Lock.
func (s *Store) RemoveRW(containerID string) error {
	dir := filepath.Join(s.MountsDir(), containerID)
	m, err := s.GetMount(containerID)
	if err == nil {
		// The record goes first: a crash after it leaves only orphan
		// dirs, which GC removes.
		gone := filepath.Join(s.MountsDir(), ".del-"+containerID)
		if err := os.Rename(dir, gone); err != nil {
			return err
		}
		dir = gone
		if err := s.Driver.Remove(m.MountID); err != nil {
			return err
		}
		if err := s.Driver.Remove(m.InitID); err != nil {
			return err
		}
	}
	return os.RemoveAll(dir)
}

// mountsRecords lists the container IDs that have layers.
func (s *Store) mountsRecords() []string {
	ents, _ := os.ReadDir(s.MountsDir())
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// MarshalInspect is the image as `inspect` shows it.
func (img *Image) MarshalInspect(tags []string, size int64) ([]byte, error) {
	cfg := img.Config
	out := map[string]any{
		"Id":           img.ID,
		"RepoTags":     tags,
		"Created":      cfg.Created.Time,
		"Architecture": cfg.Architecture,
		"Os":           cfg.OS,
		"Author":       cfg.Author,
		"Config":       cfg.Config,
		"Size":         size,
		"RootFS":       map[string]any{"Type": "layers", "Layers": img.DiffIDs()},
		"History":      cfg.History,
		"GraphDriver":  map[string]any{"Name": "overlay2"},
	}
	return json.MarshalIndent(out, "", "    ")
}
