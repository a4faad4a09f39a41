package dock

import (
	"archive/tar"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"
)

// registry is Debian's docker-registry, started by hand on loopback with
// a private config and storage, stopped by its pid.
type registry struct {
	Addr string // 127.0.0.1:port
	cmd  *exec.Cmd
}

// registryCache is where provideRegistry unpacks Debian's docker-registry
// when it is not installed.
const registryCache = "/var/cache/minidock-tests"

// provideRegistry finds Debian's docker-registry for the pull tests and
// hands its path to the re-executed test binary in MINIDOCK_REGISTRY_BIN
// (or why there is none in MINIDOCK_REGISTRY_ERR). When the package is not
// installed, its binary is taken from the package, downloaded with
// apt-get and unpacked under registryCache: installing it would run its
// maintainer scripts, which start a registry service on the host.
func provideRegistry() {
	bin, err := findRegistry()
	if err != nil {
		os.Setenv("MINIDOCK_REGISTRY_ERR", err.Error())
		return
	}
	os.Setenv("MINIDOCK_REGISTRY_BIN", bin)
}

func findRegistry() (string, error) {
	if bin, err := exec.LookPath("docker-registry"); err == nil {
		return bin, nil
	}
	cached := filepath.Join(registryCache, "usr", "bin", "docker-registry")
	if _, err := os.Stat(cached); err == nil {
		return cached, nil
	}
	if os.Getenv("MINIDOCK_TEST_SKIP_REGISTRY") != "" {
		return "", fmt.Errorf("not installed")
	}
	dl, err := os.MkdirTemp("", "minidock-registry-deb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dl)
	os.Chmod(dl, 0o755) // apt-get downloads as _apt where it can
	fmt.Println("fetching docker-registry (apt-get download) into", registryCache)
	get := exec.Command("apt-get", "download", "-qq", "docker-registry")
	get.Dir = dl
	if out, err := get.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get download docker-registry: %v: %s", err, strings.TrimSpace(string(out)))
	}
	debs, _ := filepath.Glob(filepath.Join(dl, "docker-registry_*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download docker-registry: no package (%v)", debs)
	}
	// Unpacked beside the cache, then renamed: a half-unpacked cache is
	// never taken for a whole one.
	if err := os.MkdirAll(filepath.Dir(registryCache), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(registryCache), ".minidock-tests-")
	if err != nil {
		return "", err
	}
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], tmp).CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("dpkg-deb -x: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := os.Rename(tmp, registryCache); err != nil {
		os.RemoveAll(tmp)
		if _, serr := os.Stat(cached); serr == nil { // another run was quicker
			return cached, nil
		}
		return "", err
	}
	return cached, nil
}

// startRegistry starts a registry; with user set, it asks for basic auth
// (an htpasswd file with a bcrypt entry).
func startRegistry(t *testing.T, user, password string) *registry {
	t.Helper()
	bin := os.Getenv("MINIDOCK_REGISTRY_BIN")
	if bin == "" {
		if os.Getenv("MINIDOCK_TEST_SKIP_REGISTRY") != "" {
			t.Skip("MINIDOCK_TEST_SKIP_REGISTRY is set")
		}
		t.Fatalf("no docker-registry: %s (set MINIDOCK_TEST_SKIP_REGISTRY=1 to skip the pull tests)", os.Getenv("MINIDOCK_REGISTRY_ERR"))
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	auth := ""
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: minidock-test\n    path: %s\n", htpasswd)
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(dir, "storage"), addr, auth)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	r := &registry{Addr: addr, cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("registry on %s did not come up: %v\n%s", addr, err, log)
		}
	}
}

// push writes img (a v1.Image or v1.ImageIndex) as addr/repo:tag.
func (r *registry) push(t *testing.T, repo string, img any, auth authn.Authenticator) string {
	t.Helper()
	ref := r.Addr + "/" + repo
	tag, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	switch v := img.(type) {
	case v1.Image:
		err = remote.Write(tag, v, remote.WithAuth(auth))
	case v1.ImageIndex:
		err = remote.WriteIndex(tag, v, remote.WithAuth(auth))
	}
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref
}

