#!/bin/sh
# Extract the kselftest framework (headers, lib.mk, runner) from Debian's
# linux-source tarball into $1, keeping the kernel tree's layout so lib.mk
# finds its own files.  Nothing extracted is committed.
set -eu
dest=$1
tarball=${LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
[ -f "$tarball" ] || { echo "missing $tarball: apt-get install linux-source-6.1" >&2; exit 1; }
top=$(tar -tJf "$tarball" | head -n 1 | cut -d/ -f1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xJf "$tarball" -C "$tmp" \
	"$top/tools/testing/selftests/lib.mk" \
	"$top/tools/testing/selftests/kselftest.h" \
	"$top/tools/testing/selftests/kselftest_harness.h" \
	"$top/tools/testing/selftests/kselftest" \
	"$top/scripts/subarch.include" \
	"$top/scripts/checkpatch.pl" \
	"$top/scripts/spelling.txt" \
	"$top/scripts/const_structs.checkpatch"
mkdir -p "$dest"
cp -a "$tmp/$top/." "$dest/"
