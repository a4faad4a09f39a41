package image

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// GC removes what no image or container holds: layerdb entries, overlay2
// dirs, dangling l/ links and leftovers of interrupted commands. Call
// under Lock.
func (s *Store) GC() {
	used := map[string]bool{}
	if imgs, err := s.List(); err == nil {
		for _, img := range imgs {
			for _, c := range ChainIDs(img.DiffIDs()) {
				used[c] = true
			}
		}
	}
	caches := map[string]bool{}
	for _, cid := range s.mountsRecords() {
		m, err := s.GetMount(cid)
		if err != nil {
			continue
		}
		caches[m.MountID], caches[m.InitID] = true, true
		for c := m.Parent; c != "" && !used[c]; {
			used[c] = true
			l, err := s.GetLayer(c)
			if err != nil {
				break
			}
			c = l.Parent
		}
	}
	ents, _ := os.ReadDir(s.layerDir())
	for _, e := range ents {
		p := filepath.Join(s.layerDir(), e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			os.RemoveAll(p)
			continue
		}
		chain := "sha256:" + e.Name()
		if used[chain] {
			if l, err := s.GetLayer(chain); err == nil {
				caches[l.CacheID] = true
			}
			continue
		}
		// The record first: a crash after it leaves an orphan dir only.
		gone := filepath.Join(s.layerDir(), ".del-"+e.Name())
		if os.Rename(p, gone) == nil {
			os.RemoveAll(gone)
		}
	}
	for _, id := range s.Driver.Layers() {
		if !caches[id] {
			s.Driver.Remove(id)
		}
	}
	s.Driver.CleanLinks()
	ments, _ := os.ReadDir(s.MountsDir())
	for _, e := range ments {
		if strings.HasPrefix(e.Name(), ".") {
			os.RemoveAll(filepath.Join(s.MountsDir(), e.Name()))
		}
	}
}

// Remove is rmi: ref names a tag or an image. A tag of an image that has
// others is only untagged; otherwise the image goes with its tags, unless
// inUse says a container uses it (force untags and removes it anyway;
// the container keeps its layers). It returns Docker's lines.
func (s *Store) Remove(ref string, force bool, inUse func(id string) string) ([]string, error) {
	img, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	tags := s.TagsOf(img.ID)
	var out []string
	_, full, nerr := NormalizeRef(ref)
	isTag := nerr == nil && contains(tags, full)
	if isTag && len(tags) > 1 {
		if _, err := s.Untag(full); err != nil {
			return nil, err
		}
		return []string{"Untagged: " + full}, nil
	}
	if !isTag && len(tags) > 1 && !force {
		return nil, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short(img.ID))
	}
	if c := inUse(img.ID); c != "" && !force {
		return nil, fmt.Errorf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, short(c), short(img.ID))
	}
	for _, t := range tags {
		if _, err := s.Untag(t); err != nil {
			return out, err
		}
		out = append(out, "Untagged: "+t)
	}
	if err := os.Remove(filepath.Join(s.contentDir(), strings.TrimPrefix(img.ID, "sha256:"))); err != nil {
		return out, err
	}
	out = append(out, "Deleted: "+img.ID)
	s.GC()
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ImageSize is the sum of the image's layer sizes.
func (s *Store) ImageSize(img *Image) int64 {
	var n int64
	for _, c := range ChainIDs(img.DiffIDs()) {
		if l, err := s.GetLayer(c); err == nil {
			n += l.Size
		}
	}
	return n
}

// Import makes a one-layer image of a rootfs tarball (plain or gzipped),
// with Dockerfile-style changes (CMD, ENTRYPOINT, ENV, WORKDIR, USER,
// EXPOSE, LABEL, STOPSIGNAL, VOLUME) applied to its config, tagged ref when
// ref is not empty. Call under Lock.
func (s *Store) Import(r io.Reader, ref string, changes []string, message string) (id string, err error) {
	cfg := v1.Config{}
	for _, c := range changes {
		if err := ApplyChange(&cfg, c); err != nil {
			return "", err
		}
	}
	full := ""
	if ref != "" {
		if _, full, err = NormalizeRef(ref); err != nil {
			return "", err
		}
	}
	defer func() {
		if err != nil {
			s.GC()
		}
	}()
	rc, err := maybeGunzip(r)
	if err != nil {
		return "", err
	}
	chain, err := s.putLayer("", "", func() (io.ReadCloser, error) { return io.NopCloser(rc), nil })
	if err != nil {
		return "", err
	}
	l, err := s.GetLayer(chain)
	if err != nil {
		return "", err
	}
	diff, err := v1.NewHash(l.DiffID)
	if err != nil {
		return "", err
	}
	now := v1.Time{Time: time.Now().UTC()}
	if message == "" {
		message = "Imported from -"
	}
	cf := v1.ConfigFile{
		Architecture: Platform.Architecture, OS: Platform.OS, Created: now,
		Config:  cfg,
		RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diff}},
		History: []v1.History{{Created: now, Comment: message}},
	}
	id, err = s.putImage(&cf, full)
	return id, err
}

// putImage stores an image config and names it full, when given.
func (s *Store) putImage(cf *v1.ConfigFile, full string) (string, error) {
	raw, err := json.Marshal(cf)
	if err != nil {
		return "", err
	}
	id, err := s.putConfig(raw)
	if err != nil {
		return "", err
	}
	if full != "" {
		if err := s.Tag(id, full); err != nil {
			return "", err
		}
	}
	return id, nil
}
