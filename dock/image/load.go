package image

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/minirunc/minirunc/dock/layer"
	"github.com/minirunc/minirunc/dock/progress"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"
)

const tarSplitFile = "tar-split.json.gz"

// putLayer stores one layer on top of parent (a chain ID, "" for the
// bottom) unless its chain ID is already there, and returns the chain ID.
// The stream is unpacked as it is read and hashed on the way; when diffID
// is given and the hash differs, nothing of the layer is left. An empty
// diffID takes the stream's hash (import). Call under Lock.
func (s *Store) putLayer(parent, diffID string, open func() (io.ReadCloser, error)) (string, error) {
	if diffID != "" {
		if _, err := hexOf(diffID); err != nil {
			return "", err
		}
		if chain := ChainID(parent, diffID); s.layerExists(chain) {
			return chain, nil
		}
	}
	parentCache := ""
	if parent != "" {
		pl, err := s.GetLayer(parent)
		if err != nil {
			return "", err
		}
		parentCache = pl.CacheID
	}
	cacheID := layer.RandomID()
	if err := s.Driver.Create(cacheID, parentCache); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(s.layerDir(), ".tmp-")
	if err != nil {
		s.Driver.Remove(cacheID)
		return "", err
	}
	ok := false
	defer func() {
		if !ok {
			s.Driver.Remove(cacheID)
			os.RemoveAll(tmp)
		}
	}()
	rc, err := open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	ts, err := os.Create(filepath.Join(tmp, tarSplitFile))
	if err != nil {
		return "", err
	}
	defer ts.Close()
	gz := gzip.NewWriter(ts)
	h := sha256.New()
	its, done, err := asm.NewInputTarStreamWithDone(io.TeeReader(rc, h), storage.NewJSONPacker(gz), storage.NewDiscardFilePutter())
	if err != nil {
		return "", err
	}
	size, err := layer.Apply(s.Driver.DiffDir(cacheID), its)
	if err == nil {
		_, err = io.Copy(io.Discard, its) // the tar's padding belongs to the digest
	}
	its.Close()
	if derr := <-done; err == nil && derr != nil {
		err = fmt.Errorf("read layer tar: %w", derr)
	}
	if cerr := gz.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if diffID != "" && got != diffID {
		return "", fmt.Errorf("layer digest mismatch: expected %s, got %s", diffID, got)
	}
	chain := ChainID(parent, got)
	if s.layerExists(chain) {
		return chain, nil // an import of a layer we already hold
	}
	files := map[string]string{"diff": got, "cache-id": cacheID, "size": fmt.Sprint(size)}
	if parent != "" {
		files["parent"] = parent
	}
	for n, v := range files {
		if err := os.WriteFile(filepath.Join(tmp, n), []byte(v), 0o600); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, filepath.Join(s.layerDir(), strings.TrimPrefix(chain, "sha256:"))); err != nil {
		return "", err
	}
	ok = true
	return chain, nil
}

// Progress is where a load or pull shows its progress; nil shows none.
type Progress = *progress.Display

// source is how storeImage reads an image's layers.
type source struct {
	verb  string  // "Pull" or "Load", for the progress lines
	blobs bool    // read the layer blobs (registry, OCI layout), counting their bytes
	sizes []int64 // otherwise each layer's tar size, when known
}

// storeImage stores every layer of img and its config, then tags it. On
// an error, layers it stored that no image holds are removed. Call under
// Lock.
func (s *Store) storeImage(img v1.Image, tags []string, p Progress, src source) (id string, err error) {
	defer func() {
		if err != nil {
			s.GC()
		}
	}()
	raw, err := img.RawConfigFile()
	if err != nil {
		return "", fmt.Errorf("image config: %w", err)
	}
	cf, err := v1.ParseConfigFile(strings.NewReader(string(raw)))
	if err != nil {
		return "", fmt.Errorf("image config: %w", err)
	}
	if n := len(cf.RootFS.DiffIDs); n > layer.MaxLayers {
		return "", fmt.Errorf("image has %d layers: at most %d are supported", n, layer.MaxLayers)
	} else if n == 0 {
		return "", fmt.Errorf("image has no layers")
	}
	layers, err := img.Layers()
	if err != nil {
		return "", err
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return "", fmt.Errorf("image has %d layers but its config lists %d", len(layers), len(cf.RootFS.DiffIDs))
	}
	ids := make([]string, len(layers))
	chains := ChainIDs(func() []string {
		out := make([]string, len(layers))
		for i, d := range cf.RootFS.DiffIDs {
			out[i] = d.String()
		}
		return out
	}())
	for i, l := range layers {
		ids[i] = short(cf.RootFS.DiffIDs[i].String())
		if src.blobs {
			if d, err := l.Digest(); err == nil {
				ids[i] = short(d.String())
			}
		}
		if src.verb == "Pull" {
			// Docker's first block: every layer, those already here told so.
			if s.layerExists(chains[i]) {
				p.Status(ids[i], "Already exists")
			} else {
				p.Status(ids[i], "Pulling fs layer")
			}
		}
	}
	parent := ""
	for i, l := range layers {
		if s.layerExists(chains[i]) {
			parent = chains[i]
			continue
		}
		if src.verb != "Pull" {
			p.Status(ids[i], "Loading layer")
		}
		parent, err = s.putLayer(parent, cf.RootFS.DiffIDs[i].String(), layerOpener(l, i, ids[i], p, src))
		if err != nil {
			return "", err
		}
		p.Status(ids[i], src.verb+" complete")
	}
	if id, err = s.putConfig(raw); err != nil {
		return "", err
	}
	for _, t := range tags {
		if err := s.Tag(id, t); err != nil {
			return "", err
		}
	}
	return id, nil
}

