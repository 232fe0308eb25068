#!/bin/bash
# Prove the README's commands where nothing is installed: a new minbase
# chroot of the host's Debian release (built every run, never cached), a
# copy of the checkout in it, an empty cache, and there, as root, only make
# installed by hand (README: "make itself may be missing"), then the
# README's "make check" and "make demo".  Their output is printed; the last
# line sums the TAP verdicts: "N passed, N failed, N skipped".
# FRESH_DIR: where (default build/fresh); FRESH_TARGETS: instead of
# "check demo".
set -uo pipefail
. "$(dirname "$0")/common.sh"

dir=${FRESH_DIR:-$top/build/fresh}
root=$dir/root
release=$(. /etc/os-release && echo "$VERSION_CODENAME")
mirror=${SHAREDSOCK_MIRROR:-http://deb.debian.org}/debian
targets=${FRESH_TARGETS:-check demo}
start=$SECONDS

command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
as_root rm -rf "$dir"
mkdir -p "$dir"
log "a fresh $release chroot in $root"
as_root debootstrap --variant=minbase "$release" "$root" "$mirror" >"$dir/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$dir/debootstrap.log"; die "debootstrap $release failed"; }
as_root mkdir -p "$root/src/sharedsock"
# The checkout as git sees it (tracked and new files, not ignored ones).
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	tar --null -T - -c) | as_root tar -x -C "$root/src/sharedsock"

as_root unshare -m -- bash -euc '
	root=$1 targets=$2
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs tmpfs "$root/tmp"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM=dumb /bin/sh -c "
		set -e
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make >/dev/null
		cd /src/sharedsock
		for t in $targets; do
			echo \"### fresh: make \$t\"
			make \$t
		done"
' _ "$root" "$targets" 2>&1 | tee "$dir/fresh.log"
rc=${PIPESTATUS[0]}
log "make $targets in a fresh $release chroot: exit $rc, $((SECONDS - start))s"
awk '/^[0-9]+ passed, [0-9]+ failed/ { p += $1; f += $3; s += $5 }
     END { printf "%d passed, %d failed, %d skipped\n", p, f + ('"$rc"' != 0 && f == 0), s }' "$dir/fresh.log"
exit "$rc"
