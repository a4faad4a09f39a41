// Package monitor is the small process that runs beside each running
// container (conmon's role): a child subreaper that calls `minirunc
// create` and `start`, holds the container's stdio (pipes, or the pty
// master received on the console socket), writes Docker's json-file log,
// relays an attached client's stream, records the exit code and finish
// time, runs `minirunc delete`, unmounts, restarts per the restart policy
// and applies --rm. No minidock command has to outlive a container.
package monitor

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Frame types of the attach stream between `run`/`start -a` and the
// monitor: an 8-byte header (type, 3 zero bytes, big-endian length) and
// the payload.
const (
	FrameStdin      = 0
	FrameStdout     = 1
	FrameStderr     = 2
	FrameExit       = 3 // payload: the exit code in decimal
	FrameResize     = 4 // payload: "rows cols"
	FrameStdinClose = 5
)

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, t byte, p []byte) error {
	hdr := make([]byte, 8, 8+len(p))
	hdr[0] = t
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	_, err := w.Write(append(hdr, p...))
	return err
}

// ReadFrame reads one frame.
func ReadFrame(r io.Reader) (byte, []byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame too large")
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// LogEntry is one line of Docker's json-file log.
type LogEntry struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

// logWriter appends json-file entries, one per line of output.
type logWriter struct {
	mu sync.Mutex
	f  *os.File
}

func newLogWriter(path string) (*logWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	return &logWriter{f: f}, nil
}

func (l *logWriter) write(stream string, line []byte) {
	data, _ := json.Marshal(LogEntry{Log: string(line), Stream: stream, Time: time.Now().UTC().Format(time.RFC3339Nano)})
	l.mu.Lock()
	l.f.Write(append(data, '\n'))
	l.mu.Unlock()
}

// lineSplitter cuts a stream into lines for the log (a long line is
// cut at 16 KiB, a last line without newline is written at the end).
type lineSplitter struct {
	l      *logWriter
	stream string
	buf    []byte
}

func (s *lineSplitter) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	for {
		i := indexByte(s.buf, '\n')
		if i < 0 {
			break
		}
		s.l.write(s.stream, s.buf[:i+1])
		s.buf = s.buf[i+1:]
	}
	if len(s.buf) >= 16*1024 {
		s.flush()
	}
	return len(p), nil
}

func (s *lineSplitter) flush() {
	if len(s.buf) > 0 {
		s.l.write(s.stream, s.buf)
		s.buf = nil
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// attachConn is a client's stream, written by several copiers.
type attachConn struct {
	mu   sync.Mutex
	conn io.ReadWriteCloser
	dead bool
}

func (a *attachConn) send(t byte, p []byte) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead {
		return
	}
	if err := WriteFrame(a.conn, t, p); err != nil {
		a.dead = true // the client went away: the container runs on
	}
}
