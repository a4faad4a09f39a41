package monitor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/minirunc/minirunc/dock/runtime"
	"golang.org/x/sys/unix"
)

// Run is the monitor of container id. fd 3 is the status pipe the
// starting command reads (one JSON StartResult); fd 4, when open, is an
// attached client's stream. It returns the monitor's exit code.
func Run(m *container.Manager, id string) int {
	status := os.NewFile(3, "status")
	var attach *attachConn
	if _, err := unix.FcntlInt(4, unix.F_GETFD, 0); err == nil {
		attach = &attachConn{conn: os.NewFile(4, "attach")}
	}
	report := func(r container.StartResult) {
		if status != nil {
			json.NewEncoder(status).Encode(r)
			status.Close()
			status = nil
		}
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		report(container.StartResult{Code: 125, Err: "subreaper: " + err.Error()})
		return 1
	}
	start, _ := container.ProcStart(os.Getpid())
	c, err := m.Update(id, func(c *container.Container) error {
		if c.IsActive() && c.MonitorAlive() {
			return fmt.Errorf("container %s is already running", c.DisplayName())
		}
		c.State.MonitorPid, c.State.MonitorStart = os.Getpid(), start
		c.HasBeenManuallyStopped = false
		return nil
	})
	if err != nil {
		report(container.StartResult{Code: 125, Err: err.Error()})
		return 1
	}
	_, hc, err := m.Load(id)
	if err != nil {
		report(container.StartResult{Code: 125, Err: err.Error()})
		return 1
	}
	logw, err := newLogWriter(c.LogPath)
	if err != nil {
		report(container.StartResult{Code: 125, Err: err.Error()})
		return 1
	}
	r := &runner{m: m, c: c, hc: hc, log: logw, attach: attach}
	defer func() { r.ports.close() }()
	if attach != nil {
		go r.readAttach()
	}
	code, oom := 0, false
	for first := true; ; first = false {
		res, pid := r.startOnce()
		if res.Err != "" {
			if first {
				r.ports.close()
			}
			m.Teardown(c)
			m.Update(id, func(c *container.Container) error {
				c.State = container.State{Status: container.Created, ExitCode: res.Code, Error: res.Err,
					FinishedAt: time.Now().UTC()}
				c.NetworkSettings = nil
				if !first {
					c.State.Status = container.Exited
				}
				return nil
			})
			code = res.Code
			if first {
				m.Update(id, func(c *container.Container) error { c.State.MonitorPid, c.State.MonitorStart = 0, 0; return nil })
				if hc.AutoRemove {
					m.Destroy(id)
				}
				report(res)
				attach.send(FrameExit, []byte(strconv.Itoa(code)))
				return 0
			}
			break
		}
		report(res)
		code = r.wait(pid)
		oom = m.OOMKilled(c)
		m.RT.Delete(id, true)
		cur, _, err := m.Load(id)
		if err != nil {
			return 0
		}
		if !r.shouldRestart(cur, code) {
			break
		}
		delay := time.Duration(100<<min(cur.RestartCount, 8)) * time.Millisecond
		m.Update(id, func(c *container.Container) error {
			c.RestartCount++
			c.State.Status, c.State.Restarting, c.State.Running = container.Restarting, true, false
			c.State.ExitCode, c.State.FinishedAt, c.State.Pid = code, time.Now().UTC(), 0
			c.State.OOMKilled = oom
			return nil
		})
		time.Sleep(delay)
		if cur, _, err = m.Load(id); err != nil || cur.HasBeenManuallyStopped {
			break
		}
	}
	r.ports.close()
	m.Teardown(c)
	m.Update(id, func(c *container.Container) error {
		c.State.Status, c.State.Running, c.State.Paused, c.State.Restarting = container.Exited, false, false, false
		c.State.ExitCode, c.State.FinishedAt, c.State.Pid = code, time.Now().UTC(), 0
		c.State.OOMKilled = oom
		c.State.MonitorPid, c.State.MonitorStart = 0, 0
		c.NetworkSettings = nil
		return nil
	})
	if hc.AutoRemove {
		m.Destroy(id)
	}
	attach.send(FrameExit, []byte(strconv.Itoa(code)))
	return 0
}

