#!/bin/bash
# musl-libseccomp.sh DIR: builds libseccomp for musl into DIR (lib/,
# include/, lib/pkgconfig/), so that minirunc can link musl instead of
# glibc. The source is Debian's package of the installed libseccomp-dev's
# version, with Debian's patches: the same library, built against musl.
# DIR/include also gets the kernel's uapi headers, which musl-gcc does not
# search. Does nothing when DIR holds a build of that version; exits
# non-zero (and the Makefile builds with glibc) when it cannot be done.
set -euo pipefail
dir=$1
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

export DEBIAN_FRONTEND=noninteractive
need=""
for p in musl-tools gperf libseccomp-dev make; do
	dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
	echo "musl-libseccomp: installing$need"
	apt-get install -y -qq $need >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq $need >/dev/null; }
fi
version=$(dpkg-query -W -f '${Version}' libseccomp-dev)
if [ "$(cat "$dir/version" 2>/dev/null)" = "$version" ] && [ -f "$dir/lib/libseccomp.a" ]; then
	exit 0
fi
echo "musl-libseccomp: building libseccomp $version for musl in $dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# apt-get source needs deb-src entries: the system's deb entries, as
# deb-src, in a private list (the system's apt configuration is untouched).
mkdir -p "$work/apt/lists/partial"
: >"$work/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] && sed -n 's/^deb \(.*\)$/deb-src \1/p' "$f" >>"$work/apt/sources.list"
done
mkdir -p "$work/apt/sources.list.d"
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] && sed 's/^Types:.*$/Types: deb-src/' "$f" >"$work/apt/sources.list.d/$(basename "$f")"
done
aptopts=(-o "Dir::Etc::sourcelist=$work/apt/sources.list" -o "Dir::Etc::sourceparts=$work/apt/sources.list.d"
	-o "Dir::State::Lists=$work/apt/lists" -o "APT::Sandbox::User=root")
apt-get "${aptopts[@]}" update -qq >/dev/null
(cd "$work" && apt-get "${aptopts[@]}" source --download-only -qq "libseccomp=$version" >/dev/null)

src="$work/src"
mkdir -p "$src"
tar xzf "$work"/libseccomp_*.orig.tar.gz -C "$src" --strip-components=1
if ls "$work"/libseccomp_*.debian.tar.* >/dev/null 2>&1; then
	tar xf "$work"/libseccomp_*.debian.tar.* -C "$src"
	if [ -f "$src/debian/patches/series" ]; then
		grep -v '^\s*#' "$src/debian/patches/series" | while read -r p _; do
			[ -n "$p" ] && patch -d "$src" -p1 -s <"$src/debian/patches/$p"
		done
	fi
fi

rm -rf "$dir/include" "$dir/lib"
mkdir -p "$dir/include"
cp -r /usr/include/linux /usr/include/asm-generic "$dir/include/"
cp -r "/usr/include/$(gcc -print-multiarch)/asm" "$dir/include/"
(
	cd "$src"
	./configure -q CC=musl-gcc CFLAGS="-O2 -I$dir/include" --enable-static --disable-shared \
		--disable-python --prefix="$dir" >/dev/null
	make -s -j"$(nproc)" -C src >/dev/null 2>&1
	make -s -C src install >/dev/null 2>&1
	make -s -C include install >/dev/null
	install -D -m 0644 libseccomp.pc "$dir/lib/pkgconfig/libseccomp.pc"
)
echo "$version" >"$dir/version"
