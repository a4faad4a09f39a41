// Command recvtty is the receiving end of a console socket, as containerd's
// shim and conmon are: it listens on a unix socket, accepts one connection,
// receives exactly one file descriptor by SCM_RIGHTS (the pty master that
// `minirunc create|run|exec --console-socket` sends), optionally sets the
// pty's window size, writes the given input to it and copies everything the
// container writes to its stdout until the pty closes.
//
//	recvtty [-size ROWSxCOLS] [-input TEXT] [-stdin] [-once=false] SOCKET
//
// Example, in two shells:
//
//	recvtty -size 40x120 /tmp/cs.sock
//	minirunc exec -t --console-socket /tmp/cs.sock ID sh -c 'tty; stty size'
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func main() {
	size := flag.String("size", "", "set the pty window size, ROWSxCOLS, as soon as it arrives")
	input := flag.String("input", "", "text written to the pty once it arrives (\\n for newline)")
	stdin := flag.Bool("stdin", false, "also copy our stdin to the pty")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [flags] SOCKET\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *size, strings.ReplaceAll(*input, `\n`, "\n"), *stdin); err != nil {
		fmt.Fprintln(os.Stderr, "recvtty:", err)
		os.Exit(1)
	}
}

func run(path, size, input string, stdin bool) error {
	var rows, cols uint16
	if size != "" {
		r, c, ok := strings.Cut(size, "x")
		rn, err1 := strconv.ParseUint(r, 10, 16)
		cn, err2 := strconv.ParseUint(c, 10, 16)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("-size %q: want ROWSxCOLS", size)
		}
		rows, cols = uint16(rn), uint16(cn)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return err
	}
	defer ln.Close()
	conn, err := ln.AcceptUnix()
	if err != nil {
		return err
	}
	master, err := recvFd(conn)
	conn.Close()
	if err != nil {
		return err
	}
	defer master.Close()
	if size != "" {
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
			return fmt.Errorf("set window size: %w", err)
		}
	}
	if input != "" {
		if _, err := io.WriteString(master, input); err != nil {
			return fmt.Errorf("write input: %w", err)
		}
	}
	if stdin {
		go func() { _, _ = io.Copy(master, os.Stdin) }()
	}
	// Reading the master fails with EIO once every holder of the slave
	// has closed it: that is the end of the output.
	if _, err := io.Copy(os.Stdout, master); err != nil && !errors.Is(err, unix.EIO) {
		return err
	}
	return nil
}

// recvFd receives exactly one fd by SCM_RIGHTS from conn.
func recvFd(conn *net.UnixConn) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(name, oob)
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return nil, fmt.Errorf("parse rights: %w", err)
		}
		fds = append(fds, got...)
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("got %d file descriptors, want exactly 1", len(fds))
	}
	unix.CloseOnExec(fds[0])
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}
