package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// suiteBuild is the built suite.
type suiteBuild struct {
	dir      string // holds runtimetest, the rootfs tarball, shim and tests/
	programs []string
	negative map[string]bool // programs judged by exit status alone
	rootfs   string
}

// build builds the suite from the module in src, into a cache keyed by the
// module files, the shim and the Go version.
func build(src string) (*suiteBuild, error) {
	cacheRoot := os.Getenv("XDG_CACHE_HOME")
	if cacheRoot == "" {
		cacheRoot = "/tmp"
	}
	key := hashFiles(filepath.Join(src, "go.mod"), filepath.Join(src, "go.sum"), filepath.Join(src, "shim", "main.go"))
	dir := filepath.Join(cacheRoot, "minirunc-oci-suite-"+key)
	b := &suiteBuild{dir: dir, negative: map[string]bool{}}
	if _, err := os.Stat(filepath.Join(dir, "done")); err != nil {
		fmt.Fprintln(os.Stderr, "conformance: building the runtime-tools v0.9.0 suite into", dir)
		if err := buildInto(src, dir); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, "tests"))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		b.programs = append(b.programs, e.Name())
	}
	neg, _ := os.ReadFile(filepath.Join(dir, "negative"))
	for _, n := range strings.Fields(string(neg)) {
		b.negative[n] = true
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "rootfs-*.tar.gz"))
	if len(matches) != 1 {
		return nil, fmt.Errorf("no rootfs tarball in %s", dir)
	}
	b.rootfs = matches[0]
	return b, nil
}

func goCmd(src string, env []string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = src
	cmd.Env = append(append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false"), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func buildInto(src, dir string) error {
	const mod = "github.com/opencontainers/runtime-tools"
	if err := os.MkdirAll(filepath.Join(dir, "tests"), 0o755); err != nil {
		return err
	}
	if err := goCmd(src, nil, "mod", "download", mod); err != nil {
		return err
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("find %s: %w", mod, err)
	}
	modDir := strings.TrimSpace(string(out))
	tarball := "rootfs-amd64.tar.gz"
	if err := copyFile(filepath.Join(dir, tarball), filepath.Join(modDir, tarball), 0o644); err != nil {
		return err
	}
	var pkgs, negative []string
	ents, err := os.ReadDir(filepath.Join(modDir, "validation"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.IsDir() || e.Name() == "util" {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(modDir, "validation", e.Name(), "*.go"))
		if len(files) == 0 {
			continue
		}
		pkgs = append(pkgs, mod+"/validation/"+e.Name())
		// A program that prints no TAP and only checks that create fails
		// is judged by its exit status.
		var all string
		for _, f := range files {
			data, _ := os.ReadFile(f)
			all += string(data)
		}
		if !strings.Contains(all, "mndrix/tap-go") && strings.Contains(all, "if err == nil {") {
			negative = append(negative, e.Name())
		}
	}
	static := []string{"CGO_ENABLED=0"}
	if err := goCmd(src, static, "build", "-o", filepath.Join(dir, "runtimetest"), mod+"/cmd/runtimetest"); err != nil {
		return err
	}
	if err := goCmd(src, nil, append([]string{"build", "-o", filepath.Join(dir, "tests") + "/"}, pkgs...)...); err != nil {
		return err
	}
	if err := goCmd(src, static, "build", "-o", filepath.Join(dir, "shim"), "./shim"); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "negative"), []byte(strings.Join(negative, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "done"), nil, 0o644)
}
