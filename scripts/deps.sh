#!/bin/sh
# Install, with apt, the Debian packages the build and the VM tests need,
# when any is missing.  Safe to run repeatedly.
#   deps.sh --debug   also what building the debug kernel needs (check-debug)
set -eu
pkgs="make gcc libc6-dev linux-headers-amd64 linux-image-amd64 linux-source-6.1
      qemu-system-x86 busybox-static cpio gzip xz-utils sparse liburing-dev"
[ "${1:-}" = --debug ] && pkgs="$pkgs flex bison bc libelf-dev"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
else
	sudo=
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
