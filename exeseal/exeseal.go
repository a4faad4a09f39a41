// Package exeseal protects the host's minirunc binary from the container
// (CVE-2019-5736). `minirunc init` runs inside the container's namespaces
// before it execs the user's program, and for that moment a container
// process could reach the binary through /proc/<pid>/exe and write to it
// once the runtime exits. So init is not started from the binary on disk
// but from a sealed memfd copy: writes, truncation and growth are refused
// by the kernel for as long as the copy exists.
package exeseal

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// SealedSelf returns a sealed, close-on-exec memfd holding this binary;
// exec it through /proc/self/fd/N.
func SealedSelf() (*os.File, error) {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own binary: %w", err)
	}
	defer self.Close()
	fd, err := unix.MemfdCreate("minirunc", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err != nil {
		// Kernels before 6.3 do not know MFD_EXEC.
		fd, err = unix.MemfdCreate("minirunc", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "minirunc-sealed")
	st, err := self.Stat()
	if err == nil {
		_, err = io.Copy(mem, self)
	}
	if err == nil {
		var mst os.FileInfo
		if mst, err = mem.Stat(); err == nil && mst.Size() != st.Size() {
			err = fmt.Errorf("short copy: %d of %d bytes", mst.Size(), st.Size())
		}
	}
	if err == nil {
		const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
		_, err = unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals)
	}
	if err != nil {
		mem.Close()
		return nil, fmt.Errorf("seal a copy of the binary: %w", err)
	}
	return mem, nil
}
