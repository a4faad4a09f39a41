// Package syncpipe is the protocol between `minirunc create` (the parent)
// and `minirunc init` (the container side) over their socketpair. Each
// message is one JSON object; every step the child takes answers success or
// a typed error, so a failure inside the container reaches the user as one
// line and the parent knows to tear down.
//
//	parent -> child   Config            once the child's cgroups exist
//	parent -> child   {"type":"cgroups"} the child sits in its cgroups, with
//	                                     their limits: the child makes its
//	                                     mounts meanwhile, and waits for this
//	                                     before a cgroup namespace and hooks
//	child  -> parent  {"type":"hooks"}  mounts done: run prestart, createRuntime
//	parent -> child   {"type":"hooksDone"}
//	child  -> parent  {"type":"ready"}  about to wait on the exec fifo
//	child  -> parent  {"type":"error","msg":...}  at any step; the child exits
package syncpipe

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/minirunc/minirunc/cgroup"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Message types.
const (
	TypeCgroups   = "cgroups"
	TypeHooks     = "hooks"
	TypeHooksDone = "hooksDone"
	TypeReady     = "ready"
	TypeError     = "error"
)

// Config is everything init needs, sent once by the parent.
type Config struct {
	ID           string          `json:"id"`
	Bundle       string          `json:"bundle"`
	Rootfs       string          `json:"rootfs"`
	SpecJSON     json.RawMessage `json:"spec,omitempty"` // sent by SendConfig
	Spec         *specs.Spec     `json:"-"`              // SpecJSON decoded by DecodeSpec
	NoPivot      bool            `json:"noPivot,omitempty"`
	NoNewKeyring bool            `json:"noNewKeyring,omitempty"`
	PreserveFDs  int             `json:"preserveFds,omitempty"`
	CgroupDirs   []string        `json:"cgroupDirs,omitempty"`
	// CgroupMounts are the host's cgroup hierarchies as the runtime read
	// them, for init's /sys/fs/cgroup (see cgroup.UseHierarchies).
	CgroupMounts []cgroup.Hierarchy `json:"cgroupMounts,omitempty"`
	State        *specs.State       `json:"state"` // for createContainer and startContainer hooks
	// SeccompBPF is linux.seccomp compiled (seccomp.Program.BPF): the
	// runtime compiles it, or finds it in its cache, while init starts.
	SeccompBPF   []byte `json:"seccompBPF,omitempty"`
	SeccompFlags uint64 `json:"seccompFlags,omitempty"` // and its seccomp(2) flags
}

// SetSpec records the spec to send: raw, its encoding when the caller
// has it (config.json as read), else encoded here. Encoding a spec costs a
// process its first use of reflection over every spec type.
func (c *Config) SetSpec(s *specs.Spec, raw []byte) error {
	c.Spec = s
	if raw != nil {
		c.SpecJSON = raw
		return nil
	}
	var err error
	c.SpecJSON, err = json.Marshal(s)
	return err
}

// initSpec is the part of the spec init reads; DecodeSpec fills only
// these fields of Config.Spec. Decoding a type makes encoding/json analyse
// every type reachable from it, on first use in a process: the whole
// specs.Spec costs init about 0.7 ms, this view about half. A field init
// starts to use must be added here.
type initSpec struct {
	Version     string            `json:"ociVersion"`
	Process     *specs.Process    `json:"process"`
	Root        *specs.Root       `json:"root"`
	Hostname    string            `json:"hostname"`
	Domainname  string            `json:"domainname"`
	Mounts      []specs.Mount     `json:"mounts"`
	Annotations map[string]string `json:"annotations"`
	Hooks       *struct {
		CreateContainer []specs.Hook `json:"createContainer"`
		StartContainer  []specs.Hook `json:"startContainer"`
	} `json:"hooks"`
	Linux *struct {
		Namespaces        []specs.LinuxNamespace `json:"namespaces"`
		UIDMappings       []specs.LinuxIDMapping `json:"uidMappings"`
		GIDMappings       []specs.LinuxIDMapping `json:"gidMappings"`
		Devices           []specs.LinuxDevice    `json:"devices"`
		Sysctl            map[string]string      `json:"sysctl"`
		Seccomp           *SeccompListener       `json:"seccomp"`
		RootfsPropagation string                 `json:"rootfsPropagation"`
		MaskedPaths       []string               `json:"maskedPaths"`
		ReadonlyPaths     []string               `json:"readonlyPaths"`
		MountLabel        string                 `json:"mountLabel"`
	} `json:"linux"`
}

// SeccompListener is what init reads of linux.seccomp, and all exec sends
// of it: the runtime compiles the filter (Config.SeccompBPF), so the
// rules, a few hundred syscall names in Docker's profile, are neither
// sent nor decoded again.
type SeccompListener struct {
	ListenerPath     string `json:"listenerPath,omitempty"`
	ListenerMetadata string `json:"listenerMetadata,omitempty"`
}

