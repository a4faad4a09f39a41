package cgroup

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// devRule is a device cgroup rule in normalised form.
type devRule struct {
	typ          byte  // 'a', 'b' or 'c'
	major, minor int64 // -1: any
	access       string
	allow        bool
}

func wild() *int64       { v := int64(-1); return &v }
func num(n int64) *int64 { return &n }

// DefaultAllow is runc's list of devices every container may use, added
// after the spec's rules (Docker and Podman send a deny-all and rely on
// it): mknod of any node, null, random, full, tty, zero, urandom, the pts
// and ptmx.
var DefaultAllow = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Major: wild(), Minor: wild(), Access: "m"},
	{Allow: true, Type: "b", Major: wild(), Minor: wild(), Access: "m"},
	{Allow: true, Type: "c", Major: num(1), Minor: num(3), Access: "rwm"},
	{Allow: true, Type: "c", Major: num(1), Minor: num(8), Access: "rwm"},
	{Allow: true, Type: "c", Major: num(1), Minor: num(7), Access: "rwm"},
	{Allow: true, Type: "c", Major: num(5), Minor: num(0), Access: "rwm"},
	{Allow: true, Type: "c", Major: num(1), Minor: num(5), Access: "rwm"},
	{Allow: true, Type: "c", Major: num(1), Minor: num(9), Access: "rwm"},
	{Allow: true, Type: "c", Major: num(136), Minor: wild(), Access: "rwm"},
	{Allow: true, Type: "c", Major: num(5), Minor: num(2), Access: "rwm"},
}

// deviceRules is the spec's rules followed by DefaultAllow, normalised:
// an empty type is "a", an absent number any, an empty access "rwm".
func deviceRules(spec []specs.LinuxDeviceCgroup) []devRule {
	var out []devRule
	for _, d := range append(append([]specs.LinuxDeviceCgroup{}, spec...), DefaultAllow...) {
		r := devRule{typ: 'a', major: -1, minor: -1, access: d.Access, allow: d.Allow}
		if d.Type != "" {
			r.typ = d.Type[0]
		}
		if d.Major != nil {
			r.major = *d.Major
		}
		if d.Minor != nil {
			r.minor = *d.Minor
		}
		if r.access == "" {
			r.access = "rwm"
		}
		out = append(out, r)
	}
	return out
}

// v1String is the rule as devices.allow and devices.deny take it.
func (r devRule) v1String() string {
	if r.typ == 'a' {
		return "a"
	}
	n := func(v int64) string {
		if v < 0 {
			return "*"
		}
		return strconv.FormatInt(v, 10)
	}
	return fmt.Sprintf("%c %s:%s %s", r.typ, n(r.major), n(r.minor), r.access)
}

// devices applies the device rules: devices.allow/deny where the devices
// controller is on v1, else an eBPF program on the cgroup2 directory.
func (a *applier) devices(spec []specs.LinuxDeviceCgroup) error {
	rules := deviceRules(spec)
	if dir, ok := a.p.V1["devices"]; ok {
		// The kernel applies each write in order, as the spec orders
		// the rules: "a" resets the default, the others are exceptions.
		for _, r := range rules {
			file := "devices.deny"
			if r.allow {
				file = "devices.allow"
			}
			if err := writeFile(dir, file, r.v1String()); err != nil {
				return fmt.Errorf("linux.resources.devices: %w", err)
			}
		}
		return nil
	}
	if a.p.V2 == "" {
		return nil
	}
	if err := attachDeviceFilter(a.p.V2, emulate(rules)); err != nil {
		return fmt.Errorf("linux.resources.devices: %w", err)
	}
	return nil
}

// devState is what v1's devices controller would hold after a list of
// rules: a default and exceptions to it. v2 has no such controller, so
// the rules are run through this emulation and the result becomes the
// eBPF program, which makes a v2 container see what a v1 one sees. A new
// state denies everything, as runc's v2 filter does.
type devState struct {
	defaultAllow bool
	exceptions   []devRule
}

func emulate(rules []devRule) devState {
	var s devState
	for _, r := range rules {
		s.apply(r)
	}
	return s
}

// apply mirrors the kernel (security/device_cgroup.c): "a" sets the
// default and clears the exceptions; a rule that agrees with the default
// takes its access out of the exception for the same device; a rule that
// differs adds an exception (or access to an existing one).
func (s *devState) apply(r devRule) {
	if r.typ == 'a' {
		s.defaultAllow = r.allow
		s.exceptions = nil
		return
	}
	for i := 0; i < len(s.exceptions); i++ {
		e := &s.exceptions[i]
		if e.typ != r.typ || e.major != r.major || e.minor != r.minor {
			continue
		}
		if r.allow == s.defaultAllow {
			e.access = strings.Map(func(c rune) rune {
				if strings.ContainsRune(r.access, c) {
					return -1
				}
				return c
			}, e.access)
			if e.access == "" {
				s.exceptions = append(s.exceptions[:i], s.exceptions[i+1:]...)
			}
			return
		}
		for _, c := range r.access {
			if !strings.ContainsRune(e.access, c) {
				e.access += string(c)
			}
		}
		return
	}
	if r.allow != s.defaultAllow {
		s.exceptions = append(s.exceptions, r)
	}
}
