#!/bin/bash
# demo-dock.sh MINIDOCK MINIRUNC: the front-end at work, in a private mount
# and network namespace and throw-away roots: import busybox as an image,
# run a container in the background (on the default bridge network, made
# in the private network namespace: the host's is never touched), list it,
# read its logs, remove it.
set -euo pipefail
DOCK=$(readlink -f "${1:-bin/minidock}")
RUNC=$(readlink -f "${2:-bin/minirunc}")
if [ -z "${MINIDOCK_DEMO_NS:-}" ]; then
	exec env MINIDOCK_DEMO_NS=1 unshare --mount --net --propagation private "$0" "$@"
fi
ip link set lo up
WORK=$(mktemp -d /tmp/minidock-demo.XXXXXX)
CGPARENT=/minidock-demo
md() { "$DOCK" --root "$WORK/root" --exec-root "$WORK/run" --runtime "$RUNC" --cgroup-parent "$CGPARENT" "$@"; }
cleanup() {
	for id in $(md ps -aq 2>/dev/null); do md rm -f "$id" >/dev/null 2>&1 || true; done
	for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		[ -d "$h$CGPARENT" ] && rmdir "$h$CGPARENT" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

BUSYBOX=$(command -v busybox)
R=$WORK/rootfs
mkdir -p "$R"/{bin,etc,tmp,root}
cp "$BUSYBOX" "$R/bin/busybox"
for app in $("$R/bin/busybox" --list); do [ "$app" = busybox ] || ln -s busybox "$R/bin/$app"; done
chmod 1777 "$R/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"
tar -C "$R" -cf "$WORK/busybox.tar" .

# step shows a command as a user would type it, then runs it.
step() {
	local shown=minidock a
	for a in "$@"; do
		case $a in
		*[\ \"\'\$\;\|\&\(\)]*) shown+=" '${a//\'/\'\\\'\'}'" ;;
		*) shown+=" $a" ;;
		esac
	done
	printf '\n$ %s\n' "$shown"
	md "$@"
}

step import --change 'CMD ["sh"]' "$WORK/busybox.tar" busybox:local
step images
step run -d --name demo --memory 64m busybox:local sh -c 'echo "hello from $(hostname)"; ps; cat /proc/self/cgroup | head -3; exec sleep 1000'
sleep 0.5
step ps
step logs demo
step exec demo uname -a
step exec demo sh -c 'ip -4 -o addr show eth0; ip route; cat /etc/hosts | tail -1'
step stop -t 1 demo
step ps -a
step rm demo
step run --rm busybox:local echo "a --rm container: gone when done"
step run --rm --network none busybox:local ip -o link
step ps -a
