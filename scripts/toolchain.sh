#!/bin/bash
# A Debian release's own toolchain, for kernels whose headers name a
# compiler (or a C library for their build tools) that the host does not
# have: a minbase chroot of that release, cached, entered in a private mount
# namespace with the checkout and the cache at their own paths.
#   toolchain.sh RELEASE run [-p "PKG..."] CMD...
#                    run CMD (in the current directory) as the calling user
#                    in RELEASE's chroot, installing PKG first if missing
#   toolchain.sh RELEASE dir
#                    print the chroot's directory; exit 1 if not built yet
# Cache: $cache/toolchain/RELEASE (debootstrap --variant=minbase, about
# 30 s and 350 MB, plus the compiler); SHAREDSOCK_APT_UPDATE=1 upgrades it.
# Needs root, or sudo, for debootstrap, unshare and chroot.
set -euo pipefail
. "$(dirname "$0")/common.sh"

release=${1:?usage: $0 RELEASE run|dir ...}
cmd=${2:-dir}
shift 2 || shift $#
root=$cache/toolchain/$release
mirror=${SHAREDSOCK_MIRROR:-http://deb.debian.org}/debian

create() {
	[ -f "$root/.done" ] && return
	command -v debootstrap >/dev/null ||
		die "debootstrap is missing (apt-get install debootstrap)"
	log "creating a $release chroot in $root (about 30 s)"
	as_root rm -rf "$root"
	mkdir -p "$(dirname "$root")"
	as_root debootstrap --variant=minbase "$release" "$root" "$mirror" >"$root.log" 2>&1 ||
		{ tail -n 20 "$root.log" >&2; die "debootstrap $release failed (log: $root.log)"; }
	# Mirrors are often snapshots whose Release files have expired.
	echo 'Acquire::Check-Valid-Until "false";' |
		as_root tee "$root/etc/apt/apt.conf.d/99sharedsock" >/dev/null
	as_root touch "$root/.done"
}

# enter USERSPEC CMD...: CMD in the chroot, cwd kept, checkout and cache bound
enter() {
	local user=$1
	shift
	as_root unshare -m -- bash -euc '
		root=$1 top=$2 cache=$3 cwd=$4 user=$5
		shift 5
		mount -t proc proc "$root/proc"
		mount --bind /dev "$root/dev"
		for d in "$top" "$cache"; do
			mkdir -p "$root$d"
			mount --bind "$d" "$root$d"
		done
		cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || :
		exec chroot --userspec="$user" "$root" /usr/bin/env -i \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8 \
			/bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$cwd" "$@"
	' _ "$root" "$top" "$cache" "$PWD" "$user" "$@"
}

# install PKG...: apt-get install what is missing (or everything, to upgrade)
install() {
	local missing= p installed
	installed=$(enter 0:0 dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
		    awk '/ ok installed$/ { print $1 }') || :
	for p in "$@"; do
		grep -qxF "$p" <<<"$installed" || missing="$missing $p"
	done
	[ "${SHAREDSOCK_APT_UPDATE:-0}" = 1 ] && missing="$*"
	[ -z "$missing" ] && return
	log "installing in the $release chroot:$missing"
	# shellcheck disable=SC2086
	enter 0:0 sh -c "apt-get -qq update && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $missing" >"$root.install.log" 2>&1 ||
		{ tail -n 20 "$root.install.log" >&2; die "installing$missing in the $release chroot failed"; }
}

case $cmd in
dir)
	echo "$root"
	[ -f "$root/.done" ] ;;
run)
	pkgs=
	if [ "${1:-}" = -p ]; then
		pkgs=$2
		shift 2
	fi
	create
	# shellcheck disable=SC2086
	[ -z "$pkgs" ] || install $pkgs
	enter "$(id -u):$(id -g)" "$@" ;;
*)
	echo "usage: $0 RELEASE run [-p PKGS] CMD... | RELEASE dir" >&2
	exit 2 ;;
esac
