#!/bin/bash
# The Debian packages of debian/ (sharedsock-dkms, libsharedsock0,
# libsharedsock-dev, sharedsock-tools), built with Debian's tooling and
# checked the way a user gets them.
#   deb-check.sh build   dpkg-buildpackage (source and binaries) in a clean
#                        copy of the tree; the packages land in DEB_DIR
#                        (default build/deb): "make deb"
#   deb-check.sh         that, then: the versions agree with Kbuild's
#                        sharedsock-version; lintian reports no error; in a
#                        new minbase chroot of the host's Debian release
#                        (built every run, never cached) the packages
#                        install, DKMS builds the module when the headers
#                        of DEB_KERNEL (default the matrix's default, 6.1:
#                        the same ABI as the VM's kernel) arrive and again
#                        when sharedsock-dkms is installed anew, and skips
#                        a 6.0 kernel; an outside program builds with
#                        pkg-config (dynamic and static) and runs, the
#                        packaged examples build, sharedsockctl runs, "make
#                        dkms-install" copies only sources; then the suite
#                        runs in the VM on the module DKMS built there
#                        (scripts/vm.sh with VM_MODULE).
# Prints TAP, the VM suite's lines, and last "N passed, N failed, N skipped"
# (the checks here plus the VM suite).  Needs root or sudo (debootstrap,
# chroot); installs its host packages with scripts/deps.sh --deb.
# DEB_DIR: where everything goes; VM_DIR: the VM's work dir (default
# DEB_DIR/vm); SHAREDSOCK_MIRROR: the Debian mirror.
set -uo pipefail
. "$(dirname "$0")/common.sh"

mode=${1:-check}
dir=${DEB_DIR:-$top/build/deb}
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
mkdir -p "$(dirname "$dir")"
version=$("$top/scripts/version.sh")
packages="sharedsock-dkms libsharedsock0 libsharedsock-dev sharedsock-tools"
start=$SECONDS
series=${DEB_KERNEL:-$("$top/scripts/kernel.sh" list | head -n 1)}

