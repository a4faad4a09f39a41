// Package freezer pauses and resumes every process of a container: v1's
// freezer.state (FROZEN/THAWED) where the freezer controller is on v1 (a
// hybrid host included, as runc and Docker use it), else v2's
// cgroup.freeze. Freezing waits until the kernel reports the cgroup
// frozen, with a bounded retry, and thaws again on timeout.
package freezer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minirunc/minirunc/kfile"
)

// State is what the freezer reports.
type State string

// States.
const (
	Thawed   State = "THAWED"
	Freezing State = "FREEZING"
	Frozen   State = "FROZEN"
)

// Timeout bounds how long Freeze waits for the kernel.
var Timeout = 10 * time.Second

// ErrNoFreezer means the container has no freezer: no v1 freezer.state
// and no v2 cgroup.freeze among its directories.
var ErrNoFreezer = errors.New("the container's cgroups have no freezer")

// file finds the control file: v1's freezer.state first, else v2's
// cgroup.freeze.
func file(dirs []string) (path string, v2 bool, err error) {
	for _, d := range freezerFirst(dirs) {
		p := filepath.Join(d, "freezer.state")
		if _, err := os.Stat(p); err == nil {
			return p, false, nil
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "cgroup.freeze")
		if _, err := os.Stat(p); err == nil {
			return p, true, nil
		}
	}
	return "", false, ErrNoFreezer
}

// GetState reads the freezer's state. It is asked for every container a
// list shows: the v1 file is read where it should be, without looking for
// it first.
func GetState(dirs []string) (State, error) {
	for _, d := range dirs {
		if !strings.Contains(d, "freezer") {
			continue
		}
		data, err := kfile.Read(filepath.Join(d, "freezer.state"))
		if err == nil {
			return State(strings.TrimSpace(string(data))), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	p, v2, err := file(dirs)
	if err != nil {
		return "", err
	}
	return read(p, v2)
}

// freezerFirst orders dirs with those named like a v1 freezer hierarchy
// (.../freezer/..., nearly everywhere) first.
func freezerFirst(dirs []string) []string {
	ordered := make([]string, 0, len(dirs))
	for _, d := range dirs {
		if strings.Contains(d, "freezer") {
			ordered = append(ordered, d)
		}
	}
	for _, d := range dirs {
		if !strings.Contains(d, "freezer") {
			ordered = append(ordered, d)
		}
	}
	return ordered
}

func read(p string, v2 bool) (State, error) {
	if !v2 {
		data, err := kfile.Read(p)
		if err != nil {
			return "", err
		}
		return State(strings.TrimSpace(string(data))), nil
	}
	data, err := kfile.Read(p)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(string(data)) != "1" {
		return Thawed, nil
	}
	// cgroup.freeze says what was asked; cgroup.events says whether the
	// kernel has done it.
	events, err := kfile.Read(filepath.Join(filepath.Dir(p), "cgroup.events"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(events), "\n") {
		if line == "frozen 1" {
			return Frozen, nil
		}
	}
	return Freezing, nil
}

// Freeze freezes the container and waits until the kernel reports it
// frozen. A v1 freeze can stall in FREEZING for good: a task in an
// uninterruptible sleep, or a process in the middle of execve waiting for
// threads the freezer already froze. So the request is repeated while
// waiting, and every few rounds the cgroup is thawed for a moment to let
// such a task finish; after Timeout it is thawed again and an error
// returned.
func Freeze(dirs []string) error {
	p, v2, err := file(dirs)
	if err != nil {
		return err
	}
	want := "FROZEN"
	if v2 {
		want = "1"
	}
	deadline := time.Now().Add(Timeout)
	delay := time.Millisecond
	round := 0
	for {
		if err := os.WriteFile(p, []byte(want), 0); err != nil {
			return fmt.Errorf("freeze: write %s: %w", p, err)
		}
		st, err := read(p, v2)
		if err != nil {
			return fmt.Errorf("freeze: read %s: %w", p, err)
		}
		if st == Frozen {
			return nil
		}
		if time.Now().After(deadline) {
			_ = Thaw(dirs)
			return fmt.Errorf("freeze: the cgroup did not freeze within %s (state %s); thawed it again", Timeout, st)
		}
		time.Sleep(delay)
		if delay < 50*time.Millisecond {
			delay *= 2
		}
		if round++; round%4 == 0 && !v2 {
			if err := os.WriteFile(p, []byte("THAWED"), 0); err != nil {
				return fmt.Errorf("freeze: write %s: %w", p, err)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// Thaw resumes the container and waits until it is thawed.
func Thaw(dirs []string) error {
	p, v2, err := file(dirs)
	if err != nil {
		return err
	}
	want := "THAWED"
	if v2 {
		want = "0"
	}
	deadline := time.Now().Add(Timeout)
	delay := time.Millisecond
	for {
		if err := os.WriteFile(p, []byte(want), 0); err != nil {
			return fmt.Errorf("thaw: write %s: %w", p, err)
		}
		st, err := read(p, v2)
		if err != nil {
			return fmt.Errorf("thaw: read %s: %w", p, err)
		}
		if st == Thawed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("thaw: the cgroup did not thaw within %s (state %s)", Timeout, st)
		}
		time.Sleep(delay)
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}
