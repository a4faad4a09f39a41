package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// OOMWatcher reports the container's OOM events as they happen: on v1 an
// eventfd registered on memory.oom_control (one event per OOM), on v2 an
// inotify watch on memory.events (one event per new oom_kill).
type OOMWatcher struct {
	C    <-chan struct{} // one value per OOM event; closed when the cgroup goes
	f    *os.File
	once sync.Once
}

// WatchOOM starts watching. It fails when the container has no memory
// controller.
func WatchOOM(dirs []string) (*OOMWatcher, error) {
	p, err := Open(dirs)
	if err != nil {
		return nil, err
	}
	dir, v2, ok := p.controller("memory")
	if !ok {
		return nil, fmt.Errorf("no memory cgroup to watch for OOM events")
	}
	ch := make(chan struct{}, 16)
	w := &OOMWatcher{C: ch}
	if v2 {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return nil, fmt.Errorf("inotify_init1: %w", err)
		}
		events := filepath.Join(dir, "memory.events")
		if _, err := unix.InotifyAddWatch(fd, events, unix.IN_MODIFY|unix.IN_DELETE_SELF); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("watch %s: %w", events, err)
		}
		w.f = os.NewFile(uintptr(fd), "inotify")
		last := readKV(dir, "memory.events")["oom_kill"]
		go w.loop(ch, func() int {
			n := readKV(dir, "memory.events")["oom_kill"]
			d := int(n - last)
			last = n
			return d
		}, events)
		return w, nil
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		unix.Close(efd)
		return nil, err
	}
	defer ctl.Close()
	if err := writeFile(dir, "cgroup.event_control", fmt.Sprintf("%d %d", efd, ctl.Fd())); err != nil {
		unix.Close(efd)
		return nil, err
	}
	w.f = os.NewFile(uintptr(efd), "eventfd")
	go w.loop(ch, func() int { return 1 }, filepath.Join(dir, "cgroup.event_control"))
	return w, nil
}

// loop reads wake-ups until the file is closed or the cgroup is gone
// (v1 signals the eventfd on rmdir too; stillThere tells them apart).
func (w *OOMWatcher) loop(ch chan<- struct{}, count func() int, stillThere string) {
	defer close(ch)
	buf := make([]byte, 4096)
	for {
		if _, err := w.f.Read(buf); err != nil {
			return
		}
		if _, err := os.Stat(stillThere); err != nil {
			return
		}
		for n := count(); n > 0; n-- {
			ch <- struct{}{}
		}
	}
}

// Close stops the watch.
func (w *OOMWatcher) Close() {
	w.once.Do(func() { w.f.Close() })
}

// OOMKills reads how many processes the kernel's OOM killer has killed in
// the container's memory cgroup (v1 memory.oom_control, v2 memory.events).
func OOMKills(dirs []string) uint64 {
	p, err := Open(dirs)
	if err != nil {
		return 0
	}
	dir, v2, ok := p.controller("memory")
	if !ok {
		return 0
	}
	if v2 {
		return readKV(dir, "memory.events")["oom_kill"]
	}
	return readKV(dir, "memory.oom_control")["oom_kill"]
}