// ListenerOf is the listener part of s, nil without s.
func ListenerOf(s *specs.LinuxSeccomp) *SeccompListener {
	if s == nil {
		return nil
	}
	return &SeccompListener{ListenerPath: s.ListenerPath, ListenerMetadata: s.ListenerMetadata}
}

// DecodeSpec decodes the part of the spec the parent sent that init uses
// (see initSpec).
func (c *Config) DecodeSpec() error {
	s, err := DecodeInitSpec(c.SpecJSON)
	if err != nil {
		return fmt.Errorf("sync: decode spec: %w", err)
	}
	c.Spec = s
	return nil
}

// DecodeInitSpec decodes from an encoded spec the fields init reads (see
// initSpec), which are also all that exec reads of its container's.
func DecodeInitSpec(raw []byte) (*specs.Spec, error) {
	var v initSpec
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if v.Process == nil || v.Linux == nil {
		return nil, errors.New("the spec has no process or linux section")
	}
	s := &specs.Spec{Version: v.Version, Process: v.Process, Root: v.Root, Hostname: v.Hostname,
		Domainname: v.Domainname, Mounts: v.Mounts, Annotations: v.Annotations}
	if v.Hooks != nil {
		s.Hooks = &specs.Hooks{CreateContainer: v.Hooks.CreateContainer, StartContainer: v.Hooks.StartContainer}
	}
	l := v.Linux
	s.Linux = &specs.Linux{Namespaces: l.Namespaces, UIDMappings: l.UIDMappings, GIDMappings: l.GIDMappings,
		Devices: l.Devices, Sysctl: l.Sysctl, RootfsPropagation: l.RootfsPropagation,
		MaskedPaths: l.MaskedPaths, ReadonlyPaths: l.ReadonlyPaths, MountLabel: l.MountLabel}
	if l.Seccomp != nil {
		s.Linux.Seccomp = &specs.LinuxSeccomp{ListenerPath: l.Seccomp.ListenerPath, ListenerMetadata: l.Seccomp.ListenerMetadata}
	}
	return s, nil
}

// Message is a step report or request.
type Message struct {
	Type string `json:"type"`
	Msg  string `json:"msg,omitempty"`
	Pid  int    `json:"pid,omitempty"` // the forked init, from nsenter
}

// Pipe is one end of the socketpair.
type Pipe struct {
	f   *os.File
	enc *json.Encoder
	dec *json.Decoder
}

// New wraps an end of the socketpair.
func New(f *os.File) *Pipe {
	return &Pipe{f: f, enc: json.NewEncoder(f), dec: json.NewDecoder(f)}
}

// Send writes one JSON value.
func (p *Pipe) Send(v any) error { return p.enc.Encode(v) }

// SendConfig writes the config with its spec spliced in as it is.
func (p *Pipe) SendConfig(c *Config) error {
	raw := c.SpecJSON
	c.SpecJSON = nil
	data, err := json.Marshal(c)
	c.SpecJSON = raw
	if err != nil {
		return err
	}
	if _, err = p.f.Write(append(WithRawField(data, "spec", raw), '\n')); err != nil {
		// The other side is gone; the line it may have sent first says
		// why (its end closed, so this read does not wait).
		var m Message
		if p.Recv(&m) == nil && m.Type == TypeError {
			return errors.New(m.Msg)
		}
	}
	return err
}

// WithRawField adds "name": raw as the last field of obj, an object as
// json.Marshal encoded it; a nil raw adds nothing. raw must be valid JSON
// (a config.json that decoded, or an encoding): json.Marshal would scan
// and compact it again, which costs a spec with a seccomp profile half a
// millisecond at every write.
func WithRawField(obj []byte, name string, raw []byte) []byte {
	if len(raw) == 0 {
		return obj
	}
	out := make([]byte, 0, len(obj)+len(name)+len(raw)+4)
	out = append(out, obj[:len(obj)-1]...)
	if len(obj) > 2 {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, name...)
	out = append(out, '"', ':')
	out = append(out, raw...)
	return append(out, '}')
}

// SendError reports a failure to the parent.
func (p *Pipe) SendError(err error) { _ = p.enc.Encode(Message{Type: TypeError, Msg: err.Error()}) }

// Recv reads one JSON value into v; io.EOF once the other side is gone.
// That includes ECONNRESET: a socket closed with data unread in it (the
// newline after a message, when the decoder's read ended at its closing
// brace) resets rather than ends the stream.
func (p *Pipe) Recv(v any) error {
	if err := p.dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			return io.EOF
		}
		return err
	}
	return nil
}

// Expect reads one message and checks its type; an error message from the
// other side becomes the returned error.
func (p *Pipe) Expect(typ string) error {
	var m Message
	if err := p.Recv(&m); err != nil {
		return err
	}
	if m.Type == TypeError {
		return errors.New(m.Msg)
	}
	if m.Type != typ {
		return fmt.Errorf("sync: expected %q, got %q", typ, m.Type)
	}
	return nil
}

// Close closes this end.
func (p *Pipe) Close() error { return p.f.Close() }

// File is the underlying socket.
func (p *Pipe) File() *os.File { return p.f }