func (r *runner) shouldRestart(c *container.Container, code int) bool {
	if c.HasBeenManuallyStopped || r.hc.AutoRemove {
		return false
	}
	p := r.hc.RestartPolicy
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.MaximumRetryCount == 0 || c.RestartCount < p.MaximumRetryCount)
	}
	return false
}

type runner struct {
	m      *container.Manager
	c      *container.Container
	hc     *container.HostConfig
	log    *logWriter
	attach *attachConn
	ports  *proxy // the published ports

	mu      sync.Mutex
	stdin   io.WriteCloser // the container's stdin (pipe or pty master)
	master  *os.File
	copiers sync.WaitGroup
}

// startOnce prepares the bundle and runs minirunc create and start.
func (r *runner) startOnce() (container.StartResult, int) {
	m, c := r.m, r.c
	fail := func(code int, err error) (container.StartResult, int) {
		return container.StartResult{Code: code, Err: err.Error()}, 0
	}
	if r.ports == nil && len(r.hc.PortBindings) > 0 {
		p, err := openPorts(r.hc)
		if err != nil {
			return fail(125, err)
		}
		r.ports = p
	}
	bundle, err := m.Prepare(c, r.hc)
	if err != nil {
		return fail(125, err)
	}
	r.ports.setTarget(c)
	run := m.RunDir(c.ID)
	pidFile := filepath.Join(run, "init.pid")
	os.Remove(pidFile)
	rtLog := filepath.Join(run, "runtime.log")
	os.Remove(rtLog)
	args := []string{"--log", rtLog, "--log-format", "json", "create", "--bundle", bundle, "--pid-file", pidFile}

	var closeAfter []*os.File
	devnull, _ := os.Open(os.DevNull)
	closeAfter = append(closeAfter, devnull)
	cmd := m.RT.Command()
	var consoleDone chan *os.File
	var outR, errR *os.File
	if c.Config.Tty {
		sockDir, err := os.MkdirTemp("", "minidock-console-")
		if err != nil {
			return fail(125, err)
		}
		defer os.RemoveAll(sockDir)
		sock := filepath.Join(sockDir, "c.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			return fail(125, err)
		}
		defer ln.Close()
		consoleDone = make(chan *os.File, 1)
		go func() { consoleDone <- receiveFd(ln.(*net.UnixListener)) }()
		args = append(args, "--console-socket", sock)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	} else {
		var outW, errW *os.File
		if outR, outW, err = os.Pipe(); err != nil {
			return fail(125, err)
		}
		if errR, errW, err = os.Pipe(); err != nil {
			return fail(125, err)
		}
		closeAfter = append(closeAfter, outW, errW)
		cmd.Stdout, cmd.Stderr, cmd.Stdin = outW, errW, devnull
		if c.Config.OpenStdin {
			inR, inW, err := os.Pipe()
			if err != nil {
				return fail(125, err)
			}
			closeAfter = append(closeAfter, inR)
			cmd.Stdin = inR
			r.mu.Lock()
			r.stdin = inW
			r.mu.Unlock()
		}
	}
	cmd.Args = append(cmd.Args, args...)
	cmd.Args = append(cmd.Args, c.ID)
	err = cmd.Run()
	for _, f := range closeAfter {
		f.Close()
	}
	if err != nil {
		if outR != nil {
			outR.Close()
			errR.Close()
		}
		msg := runtimeError(rtLog, err)
		return fail(runtime.ExitCodeFor(msg), fmt.Errorf("failed to create the container: %s", msg))
	}
	if c.Config.Tty {
		var master *os.File
		select {
		case master = <-consoleDone:
		case <-time.After(10 * time.Second):
		}
		if master == nil {
			m.RT.Delete(c.ID, true)
			return fail(125, fmt.Errorf("no console from the runtime"))
		}
		r.mu.Lock()
		r.master, r.stdin = master, master
		r.mu.Unlock()
		r.copy(master, "stdout", FrameStdout)
	} else {
		r.copy(outR, "stdout", FrameStdout)
		r.copy(errR, "stderr", FrameStderr)
	}
	data, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if _, err := m.RT.Run("start", c.ID); err != nil || pid <= 0 {
		m.RT.Delete(c.ID, true)
		if err == nil {
			err = fmt.Errorf("no pid from the runtime")
		}
		r.drain()
		return fail(runtime.ExitCodeFor(err.Error()), fmt.Errorf("failed to start the container: %v", err))
	}
	m.Update(c.ID, func(c *container.Container) error {
		c.State.Status, c.State.Running, c.State.Paused, c.State.Restarting = container.Running, true, false, false
		c.State.Pid, c.State.StartedAt, c.State.Error = pid, time.Now().UTC(), ""
		return nil
	})
	return container.StartResult{Pid: pid}, pid
}

