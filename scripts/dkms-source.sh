#!/bin/bash
# The module's DKMS source tree, and nothing else: dkms.conf (dkms.conf.in
# with the project's one version, scripts/version.sh), Kbuild, module/*.[ch]
# and uapi/linux/*.h; no build outputs, selftests or library.  DKMS copies
# whatever tree it is given into /usr/src, so "make dkms-install" and
# scripts/dkms-check.sh give it this one, and debian/rules installs the
# same files (less dkms.conf, which dh_dkms writes) for sharedsock-dkms.
#   dkms-source.sh DIR              DIR emptied, then the tree written there
#   dkms-source.sh --no-conf DIR    the same without dkms.conf
set -euo pipefail
. "$(dirname "$0")/common.sh"

conf=1
if [ "${1:-}" = --no-conf ]; then
	conf=
	shift
fi
dir=${1:?usage: $0 [--no-conf] DIR}
version=$("$top/scripts/version.sh")
[ -n "$version" ] || die "no sharedsock-version in Kbuild"

rm -rf "$dir"
mkdir -p "$dir"
(cd "$top" && cp --parents Kbuild module/*.[ch] uapi/linux/*.h "$dir/")
if [ -n "$conf" ]; then
	sed "s/#MODULE_VERSION#/$version/g" "$top/dkms.conf.in" >"$dir/dkms.conf"
fi