func short(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// Loaded is one image a load brought in.
type Loaded struct {
	ID   string
	Tags []string
}

// Load reads a `docker save` archive (plain or gzipped) or an OCI image
// layout (a directory or a tar of one) at p. Call under Lock.
func (s *Store) Load(p string, progress Progress) ([]Loaded, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return s.loadLayout(p, progress)
	}
	opener := func() (io.ReadCloser, error) { return openMaybeGzip(p) }
	names, err := tarNames(opener)
	if err != nil {
		return nil, fmt.Errorf("invalid archive: %w", err)
	}
	has := func(n string) bool { _, ok := names[n]; return ok }
	switch {
	case has("manifest.json"):
		return s.loadDockerArchive(opener, names, progress)
	case has("index.json") && has("oci-layout"):
		wd, err := s.WorkDir()
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp(wd, "layout-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		rc, err := opener()
		if err != nil {
			return nil, err
		}
		_, err = layer.Apply(dir, rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("invalid archive: %w", err)
		}
		return s.loadLayout(dir, progress)
	}
	return nil, fmt.Errorf("invalid archive: no manifest.json or OCI index.json")
}

type readCloser struct {
	io.Reader
	io.Closer
}

func openMaybeGzip(p string) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, err
		}
		return readCloser{gz, f}, nil
	}
	return readCloser{br, f}, nil
}

// tarNames lists an archive's entries with their sizes.
func tarNames(opener tarball.Opener) (map[string]int64, error) {
	rc, err := opener()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	names := map[string]int64{}
	tr := newTarReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		names[path.Clean(h.Name)] = h.Size
	}
	if len(names) == 0 {
		return nil, errors.New("empty archive")
	}
	return names, nil
}

func (s *Store) loadDockerArchive(opener tarball.Opener, names map[string]int64, progress Progress) ([]Loaded, error) {
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("invalid archive: %w", err)
	}
	var out []Loaded
	for _, d := range m {
		var tag *name.Tag
		if len(d.RepoTags) > 0 {
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return out, fmt.Errorf("invalid archive: %w", err)
			}
			tag = &t
		} else if len(m) > 1 {
			return out, fmt.Errorf("invalid archive: an untagged image among %d", len(m))
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return out, fmt.Errorf("invalid archive: %w", err)
		}
		// The config's file name carries its digest: check it.
		raw, err := img.RawConfigFile()
		if err != nil {
			return out, fmt.Errorf("invalid archive: %w", err)
		}
		sum := sha256.Sum256(raw)
		want := strings.TrimSuffix(path.Base(d.Config), ".json")
		if hexRE.MatchString(want) && want != hex.EncodeToString(sum[:]) {
			return out, fmt.Errorf("invalid archive: image config digest mismatch: %s", d.Config)
		}
		var tags []string
		for _, t := range d.RepoTags {
			if _, full, err := NormalizeRef(familiar(t)); err == nil {
				tags = append(tags, full)
			}
		}
		src := source{verb: "Load"}
		for _, l := range d.Layers {
			src.sizes = append(src.sizes, names[path.Clean(l)])
		}
		id, err := s.storeImage(img, tags, progress, src)
		if err != nil {
			return out, err
		}
		out = append(out, Loaded{ID: id, Tags: tags})
	}
	return out, nil
}

// familiar turns docker.io/library/x into x, as Docker shows it.
func familiar(ref string) string {
	for _, p := range []string{"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"} {
		if strings.HasPrefix(ref, p) {
			return strings.TrimPrefix(ref, p)
		}
	}
	return ref
}

func (s *Store) loadLayout(dir string, progress Progress) ([]Loaded, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("invalid OCI layout: %w", err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("invalid OCI layout: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("invalid OCI layout: %w", err)
	}
	var out []Loaded
	for _, desc := range im.Manifests {
		img, err := resolveImage(idx, desc)
		if err != nil {
			return out, fmt.Errorf("invalid OCI layout: %w", err)
		}
		var tags []string
		ref := desc.Annotations["io.containerd.image.name"]
		if ref == "" {
			ref = desc.Annotations["org.opencontainers.image.ref.name"]
		}
		if ref != "" && strings.ContainsAny(ref, "/:") {
			if _, full, err := NormalizeRef(familiar(ref)); err == nil {
				tags = append(tags, full)
			}
		}
		id, err := s.storeImage(img, tags, progress, source{verb: "Load", blobs: true})
		if err != nil {
			return out, err
		}
		out = append(out, Loaded{ID: id, Tags: tags})
	}
	return out, nil
}

// Platform is the only platform minidock runs.
var Platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// resolveImage returns the image of desc, choosing linux/amd64 in an index.
func resolveImage(idx v1.ImageIndex, desc v1.Descriptor) (v1.Image, error) {
	if !desc.MediaType.IsIndex() {
		return idx.Image(desc.Digest)
	}
	child, err := idx.ImageIndex(desc.Digest)
	if err != nil {
		return nil, err
	}
	cm, err := child.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range cm.Manifests {
		if d.Platform != nil && d.Platform.OS == Platform.OS && d.Platform.Architecture == Platform.Architecture {
			return resolveImage(child, d)
		}
	}
	return nil, fmt.Errorf("no image for %s/%s in index %s", Platform.OS, Platform.Architecture, desc.Digest)
}