# build: copy the tree (what git sees, or all but build/ and .git without
# git) into DIR/sharedsock-VERSION and run dpkg-buildpackage there; the
# packages land in DIR
build() {
	local src=$dir/sharedsock-$version
	as_root rm -rf "$dir"
	mkdir -p "$src"
	if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$top" && git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
			tar --null -T - -c) | tar -x -C "$src"
	else
		(cd "$top" && tar -c --exclude=./build --exclude=./.git .) | tar -x -C "$src"
	fi || return 1
	log "dpkg-buildpackage in $src (log: $dir/build.log)"
	(cd "$src" && dpkg-buildpackage -us -uc) >"$dir/build.log" 2>&1 ||
		{ tail -n 40 "$dir/build.log"; return 1; }
	ls "$dir"/*.deb "$dir"/*.changes
}

if [ "$mode" = build ]; then
	build
	exit
fi
[ "$mode" = check ] || die "usage: $0 [build]"

passed=0 failed=0 skipped=0	# skipped: the VM suite's
lap=$SECONDS
result() {	# result STATUS DESCRIPTION (and the seconds since the last one)
	if [ "$1" = 0 ]; then
		echo "ok - $2"
		passed=$((passed + 1))
	else
		echo "not ok - $2"
		failed=$((failed + 1))
	fi
	echo "#   $((SECONDS - lap))s"
	lap=$SECONDS
}
finish() {
	log "done in $((SECONDS - start))s"
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}
# indent: a command's output as TAP diagnostics
indent() { sed 's/^/# /'; }

"$top/scripts/deps.sh" --deb >&2 || die "installing the host's packages failed"

# 1. The one version: Kbuild's, which debian/changelog must repeat (and
# debian/rules refuses to build otherwise); dkms.conf gets it from there.
changelog=$(cd "$top" && dpkg-parsechangelog -S Version)
[ "$changelog" = "$version" ]
result $? "debian/changelog's version ($changelog) is Kbuild's sharedsock-version ($version)"

# 2. The packages.
if build >"$dir.build.out" 2>&1; then
	debs=
	bad=
	for p in $packages; do
		f=$(ls "$dir/${p}_"*.deb 2>/dev/null | head -n 1)
		debs="$debs $f"
		[ -n "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$version" ] || bad="$bad $p"
	done
	[ -z "$bad" ]
	result $? "dpkg-buildpackage builds $packages, version $version${bad:+ (wrong or missing:$bad)}"
	mv "$dir.build.out" "$dir/"
else
	cat "$dir.build.out"
	result 1 "dpkg-buildpackage (log: $dir/build.log, $dir.build.out)"
	finish
fi

# 3. lintian on the source and binary packages.
lintian --fail-on error --tag-display-limit 0 "$dir"/sharedsock_"$version"_*.changes >"$dir/lintian.log" 2>&1
lrc=$?
indent <"$dir/lintian.log"
[ "$lrc" -eq 0 ] && ! grep -q '^E: ' "$dir/lintian.log"
result $? "lintian: no errors ($(grep -c '^E: ' "$dir/lintian.log") errors, $(grep -c '^W: ' "$dir/lintian.log") warnings, $(grep -c '^I: ' "$dir/lintian.log") info)"

# 4. What each package holds.
contents() { dpkg-deb -c "$dir/${1}_${version}_$2.deb" | awk '{ print $6 }' | sed 's|^\./|/|'; }
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
want() {	# want PACKAGE ARCH PATH...: each PATH is in PACKAGE
	local p=$1 a=$2 c miss=
	shift 2
	c=$(contents "$p" "$a")
	for f; do grep -qxF "$f" <<<"$c" || miss="$miss $f"; done
	[ -z "$miss" ] || echo "# $p lacks:$miss"
	[ -z "$miss" ]
}
usrsrc=/usr/src/sharedsock-$version
srcfiles=$(contents sharedsock-dkms all | grep "^$usrsrc/.*[^/]$")
want sharedsock-dkms all "$usrsrc/dkms.conf" "$usrsrc/Kbuild" "$usrsrc/module/main.c" \
	"$usrsrc/uapi/linux/sharedsock.h" &&
	! grep -vE "^$usrsrc/(dkms.conf|Kbuild|module/[^/]+\.[ch]|uapi/linux/[^/]+\.h)$" <<<"$srcfiles" &&
	want libsharedsock0 "$arch" "/usr/lib/$multiarch/libsharedsock.so.$version" \
		"/usr/lib/$multiarch/libsharedsock.so.0" &&
	want libsharedsock-dev "$arch" /usr/include/sharedsock.h /usr/include/sharedsock/winsock.h \
		/usr/include/linux/sharedsock.h "/usr/lib/$multiarch/libsharedsock.a" \
		"/usr/lib/$multiarch/libsharedsock.so" "/usr/lib/$multiarch/pkgconfig/sharedsock.pc" \
		/usr/share/man/man3/ss_duplicate_socket.3.gz /usr/share/man/man7/sharedsock.7.gz &&
	want sharedsock-tools "$arch" /usr/bin/sharedsockctl /usr/share/man/man8/sharedsockctl.8.gz
result $? "the packages hold what they should; sharedsock-dkms only dkms.conf, Kbuild and the module's sources ($(wc -l <<<"$srcfiles") files)"

# 5. A fresh chroot of the host's release.
kenv=$("$top/scripts/kernel.sh" "$series" env) || die "no kernel $series"
kver=$(sed -n 's/^KVER=//p' <<<"$kenv")
krelease=$(sed -n 's/^RELEASE=//p' <<<"$kenv")
release=$(. /etc/os-release && echo "$VERSION_CODENAME")
[ "$krelease" = "$release" ] ||
	die "kernel $series is $krelease's, the host is $release: pick a $release kernel (DEB_KERNEL)"
mirror=${SHAREDSOCK_MIRROR:-http://deb.debian.org}
root=$dir/root
log "a fresh $release chroot in $root"
if as_root debootstrap --variant=minbase "$release" "$root" "$mirror/debian" >"$dir/debootstrap.log" 2>&1; then
	result 0 "a new minbase $release chroot"
else
	tail -n 20 "$dir/debootstrap.log" | indent
	result 1 "a new minbase $release chroot (log: $dir/debootstrap.log)"
	finish
fi
# The release's usual suites (Debian's kernels come through -security too).
printf '%s\n' "deb $mirror/debian $release main" "deb $mirror/debian $release-updates main" \
	"deb $mirror/debian-security $release-security main" | as_root tee "$root/etc/apt/sources.list" >/dev/null
echo 'Acquire::Check-Valid-Until "false";' | as_root tee "$root/etc/apt/apt.conf.d/99sharedsock" >/dev/null
as_root mkdir -p "$root/debs" "$root/tests" "$root/src/sharedsock"
as_root cp $debs "$root/debs/"
as_root cp "$top"/debian/tests/* "$root/tests/"
as_root cp -a "$dir/sharedsock-$version/." "$root/src/sharedsock/"

# out_root SCRIPT: run SCRIPT with sh -eu in the chroot as root (in a
# mount namespace of its own: /proc, the host's /dev, a new /tmp)
out_root() {
	as_root unshare -m -- bash -euc '
		root=$1 script=$2
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		mount -t tmpfs tmpfs "$root/tmp"
		cp /etc/resolv.conf "$root/etc/resolv.conf"
		exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
			/bin/sh -euc "$script"
	' _ "$root" "$1" 2>&1
}
# in_root SCRIPT: the same, its output to the chroot's log
in_root() {
	echo "### $1" >>"$dir/chroot.log"
	out_root "$1" >>"$dir/chroot.log"
}
# step DESCRIPTION SCRIPT: a TAP line for SCRIPT, its log on failure
step() {
	local mark
	mark=$(wc -l <"$dir/chroot.log" 2>/dev/null || echo 0)
	in_root "$2"
	local rc=$?
	[ "$rc" -eq 0 ] || tail -n +"$((mark + 1))" "$dir/chroot.log" | tail -n 40 | indent
	result "$rc" "$1"
	return "$rc"
}
: >"$dir/chroot.log"
ko=/lib/modules/$kver/updates/dkms/sharedsock.ko
# module_ok: DKMS lists it installed for kver, and it is there
module_ok="dkms status sharedsock/$version -k $kver | grep -q ': installed' && test -f $ko"

# 6. The packages install (no kernel headers yet: DKMS has nothing to
# build for), with what an outside program's build needs.
step "apt-get install of the four packages in the chroot" \
	"apt-get update -qq && apt-get install -y -qq --no-install-recommends ./debs/*.deb gcc libc6-dev pkgconf liburing-dev" ||
	finish

# 7. A kernel's headers arrive: DKMS's kernel hook builds the module.
step "installing linux-headers-$kver makes DKMS build and install the module for it" \
	"apt-get install -y -qq --no-install-recommends linux-headers-$kver && $module_ok"
headers=$(out_root "dpkg-query -W -f '\${Version}' linux-headers-$kver")
echo "# linux-headers-$kver $headers"

# 8. The module DKMS built.
info=$(out_root "modinfo -F vermagic $ko; modinfo -F version $ko; modinfo -F alias $ko | grep devname: || :
	grep -w sharedsock /lib/modules/$kver/modules.devname || :")
indent <<<"$info"
dkmsconf=$(out_root "sed -n 's/^PACKAGE_VERSION=//p' $usrsrc/dkms.conf")
pcver=$(out_root "pkg-config --modversion sharedsock")
[ "$(sed -n 1p <<<"$info" | cut -d' ' -f1)" = "$kver" ] && [ "$(sed -n 2p <<<"$info")" = "$version" ] &&
	[ "$dkmsconf" = "\"$version\"" ] && [ "$pcver" = "$version" ]
result $? "one version: module $(sed -n 2p <<<"$info"), dkms.conf $dkmsconf, pkg-config $pcver, packages $version; vermagic $kver"
grep -q '^sharedsock ' <<<"$info"
result $? "depmod lists /dev/sharedsock in modules.devname (the node exists from boot, the module loads on first open)"
# The module from the package, for the VM.
as_root cp "$root$ko" "$dir/sharedsock.ko" 2>/dev/null && as_root chown "$(id -u):$(id -g)" "$dir/sharedsock.ko"

# 9. Removal removes the module; installing the package builds it again.
step "removing sharedsock-dkms removes the module; installing it again builds it (postinst)" \
	"dpkg -r sharedsock-dkms && ! test -e $ko && ! test -e $usrsrc &&
	 apt-get install -y -qq --no-install-recommends ./debs/sharedsock-dkms_*.deb && $module_ok"

# 10. Kernels older than 6.1 are skipped.
out=$(out_root "dkms build sharedsock/$version -k 6.0.0-1-amd64 --kernelsourcedir /usr/src/linux-headers-$kver || :")
echo "$out" >>"$dir/chroot.log"
grep -qi 'BUILD_EXCLUSIVE' <<<"$out" && ! grep -q 'Building module' <<<"$out"
result $? "DKMS skips a 6.0 kernel (BUILD_EXCLUSIVE_KERNEL)"

# 11. An outside program through pkg-config, and sharedsockctl.
step "pkg-config --cflags --libs sharedsock: an outside program builds (dynamic and static) and runs" \
	"AUTOPKGTEST_TMP=\$(mktemp -d) /tests/pkg-config"
step "sharedsockctl runs (--help; status without the module)" "/tests/sharedsockctl"
step "the examples libsharedsock-dev ships build against the installed library (make INSTALLED=1)" \
	"cp -r /usr/share/doc/libsharedsock-dev/examples /tmp/examples && make -C /tmp/examples INSTALLED=1"

# 12. "make dkms-install" from a tree full of build outputs gives DKMS
# only the sources.
step "make dkms-install from a tree with 60 MB of build outputs copies only the sources into /usr/src" \
	"dpkg --purge sharedsock-dkms && cd /src/sharedsock &&
	 mkdir -p build && head -c 60000000 /dev/zero >build/junk && : >sharedsock.ko && : >module/main.o &&
	 make dkms-install DKMS_FLAGS='-k $kver' && $module_ok &&
	 test \$(du -sk $usrsrc | cut -f1) -lt 2048 && ! test -e $usrsrc/build && ! test -e $usrsrc/module/main.o &&
	 du -sk $usrsrc"

# 13. The suite in the VM with the module the package's DKMS built.
if [ ! -s "$dir/sharedsock.ko" ]; then
	result 1 "the VM suite with the packaged module: DKMS built none"
	finish
fi
if ! make -s -C "$top" userspace selftests >"$dir/selftests.log" 2>&1; then
	tail -n 20 "$dir/selftests.log" | indent
	result 1 "building the selftests for the VM"
	finish
fi
echo "# the suite in the VM on $kver with $dir/sharedsock.ko (DKMS-built in the chroot)"
lap=$SECONDS
KERNEL=$series VM_MODULE=$dir/sharedsock.ko VM_DIR=${VM_DIR:-$dir/vm} \
	"$top/scripts/vm.sh" test >"$dir/vm.out" 2>&1
vrc=$?
grep -v '^[0-9]* passed, [0-9]* failed' "$dir/vm.out"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$dir/vm.out" | tail -n 1)
if [ -n "$summary" ]; then
	read -r p f s <<<"$(sed -E 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?.*/\1 \2 \4/' <<<"$summary")"
	echo "# VM suite with the packaged module: $summary, $((SECONDS - lap))s"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
	[ "$vrc" -eq 0 ] || [ "$f" -gt 0 ] || result 1 "the VM run with the packaged module exited $vrc"
else
	result 1 "the VM suite with the packaged module gave no verdict (exit $vrc)"
fi
finish
