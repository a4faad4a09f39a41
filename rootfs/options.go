// Package rootfs owns the container's filesystem view: making the rootfs a
// mount of its own, every mount of the spec, /dev (default devices,
// linux.devices, symlinks), the cgroup mount, pivot_root (or MS_MOVE+chroot
// with --no-pivot), masked and read-only paths, propagation and a read-only
// root. Every path inside the rootfs is opened with filepath-securejoin's
// pathrs-lite, so a symlink in the rootfs cannot redirect a mount outside it,
// and mounts are made onto the opened file descriptor, never onto a path that
// could change after it was checked.
package rootfs

import (
	"strings"

	"golang.org/x/sys/unix"
)

type flagOpt struct {
	clear bool
	flag  uintptr
}

// MountFlags are the mount(2) flags the spec may name in mounts[].options.
var MountFlags = map[string]flagOpt{
	"acl":           {false, unix.MS_POSIXACL},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noacl":         {true, unix.MS_POSIXACL},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// PropagationFlags are the propagation options of mounts[].options and
// linux.rootfsPropagation.
var PropagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"shared":      unix.MS_SHARED,
	"slave":       unix.MS_SLAVE,
	"unbindable":  unix.MS_UNBINDABLE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

type attrOpt struct {
	clear bool
	attr  uint64
}

// RecAttrs are the recursive mount attributes ("rro", "rnosuid", ...)
// applied to a whole mount tree with mount_setattr(2).
var RecAttrs = map[string]attrOpt{
	"rro":            {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":            {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {false, unix.MOUNT_ATTR_NODEV},
	"rdev":           {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME},
	"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {true, unix.MOUNT_ATTR_RELATIME},
	"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME},
	"ratime":         {true, unix.MOUNT_ATTR_NOATIME},
	"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {true, unix.MOUNT_ATTR_STRICTATIME},
}

// parsedOptions is a spec mount's option list split by kind.
type parsedOptions struct {
	flags       uintptr // mount(2) flags
	propagation []uintptr
	setAttr     uint64   // mount_setattr attributes to set recursively
	clearAttr   uint64   // and to clear
	data        []string // filesystem-specific options, passed as data
	copyUp      bool     // "tmpcopyup" (runc's extension): a tmpfs starts with what it covers
}

func parseOptions(opts []string) parsedOptions {
	var p parsedOptions
	for _, o := range opts {
		if f, ok := MountFlags[o]; ok {
			if f.clear {
				p.flags &^= f.flag
			} else {
				p.flags |= f.flag
			}
		} else if f, ok := PropagationFlags[o]; ok {
			p.propagation = append(p.propagation, f)
		} else if a, ok := RecAttrs[o]; ok {
			switch {
			case a.attr&^unix.MOUNT_ATTR__ATIME == 0:
				// The atime modes are an enum, not bits (relatime is
				// 0): mount_setattr wants the whole __ATIME field
				// cleared and at most one mode set. The last wins; a
				// cleared mode falls back to relatime.
				p.setAttr &^= unix.MOUNT_ATTR__ATIME
				if !a.clear {
					p.setAttr |= a.attr
				}
				p.clearAttr |= unix.MOUNT_ATTR__ATIME
			case a.clear:
				p.clearAttr |= a.attr
				p.setAttr &^= a.attr
			default:
				p.setAttr |= a.attr
				p.clearAttr &^= a.attr
			}
		} else if o == "tmpcopyup" {
			p.copyUp = true
		} else {
			p.data = append(p.data, o)
		}
	}
	return p
}

func (p parsedOptions) dataString() string { return strings.Join(p.data, ",") }

// Extensions are mount options that are neither flags, propagation nor
// recursive attributes: minirunc acts on them itself.
var Extensions = []string{"tmpcopyup"}

// OptionNames lists every mount option minirunc understands (features).
func OptionNames() []string {
	var out []string
	for k := range MountFlags {
		out = append(out, k)
	}
	for k := range PropagationFlags {
		out = append(out, k)
	}
	for k := range RecAttrs {
		out = append(out, k)
	}
	return append(out, Extensions...)
}
