#!/bin/sh
# Install, with apt, the Debian packages the build and the VM tests need,
# when any is missing.  Safe to run repeatedly.  Kernels are not installed:
# scripts/kernel.sh fetches them into the cache.
#   deps.sh           the build (module for KERNEL, library, selftests) and the VM
#   deps.sh --debug   also what building the debug kernel needs (check-debug)
#   deps.sh --ci      also what CI's other checks need (dkms, debootstrap)
#   deps.sh --deb     also what building and checking the Debian packages
#                     needs (make deb, scripts/deb-check.sh)
set -eu
pkgs="make gcc libc6-dev perl kmod debian-archive-keyring linux-source-6.1
      qemu-system-x86 busybox-static cpio gzip xz-utils sparse liburing-dev pkgconf"
# Kernels of other Debian releases build in a chroot of that release.
release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
kernel_release=$("$(dirname "$0")/kernel.sh" "${KERNEL:-6.1}" release 2>/dev/null || echo "$release")
[ "$kernel_release" = "$release" ] || pkgs="$pkgs debootstrap"
case ${1:-} in
--debug) pkgs="$pkgs flex bison bc libelf-dev" ;;
--ci) pkgs="$pkgs dkms debootstrap" ;;
--deb) pkgs="$pkgs dpkg-dev debhelper dh-dkms dkms lintian debootstrap" ;;
esac
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
