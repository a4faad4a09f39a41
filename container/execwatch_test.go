package container

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// event builds one netlink message of the process events connector.
func event(what, pid, tgid uint32) []byte {
	le := binary.LittleEndian
	msg := make([]byte, unix.NLMSG_HDRLEN+cnMsgLen+24)
	le.PutUint32(msg[0:], uint32(len(msg)))
	le.PutUint16(msg[4:], unix.NLMSG_DONE)
	ev := msg[unix.NLMSG_HDRLEN+cnMsgLen:]
	le.PutUint32(ev[0:], what)
	le.PutUint32(ev[16:], pid)
	le.PutUint32(ev[20:], tgid)
	return msg
}

func TestExecIn(t *testing.T) {
	const fork = 1
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"exec of the process", event(procEventExec, 42, 42), true},
		{"exec of another process", event(procEventExec, 7, 7), false},
		{"fork of the process", event(fork, 42, 42), false},
		{"exec after other events", append(event(fork, 42, 42), event(procEventExec, 42, 42)...), true},
		{"truncated", event(procEventExec, 42, 42)[:unix.NLMSG_HDRLEN+cnMsgLen+8], false},
	} {
		if got := execIn(tc.data, 42); got != tc.want {
			t.Errorf("%s: execIn = %v, want %v", tc.name, got, tc.want)
		}
	}
}
