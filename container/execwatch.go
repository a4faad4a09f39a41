package container

import (
	"encoding/binary"
	"errors"
	"strings"
	"syscall"

	"github.com/minirunc/minirunc/kfile"
	"golang.org/x/sys/unix"
)

// execWatch tells when a process has finished an execve, for poststart
// hooks, which the spec runs "after the user-specified process is
// executed". The exec fifo's hangup comes from inside execve (when
// close-on-exec fds are closed, before the new program is loaded), so a
// hook started then races the program's first steps. The kernel's process
// events connector reports an exec once it has succeeded.
type execWatch struct{ fd int }

// Process events connector (linux/cn_proc.h, linux/connector.h).
const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
	procEventExec     = 2
	cnMsgLen          = 20 // struct cn_msg: id{idx,val}, seq, ack, len, flags
)

// watchExec subscribes to exec events; nil when they cannot be had (no
// CAP_NET_ADMIN, or a pid namespace other than the initial one, whose pids
// the events do not speak). It must be called before the process can exec.
func watchExec() *execWatch {
	status, err := kfile.Read("/proc/self/status")
	if err != nil {
		return nil
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "NSpid:" && len(f) != 2 {
			return nil
		}
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil
	}
	msg := make([]byte, unix.NLMSG_HDRLEN+cnMsgLen+4)
	le := binary.LittleEndian
	le.PutUint32(msg[0:], uint32(len(msg)))
	le.PutUint16(msg[4:], unix.NLMSG_DONE)
	cn := msg[unix.NLMSG_HDRLEN:]
	le.PutUint32(cn[0:], cnIdxProc)
	le.PutUint32(cn[4:], cnValProc)
	le.PutUint16(cn[16:], 4)
	le.PutUint32(cn[cnMsgLen:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil
	}
	return &execWatch{fd: fd}
}

// wait returns once pid has completed an execve, has exited (pidfd
// readable), or the events overflowed (then it cannot tell, and returns).
func (w *execWatch) wait(pid, pidfd int) {
	buf := make([]byte, 16384)
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			n, _, err := unix.Recvfrom(w.fd, buf, 0)
			if err != nil {
				if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
					continue
				}
				return // ENOBUFS: events were lost
			}
			if execIn(buf[:n], pid) {
				return
			}
		} else if fds[1].Revents != 0 || fds[0].Revents != 0 {
			return
		}
	}
}

// execIn reports an exec event of process pid among the netlink messages.
func execIn(data []byte, pid int) bool {
	msgs, err := syscall.ParseNetlinkMessage(data)
	if err != nil {
		return false
	}
	le := binary.LittleEndian
	for _, m := range msgs {
		// proc_event after the cn_msg: what, cpu, timestamp_ns, then
		// exec_proc_event{process_pid, process_tgid}.
		ev := m.Data
		if len(ev) < cnMsgLen+24 {
			continue
		}
		ev = ev[cnMsgLen:]
		if le.Uint32(ev[0:]) == procEventExec && int(le.Uint32(ev[20:])) == pid {
			return true
		}
	}
	return false
}

func (w *execWatch) close() { unix.Close(w.fd) }
