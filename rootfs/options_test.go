package rootfs

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	p := parseOptions([]string{"rbind", "ro", "nosuid", "rw", "rprivate", "rro", "size=1m", "mode=755", "noexec", "exec"})
	if p.flags != unix.MS_BIND|unix.MS_REC|unix.MS_NOSUID {
		t.Errorf("flags %#x", p.flags)
	}
	if len(p.propagation) != 1 || p.propagation[0] != unix.MS_PRIVATE|unix.MS_REC {
		t.Errorf("propagation %v", p.propagation)
	}
	if p.setAttr != unix.MOUNT_ATTR_RDONLY || p.clearAttr != 0 {
		t.Errorf("attrs set %#x clear %#x", p.setAttr, p.clearAttr)
	}
	if p.dataString() != "size=1m,mode=755" {
		t.Errorf("data %q", p.dataString())
	}
}

// FuzzParseOptions: any option list parses without a panic; every option
// lands in exactly one place (a flag, a propagation, a recursive
// attribute or the filesystem data, in order), and the flags hold only
// bits the tables know.
func FuzzParseOptions(f *testing.F) {
	for _, seed := range []string{
		"nosuid,noexec,nodev,ro",
		"rbind,rprivate,rro,rnosuid",
		"size=65536k,mode=1777,nr_inodes=10",
		"newinstance,ptmxmode=0666,mode=0620,gid=5",
		"bind,remount,rw,suid,dev,exec,atime,strictatime,nostrictatime",
		",,,",
		"rrw,rsuid,rdev,rexec,ratime,rnoatime,rrelatime,rstrictatime",
		"idmap,uidmap=0:1000:1,tmpcopyup",
	} {
		f.Add(seed)
	}
	var known uintptr
	for _, fl := range MountFlags {
		known |= fl.flag
	}
	f.Fuzz(func(t *testing.T, list string) {
		opts := strings.Split(list, ",")
		p := parseOptions(opts)
		if p.flags&^known != 0 {
			t.Fatalf("flags %#x has bits no option names", p.flags)
		}
		var data []string
		props := 0
		for _, o := range opts {
			_, isFlag := MountFlags[o]
			_, isProp := PropagationFlags[o]
			_, isAttr := RecAttrs[o]
			switch {
			case isProp:
				props++
			case o == "tmpcopyup":
				if !p.copyUp {
					t.Fatalf("%q: tmpcopyup not seen", list)
				}
			case !isFlag && !isAttr:
				data = append(data, o)
			}
		}
		if props != len(p.propagation) {
			t.Fatalf("%d propagation options, %d parsed", props, len(p.propagation))
		}
		if strings.Join(data, ",") != p.dataString() {
			t.Fatalf("data %q, want %q", p.dataString(), strings.Join(data, ","))
		}
		if err := checkSetattr(p.setAttr, p.clearAttr); err != "" {
			t.Fatalf("%q: %s", list, err)
		}
	})
}

// checkSetattr applies mount_setattr(2)'s rules: no attribute both set
// and cleared, and the atime field (an enum) either untouched or cleared
// whole with at most one mode set.
func checkSetattr(set, clr uint64) string {
	const atime = unix.MOUNT_ATTR__ATIME
	if set&clr&^atime != 0 {
		return fmt.Sprintf("attributes %#x both set and cleared", set&clr&^atime)
	}
	if clr&atime != 0 && clr&atime != atime {
		return fmt.Sprintf("atime field partly cleared (%#x)", clr&atime)
	}
	if clr&atime == 0 && set&atime != 0 {
		return fmt.Sprintf("atime mode %#x set without clearing the field", set&atime)
	}
	if m := set & atime; m != unix.MOUNT_ATTR_RELATIME && m != unix.MOUNT_ATTR_NOATIME && m != unix.MOUNT_ATTR_STRICTATIME {
		return fmt.Sprintf("atime mode %#x is not one mode", m)
	}
	return ""
}

// TestParseOptionsAtime: the recursive atime options give mount_setattr
// a valid request, the last one winning (rnoatime used to be EINVAL).
func TestParseOptionsAtime(t *testing.T) {
	cases := []struct {
		opts []string
		set  uint64
	}{
		{[]string{"rnoatime"}, unix.MOUNT_ATTR_NOATIME},
		{[]string{"rstrictatime"}, unix.MOUNT_ATTR_STRICTATIME},
		{[]string{"rrelatime"}, unix.MOUNT_ATTR_RELATIME},
		{[]string{"ratime"}, unix.MOUNT_ATTR_RELATIME},
		{[]string{"rnoatime", "rstrictatime"}, unix.MOUNT_ATTR_STRICTATIME},
		{[]string{"rnoatime", "ratime"}, unix.MOUNT_ATTR_RELATIME},
		{[]string{"rro", "rnostrictatime", "rnosuid"}, unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID},
	}
	for _, c := range cases {
		p := parseOptions(c.opts)
		if p.setAttr != c.set || p.clearAttr != unix.MOUNT_ATTR__ATIME {
			t.Errorf("%v: set %#x clear %#x, want set %#x clear __ATIME", c.opts, p.setAttr, p.clearAttr, c.set)
		}
		if err := checkSetattr(p.setAttr, p.clearAttr); err != "" {
			t.Errorf("%v: %s", c.opts, err)
		}
	}
	if p := parseOptions([]string{"rro", "rrw"}); p.setAttr != 0 || p.clearAttr != unix.MOUNT_ATTR_RDONLY {
		t.Errorf("rro,rrw: set %#x clear %#x, want the last to win", p.setAttr, p.clearAttr)
	}
}
