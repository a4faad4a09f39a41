package image

import (
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/minirunc/minirunc/dock/layer"
)

// CommitOptions describe the image a commit makes.
type CommitOptions struct {
	Config    v1.Config // the container's config
	Comment   string    // -m
	Author    string    // -a
	CreatedBy string    // the history's created_by (the container's command)
	Ref       string    // REPO[:TAG], or "" for an untagged image
}

// Commit makes a new image of parent plus the read-write layer mountID (a
// container's): its diff, with overlay whiteouts turned back into OCI
// ".wh." entries and the init placeholders left out, is stored as a layer
// through the same path as a load (so chain ID and layerdb follow), and a
// new config with the container's config and a history entry names it.
// Call under Lock.
func (s *Store) Commit(parent *Image, mountID string, o CommitOptions) (id string, err error) {
	full := ""
	if o.Ref != "" {
		if _, full, err = NormalizeRef(o.Ref); err != nil {
			return "", err
		}
	}
	if n := len(parent.Config.RootFS.DiffIDs); n >= layer.MaxLayers {
		return "", fmt.Errorf("image has %d layers: a commit would exceed %d", n, layer.MaxLayers)
	}
	defer func() {
		if err != nil {
			s.GC()
		}
	}()
	// The diff is spooled to a file first: the layer store unpacks while
	// it hashes, and the container's dir must not be read while written.
	tmp, err := os.CreateTemp(s.layerDir(), ".commit-")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := layer.WriteTar(tmp, s.Driver.DiffDir(mountID), layer.TarOptions{Whiteouts: true, Skip: layer.SkipInit}); err != nil {
		return "", fmt.Errorf("diff of the container's layer: %w", err)
	}
	chain, err := s.putLayer(parent.TopLayer(), "", func() (io.ReadCloser, error) {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return io.NopCloser(tmp), nil
	})
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
	cf := parent.Config.DeepCopy()
	now := v1.Time{Time: time.Now().UTC()}
	cf.Created = now
	cf.Config = o.Config
	cf.Author = o.Author
	cf.Container = ""
	cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, diff)
	cf.History = append(cf.History, v1.History{Created: now, CreatedBy: o.CreatedBy, Author: o.Author, Comment: o.Comment})
	id, err = s.putImage(cf, full)
	return id, err
}