// runtimeError is the last error minirunc logged, or err.
func runtimeError(logPath string, err error) string {
	msg := err.Error()
	f, ferr := os.Open(logPath)
	if ferr != nil {
		return msg
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && strings.EqualFold(e.Level, "error") && e.Msg != "" {
			msg = e.Msg
		}
	}
	return msg
}

// copy relays one output of the container to the log and the client.
func (r *runner) copy(src *os.File, stream string, frame byte) {
	r.copiers.Add(1)
	go func() {
		defer r.copiers.Done()
		defer src.Close()
		ls := &lineSplitter{l: r.log, stream: stream}
		buf := make([]byte, 32*1024)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				ls.Write(buf[:n])
				r.attach.send(frame, append([]byte(nil), buf[:n]...))
			}
			if err != nil {
				break
			}
		}
		ls.flush()
	}()
}

// drain waits for the copiers, at most a few seconds.
func (r *runner) drain() {
	done := make(chan struct{})
	go func() { r.copiers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
	r.mu.Lock()
	if r.stdin != nil && r.stdin != io.WriteCloser(r.master) {
		r.stdin.Close()
	}
	if r.master != nil {
		r.master.Close()
	}
	r.stdin, r.master = nil, nil
	r.mu.Unlock()
}

// wait reaps children until pid exits and returns Docker's exit code.
func (r *runner) wait(pid int) int {
	code := 0
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			code = 255
			break
		}
		if wpid == pid {
			switch {
			case ws.Exited():
				code = ws.ExitStatus()
			case ws.Signaled():
				code = 128 + int(ws.Signal())
			}
			break
		}
	}
	r.drain()
	return code
}

// readAttach relays the client's frames: stdin, its end, resizes.
func (r *runner) readAttach() {
	for {
		t, p, err := ReadFrame(r.attach.conn)
		if err != nil {
			return
		}
		r.mu.Lock()
		in, master := r.stdin, r.master
		r.mu.Unlock()
		switch t {
		case FrameStdin:
			if in != nil {
				in.Write(p)
			}
		case FrameStdinClose:
			if in != nil && master == nil {
				in.Close()
				r.mu.Lock()
				r.stdin = nil
				r.mu.Unlock()
			}
		case FrameResize:
			var rows, cols uint16
			if _, err := fmt.Sscan(string(p), &rows, &cols); err == nil && master != nil {
				unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
			}
		}
	}
}

// receiveFd accepts one connection on ln and returns the fd it carries
// (the runtime's console-socket protocol).
func receiveFd(ln *net.UnixListener) *os.File {
	ln.SetDeadline(time.Now().Add(30 * time.Second))
	conn, err := ln.AcceptUnix()
	if err != nil {
		return nil
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return nil
	}
	return os.NewFile(uintptr(fds[0]), "console")
}
