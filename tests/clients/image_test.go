package clients

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The images every client imports, built from busybox-static with no
// registry: a docker-archive (what `docker save` writes, which docker
// load, ctr images import and podman load all read) holding one layer and
// two configs.
const (
	imageTag = "busybox:local"   // sh, the busybox applets, root and user 1000
	pauseTag = "mrc-pause:local" // the CRI sandbox image: sleeps as PID 1
	// imageRef and pauseRef are the names ctr, Podman and the CRI give them.
	imageRef = "docker.io/library/" + imageTag
	pauseRef = "docker.io/library/" + pauseTag
)

var imageArchive string // world/images.tar

func buildImages() error {
	bb := "/bin/busybox"
	data, err := os.ReadFile(bb)
	if err != nil {
		return fmt.Errorf("busybox-static: %w", err)
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	layer, err := rootfsLayer(data, strings.Fields(string(out)))
	if err != nil {
		return err
	}
	layerSum := sha256.Sum256(layer)
	layerID := hex.EncodeToString(layerSum[:])
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	configs := []struct {
		tag string
		cfg map[string]any
	}{
		{imageTag, map[string]any{"Env": env, "Cmd": []string{"sh"}}},
		{pauseTag, map[string]any{"Env": env, "Entrypoint": []string{"/bin/sleep", "2147483647"}}},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now().UTC()
	add := func(name string, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: layerID + "/", Mode: 0o755, ModTime: now, Typeflag: tar.TypeDir}); err != nil {
		return err
	}
	if err := add(layerID+"/layer.tar", layer); err != nil {
		return err
	}
	var manifest []map[string]any
	for _, c := range configs {
		body, _ := json.Marshal(map[string]any{
			"architecture": "amd64",
			"os":           "linux",
			"created":      now.Format(time.RFC3339Nano),
			"config":       c.cfg,
			"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerID}},
			"history":      []map[string]any{{"created": now.Format(time.RFC3339Nano), "created_by": "minirunc client tests: busybox-static"}},
		})
		sum := sha256.Sum256(body)
		name := hex.EncodeToString(sum[:]) + ".json"
		if err := add(name, body); err != nil {
			return err
		}
		manifest = append(manifest, map[string]any{"Config": name, "RepoTags": []string{c.tag}, "Layers": []string{layerID + "/layer.tar"}})
	}
	mbody, _ := json.Marshal(manifest)
	if err := add("manifest.json", mbody); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	imageArchive = filepath.Join(world, "images.tar")
	return os.WriteFile(imageArchive, buf.Bytes(), 0o644)
}

// rootfsLayer is a busybox root filesystem as an uncompressed layer tar.
func rootfsLayer(busybox []byte, applets []string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0)
	for _, d := range []struct {
		name string
		mode int64
	}{{"bin", 0o755}, {"etc", 0o755}, {"proc", 0o755}, {"sys", 0o755}, {"dev", 0o755}, {"tmp", 0o1777}, {"root", 0o700}, {"home", 0o755}, {"home/user", 0o755}, {"var", 0o755}} {
		h := &tar.Header{Name: d.name + "/", Mode: d.mode, ModTime: mtime, Typeflag: tar.TypeDir}
		if d.name == "home/user" {
			h.Uid, h.Gid = 1000, 1000
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	files := []struct {
		name string
		mode int64
		body []byte
	}{
		{"bin/busybox", 0o755, busybox},
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{"etc/group", 0o644, []byte("root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n")},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	for _, a := range applets {
		if a == "busybox" {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: mtime, Typeflag: tar.TypeSymlink}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
