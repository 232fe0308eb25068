# Sourced by the scripts: the cache directory, logging, root.
# Cache: ${SHAREDSOCK_CACHE:-${XDG_CACHE_HOME:-~/.cache}/sharedsock}, outside
# the checkout; every entry is keyed so that a change is a new entry.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${SHAREDSOCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sharedsock}

log() { echo "${0##*/}: $*" >&2; }
die() { log "$*"; exit 1; }

# as_root CMD...: run CMD as root (through sudo for an ordinary user)
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}
