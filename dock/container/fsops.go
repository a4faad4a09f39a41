package container

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/minirunc/minirunc/dock/fsutil"
	"github.com/minirunc/minirunc/dock/image"
	"github.com/minirunc/minirunc/dock/layer"
	"golang.org/x/sys/unix"
)

// CommitOptions are commit's flags.
type CommitOptions struct {
	Ref, Comment, Author string
	Changes              []string // --change, Dockerfile-style
	Pause                bool     // freeze a running container while its layer is read
}

// Commit makes an image of the container's read-write layer on top of its
// image, with the container's config, and returns the image ID.
func (m *Manager) Commit(ref string, o CommitOptions) (string, error) {
	c, _, err := m.Lookup(ref)
	if err != nil {
		return "", err
	}
	parent, err := m.Images.Get(c.Image)
	if err != nil {
		return "", fmt.Errorf("the image of container %s is gone: %w", c.DisplayName(), err)
	}
	cfg := v1Config(c)
	for _, ch := range o.Changes {
		if err := image.ApplyChange(&cfg, ch); err != nil {
			return "", err
		}
	}
	if o.Pause && c.State.Status == Running {
		if _, err := m.RT.Run("pause", c.ID); err == nil {
			defer m.RT.Run("resume", c.ID)
		}
	}
	lk, err := m.Images.Lock()
	if err != nil {
		return "", err
	}
	defer lk.Unlock()
	return m.Images.Commit(parent, c.MountID, image.CommitOptions{
		Config: cfg, Comment: o.Comment, Author: o.Author, Ref: o.Ref,
		CreatedBy: strings.TrimSpace(c.Path + " " + strings.Join(c.Args, " ")),
	})
}

// v1Config is the container's config as an image config.
func v1Config(c *Container) v1.Config {
	k := c.Config
	cfg := v1.Config{
		User: k.User, Env: append([]string{}, k.Env...), Cmd: append([]string{}, k.Cmd...),
		Entrypoint: append([]string{}, k.Entrypoint...), WorkingDir: k.WorkingDir,
		ExposedPorts: k.ExposedPorts, Volumes: k.Volumes, Labels: k.Labels, StopSignal: k.StopSignal,
	}
	if len(cfg.Entrypoint) == 0 {
		cfg.Entrypoint = nil
	}
	if len(cfg.Cmd) == 0 {
		cfg.Cmd = nil
	}
	return cfg
}

// view finds the container ref and mounts a read-only view of its
// filesystem (its read-write layer over the init and image layers) on a
// private dir, returned with the function that removes it.
func (m *Manager) view(ref string) (*Container, string, func(), error) {
	c, _, err := m.Lookup(ref)
	if err != nil {
		return nil, "", nil, err
	}
	dir, done, err := m.mountView(c)
	return c, dir, done, err
}

// mountView mounts c's view; see view.
func (m *Manager) mountView(c *Container) (string, func(), error) {
	if err := os.MkdirAll(m.RunDir(c.ID), 0o700); err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp(m.RunDir(c.ID), "view-")
	if err != nil {
		return "", nil, err
	}
	if err := m.Images.Driver.MountReadOnly(c.MountID, dir); err != nil {
		os.Remove(dir)
		return "", nil, err
	}
	return dir, func() {
		layer.Unmount(dir)
		os.Remove(dir)
	}, nil
}

// Export writes the container's merged filesystem as one tar to w (the
// init layer's placeholder files left out).
func (m *Manager) Export(ref string, w io.Writer) error {
	_, dir, done, err := m.view(ref)
	if err != nil {
		return err
	}
	defer done()
	return layer.WriteTar(w, dir, layer.TarOptions{Skip: layer.SkipInitFiles})
}

// CopyFrom copies the container's path (resolved inside its root, a
// symlink out of it refused; a last symlink followed only with follow) to the host path dst: into dst when dst is
// an existing directory, as dst otherwise.
func (m *Manager) CopyFrom(ref, ctrPath, dst string, follow bool) error {
	c, dir, done, err := m.view(ref)
	if err != nil {
		return err
	}
	defer done()
	rel, err := fsutil.ResolveIn(dir, ctrPath, follow)
	if err != nil {
		return err
	}
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	src, err := fsutil.OpenSide(root, rel)
	if err != nil {
		return fmt.Errorf("could not find the file %s in container %s", ctrPath, c.DisplayName())
	}
	defer unix.Close(src.Dir)
	if rel == "." {
		src.Name = "."
	}
	if _, err := src.Stat(); err != nil {
		return fmt.Errorf("could not find the file %s in container %s", ctrPath, c.DisplayName())
	}
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() && rel != "." {
		dst = filepath.Join(dst, filepath.Base(rel))
	}
	hfd, err := unix.Open(filepath.Dir(filepath.Clean(dst)), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("destination directory %s: %w", filepath.Dir(dst), err)
	}
	defer unix.Close(hfd)
	return fsutil.CopyTree(src, fsutil.Side{Dir: hfd, Name: filepath.Base(filepath.Clean(dst))})
}

// CopyTo copies the host path src into the container at ctrPath (resolved
// inside its root, a symlink out of it refused): into ctrPath when it is
// an existing directory, as ctrPath otherwise. A container that is not
// running has its filesystem mounted for the copy.
func (m *Manager) CopyTo(ref, src, ctrPath string) error {
	c, _, err := m.Lookup(ref)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(src); err != nil {
		return fmt.Errorf("could not find the file %s: %w", src, err)
	}
	lk, err := m.Lock(c.ID)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	merged := m.MergedDir(c)
	if !c.IsActive() || !layer.Mounted(merged) {
		// A private mount, not the merged dir, which a start or another
		// command's repair of the container may mount or unmount.
		if c.IsActive() {
			return fmt.Errorf("container %s is running but its filesystem is not mounted", c.DisplayName())
		}
		if err := os.MkdirAll(m.RunDir(c.ID), 0o700); err != nil {
			return err
		}
		tmp, err := os.MkdirTemp(m.RunDir(c.ID), "cp-")
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		if err := m.Images.Driver.Mount(c.MountID, tmp); err != nil {
			return err
		}
		defer layer.Unmount(tmp)
		merged = tmp
	}
	rel, err := fsutil.ResolveIn(merged, ctrPath, true)
	if err != nil {
		return err
	}
	root, err := unix.Open(merged, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	if fd, err := fsutil.OpenIn(root, rel, unix.O_PATH|unix.O_DIRECTORY); err == nil {
		unix.Close(fd)
		rel = filepath.Join(rel, filepath.Base(filepath.Clean(src)))
	}
	dst, err := fsutil.OpenSide(root, rel)
	if err != nil {
		return fmt.Errorf("could not find the directory of %s in container %s", ctrPath, c.DisplayName())
	}
	defer unix.Close(dst.Dir)
	hfd, err := unix.Open(filepath.Dir(filepath.Clean(src)), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(hfd)
	return fsutil.CopyTree(fsutil.Side{Dir: hfd, Name: filepath.Base(filepath.Clean(src))}, dst)
}
