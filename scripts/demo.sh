#!/bin/bash
# demo.sh BIN: build a busybox bundle with `minirunc spec` defaults and run a
# container that shows it is isolated: its own hostname, itself as PID 1, its
# own mounts and network interfaces, and its own cgroup (an absolute
# cgroupsPath: an empty one would nest it under the caller's cgroup).
set -euo pipefail
BIN=$(readlink -f "${1:-bin/minirunc}")
WORK=$(mktemp -d /tmp/minirunc-demo.XXXXXX)
ID=demo-$$
CGPARENT=/minirunc-demo
cleanup() {
	"$BIN" --root "$WORK/state" delete --force "$ID" >/dev/null 2>&1 || true
	for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		[ -d "$h$CGPARENT" ] && rmdir "$h$CGPARENT" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

BUSYBOX=$(command -v busybox)
B=$WORK/bundle
mkdir -p "$B/rootfs"/{bin,etc,proc,sys,dev,tmp,root}
cp "$BUSYBOX" "$B/rootfs/bin/busybox"
for app in $("$B/rootfs/bin/busybox" --list); do
	[ "$app" = busybox ] || ln -s busybox "$B/rootfs/bin/$app"
done
chmod 1777 "$B/rootfs/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' >"$B/rootfs/etc/passwd"
echo 'root:x:0:' >"$B/rootfs/etc/group"

"$BIN" spec --bundle "$B"
jq --arg cg "$CGPARENT/$ID" '
	.process.terminal = false |
	.hostname = "minirunc-demo" |
	.linux.cgroupsPath = $cg |
	.process.args = ["sh", "-c",
		"echo \"== hostname: $(hostname)\"; echo \"== my pid: $$\"; echo \"== processes:\"; ps -o pid,user,comm; echo \"== mounts:\"; cat /proc/mounts; echo \"== network interfaces:\"; ip -o link | cut -d: -f2; echo \"== cgroup:\"; cat /proc/self/cgroup; true"]
' "$B/config.json" >"$B/config.json.new"
mv "$B/config.json.new" "$B/config.json"

echo "== host hostname: $(hostname); running container $ID from $B"
"$BIN" --root "$WORK/state" run --bundle "$B" "$ID"
echo "== container exited with $?; state left: $(ls "$WORK/state" | wc -l)"