// markedImage is busybox plus a layer holding /which with text.
func markedImage(t *testing.T, text string) v1.Image {
	t.Helper()
	var b tarBuilder
	b.add(&tar.Header{Name: "which", Typeflag: tar.TypeReg, Mode: 0o644}, []byte(text+"\n"))
	return busyboxPlus(t, b.bytes(), []string{"cat", "/which"})
}

func TestPullFromRegistry(t *testing.T) {
	e := NewEnv(t)
	reg := startRegistry(t, "", "")

	// A plain image: the pulled one runs, with the pushed image's ID.
	plain := markedImage(t, "plain")
	ref := reg.push(t, "test/plain:v1", plain, nil)
	e.MustRun("pull", "-q", ref)
	if out := e.MustRun("run", "--rm", ref); out != "plain\n" {
		t.Fatalf("run of the pulled image: %q", out)
	}
	want, _ := plain.ConfigName()
	if id := e.Inspect(ref)["Id"]; id != want.String() {
		t.Fatalf("pulled image ID %v, want %s", id, want)
	}
	// The layers under their chain IDs in layerdb.
	cf, _ := plain.ConfigFile()
	d0, d1 := cf.RootFS.DiffIDs[0].String(), cf.RootFS.DiffIDs[1].String()
	chain1 := sha256Hex(d0 + " " + d1)
	if got := readFile(t, filepath.Join(e.Root, "image/overlay2/layerdb/sha256", chain1, "parent")); got != d0 {
		t.Fatalf("layerdb parent of the top layer: %q", got)
	}

	// The same as an OCI manifest (and OCI config) pulls too.
	oci := mutate.ConfigMediaType(mutate.MediaType(markedImage(t, "oci"), types.OCIManifestSchema1), types.OCIConfigJSON)
	oref := reg.push(t, "test/oci:v1", oci, nil)
	e.MustRun("pull", "-q", oref)
	if out := e.MustRun("run", "--rm", oref); out != "oci\n" {
		t.Fatalf("run of the pulled OCI image: %q", out)
	}

	// An index: linux/amd64 is what is pulled.
	arm := markedImage(t, "arm64")
	amd := markedImage(t, "amd64")
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	iref := reg.push(t, "test/multi:latest", idx, nil)
	e.MustRun("pull", "-q", iref)
	if out := e.MustRun("run", "--rm", iref); out != "amd64\n" {
		t.Fatalf("run of the pulled index: %q", out)
	}
	// An unknown tag: one line, 125, nothing left.
	if _, stderr, code := e.Run("pull", "-q", reg.Addr+"/test/plain:nope"); code != 125 || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("pull of an unknown tag: %d %q", code, stderr)
	}
}

func TestPullBasicAuth(t *testing.T) {
	e := NewEnv(t)
	reg := startRegistry(t, "tester", "s3cret")
	auth := &authn.Basic{Username: "tester", Password: "s3cret"}
	ref := reg.push(t, "private/img:v1", markedImage(t, "private"), auth)

	// No credentials, a wrong password: refused, one line, 125, no image.
	for _, args := range [][]string{
		{"pull", "-q", ref},
		{"pull", "-q", "-u", "tester", "-p", "wrong", ref},
	} {
		_, stderr, code := e.Run(args...)
		t.Logf("%v: %s", args[len(args)-2:], strings.TrimSpace(stderr))
		if code != 125 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "minidock: ") || !strings.Contains(stderr, "unauthorized") {
			t.Fatalf("%v: exit %d: %q", args, code, stderr)
		}
	}
	if out := e.MustRun("images", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("images after failed pulls: %q", out)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.Root, "image/overlay2/layerdb/sha256")); len(ents) != 0 {
		t.Fatalf("layers after failed pulls: %d", len(ents))
	}
	e.MustRun("pull", "-q", "-u", "tester", "-p", "s3cret", ref)
	if out := e.MustRun("run", "--rm", ref); out != "private\n" {
		t.Fatalf("run of the pulled image: %q", out)
	}
}
