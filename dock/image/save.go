package image

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"
	"golang.org/x/sys/unix"
)

// storedImage is a stored image seen as go-containerregistry's image: its
// layers are rebuilt byte for byte from the diff dirs and the tar-split
// metadata, so a save then load gives the same image ID.
type storedImage struct {
	s   *Store
	img *Image
}

func (si *storedImage) RawConfigFile() ([]byte, error) { return si.img.Raw, nil }
func (si *storedImage) MediaType() (types.MediaType, error) {
	return types.DockerManifestSchema2, nil
}

func (si *storedImage) LayerByDiffID(h v1.Hash) (partial.UncompressedLayer, error) {
	parent := ""
	for _, d := range si.img.DiffIDs() {
		parent = ChainID(parent, d)
		if d == h.String() {
			l, err := si.s.GetLayer(parent)
			if err != nil {
				return nil, err
			}
			return &storedLayer{s: si.s, l: l}, nil
		}
	}
	return nil, fmt.Errorf("layer %s not in image", h)
}

type storedLayer struct {
	s *Store
	l *Layer
}

func (sl *storedLayer) DiffID() (v1.Hash, error)            { return v1.NewHash(sl.l.DiffID) }
func (sl *storedLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
func (sl *storedLayer) Uncompressed() (io.ReadCloser, error) {
	return sl.s.LayerTar(sl.l.ChainID)
}

// LayerTar rebuilds the exact tar a layer was unpacked from.
func (s *Store) LayerTar(chainID string) (io.ReadCloser, error) {
	l, err := s.GetLayer(chainID)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.layerDir(), strings.TrimPrefix(chainID, "sha256:"), tarSplitFile))
	if err != nil {
		return nil, err
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	fg := &rootGetter{dir: s.Driver.DiffDir(l.CacheID)}
	rc := asm.NewOutputTarStream(fg, storage.NewJSONUnpacker(gz))
	return readCloser{rc, closers{rc, gz, f}}, nil
}

type closers []io.Closer

func (c closers) Close() error {
	for _, x := range c {
		x.Close()
	}
	return nil
}

// rootGetter opens files by name inside dir, never outside it.
type rootGetter struct{ dir string }

func (g *rootGetter) Get(name string) (io.ReadCloser, error) {
	root, err := unix.Open(g.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, strings.TrimPrefix(filepath.Clean("/"+name), "/"), &unix.OpenHow{
		Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, fmt.Errorf("layer file %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// V1Image returns the stored image as a go-containerregistry image.
func (s *Store) V1Image(img *Image) (v1.Image, error) {
	return partial.UncompressedToImage(&storedImage{s: s, img: img})
}

// Save writes the images named by refs as one `docker save` archive.
func (s *Store) Save(refs []string, w io.Writer) error {
	m := map[name.Reference]v1.Image{}
	for _, ref := range refs {
		img, err := s.Resolve(ref)
		if err != nil {
			return err
		}
		vi, err := s.V1Image(img)
		if err != nil {
			return err
		}
		tags := []string{}
		if _, full, err := NormalizeRef(ref); err == nil && contains(s.TagsOf(img.ID), full) {
			tags = append(tags, full)
		} else {
			tags = s.TagsOf(img.ID)
		}
		if len(tags) == 0 {
			return fmt.Errorf("image %s has no tag to save it under", short(img.ID))
		}
		for _, t := range tags {
			nt, err := name.NewTag(t)
			if err != nil {
				return err
			}
			m[nt] = vi
		}
	}
	return tarball.MultiRefWrite(m, w)
}
