#!/bin/bash
# apt-get and apt-cache on the suites of scripts/debian.sources, through a
# private configuration in the cache: the host's sources, package lists and
# dpkg status are neither read nor written, and nothing is installed.
#   apt.sh update         refresh the lists when missing, older than 12 h,
#                         or SHAREDSOCK_APT_UPDATE=1
#   apt.sh get ARGS...    apt-get ARGS (download, ...) with that configuration
#   apt.sh cache ARGS...  apt-cache ARGS
# SHAREDSOCK_MIRROR: the mirror (default http://deb.debian.org).
set -euo pipefail
. "$(dirname "$0")/common.sh"

dir=$cache/apt
mirror=${SHAREDSOCK_MIRROR:-http://deb.debian.org}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "missing $keyring (apt-get install debian-archive-keyring)"
mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/empty"
touch "$dir/status"
sed -e '/^#/d' -e '/^$/d' -e "s|MIRROR|$mirror|" \
    -e "s|^deb |deb [signed-by=$keyring] |" "$top/scripts/debian.sources" > "$dir/sources.list.new"
stale=
if ! cmp -s "$dir/sources.list.new" "$dir/sources.list"; then
	mv "$dir/sources.list.new" "$dir/sources.list"
	stale=1
else
	rm -f "$dir/sources.list.new"
fi

opts=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o "Dir::Etc::sourceparts=$dir/empty"
      -o "Dir::Etc::preferences=$dir/empty/none" -o "Dir::Etc::preferencesparts=$dir/empty"
      -o "Dir::State::Lists=$dir/lists" -o "Dir::State::status=$dir/status"
      -o "Dir::Cache=$dir" -o "Dir::Cache::archives=$dir/archives"
      -o Debug::NoLocking=1 -o Acquire::Check-Valid-Until=false -o APT::Get::List-Cleanup=1 -o Acquire::Languages=none)
# Downloads into a directory the _apt user cannot enter run as root instead.
[ "$(id -u)" -eq 0 ] && opts+=(-o APT::Sandbox::User=root)

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
update)
	if [ -z "$stale" ] && [ "${SHAREDSOCK_APT_UPDATE:-0}" != 1 ] &&
	   [ -n "$(find "$dir/lists" -maxdepth 1 -name '*_Packages*' -mmin -720 -print -quit)" ]; then
		exit 0
	fi
	log "refreshing the package lists of scripts/debian.sources"
	apt-get "${opts[@]}" -qq update >&2 ;;
get)
	apt-get "${opts[@]}" "$@" ;;
cache)
	apt-cache "${opts[@]}" "$@" ;;
*)
	echo "usage: $0 update | get ARGS... | cache ARGS..." >&2
	exit 2 ;;
esac
