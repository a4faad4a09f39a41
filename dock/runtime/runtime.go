// Package runtime calls the minirunc binary through the OCI runtime CLI
// (create, start, state, kill, delete, exec, pause, resume, ps), the way
// containerd's shim calls runc. minidock never imports the runtime's own
// packages.
package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Runtime is a minirunc binary with its state root.
type Runtime struct {
	Binary string
	Root   string
}

// Find locates the minirunc binary: the given path, the one beside this
// executable, or the one on $PATH.
func Find(given string) (string, error) {
	if given != "" {
		return filepath.Abs(given)
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "minirunc")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("minirunc")
	if err != nil {
		return "", fmt.Errorf("minirunc not found beside minidock or on $PATH (use --runtime)")
	}
	return p, nil
}

// Command builds `minirunc --root R args...`.
func (r *Runtime) Command(args ...string) *exec.Cmd {
	return exec.Command(r.Binary, append([]string{"--root", r.Root}, args...)...)
}

// Run runs a call and returns its stdout; the error carries minirunc's
// own message.
func (r *Runtime) Run(args ...string) ([]byte, error) {
	cmd := r.Command(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "minirunc: "))
		if msg == "" {
			msg = err.Error()
		}
		return stdout.Bytes(), fmt.Errorf("%s", msg)
	}
	return stdout.Bytes(), nil
}

// State is the part of `minirunc state` minidock reads.
type State struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Pid    int    `json:"pid"`
}

// State returns the runtime's state of id.
func (r *Runtime) State(id string) (*State, error) {
	out, err := r.Run("state", id)
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("minirunc state: %w", err)
	}
	return &st, nil
}

// Kill sends sig to the container's init (all its processes with all).
func (r *Runtime) Kill(id, sig string, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	_, err := r.Run(append(args, id, sig)...)
	return err
}

// Delete removes the runtime's container, killing it first with force.
func (r *Runtime) Delete(id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := r.Run(append(args, id)...)
	return err
}

// Exists reports whether the runtime knows id.
func (r *Runtime) Exists(id string) bool {
	_, err := os.Stat(filepath.Join(r.Root, id))
	return err == nil
}

// ExitCodeFor maps a runtime error starting a process to Docker's exit
// codes: 127 not found, 126 not executable, 125 otherwise.
func ExitCodeFor(msg string) int {
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "exec format error"), strings.Contains(msg, "is a directory"):
		return 126
	}
	return 125
}
