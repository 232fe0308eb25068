#!/bin/bash
# Check the module's DKMS tree (scripts/dkms-source.sh: dkms.conf from
# dkms.conf.in and the module's sources, nothing else): "dkms build"
# against each kernel of the matrix (its own headers and toolchain), and a
# clean refusal of a kernel older than the lowest supported one.  DKMS
# works in a private tree under build/dkms: nothing is installed.  Prints
# TAP and "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/common.sh"

name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$top/dkms.conf.in")
version=$("$top/scripts/version.sh")
passed=0 failed=0
result() {	# result OK DESCRIPTION
	if [ "$1" = 0 ]; then
		echo "ok - $2"
		passed=$((passed + 1))
	else
		echo "not ok - $2"
		failed=$((failed + 1))
	fi
}

# setup DIR: the DKMS source tree (scripts/dkms-source.sh) in DIR/source
setup() {
	rm -rf "$1"
	mkdir -p "$1/tree"
	"$top/scripts/dkms-source.sh" "$1/source/$name-$version"
}

# What DKMS is given (and copies into /usr/src): dkms.conf with the
# project's version, Kbuild and the module's sources, and nothing else.
src=$top/build/dkms/source-check
setup "$src"
src=$src/source/$name-$version
other=$(cd "$src" && find . -type f ! -name dkms.conf ! -name Kbuild \
	! -path './module/*.[ch]' ! -path './uapi/linux/*.h')
grep -qx "PACKAGE_VERSION=\"$version\"" "$src/dkms.conf" && [ -z "$other" ] &&
	[ "$(du -sk "$src" | cut -f1)" -lt 2048 ]
result $? "the DKMS tree holds dkms.conf ($name $version), Kbuild and the module's sources only ($(find "$src" -type f | wc -l) files, $(du -sk "$src" | cut -f1) KB${other:+; also: $(echo $other)})"

# dkms_build SERIES KVER: dkms add and build in SERIES's toolchain
dkms_build() {
	local d=$top/build/dkms/$1 kdir
	kdir=$("$top/scripts/kernel.sh" "$1" env | sed -n 's/^KDIR=//p')
	setup "$d"
	EXTRA_PKGS=dkms "$top/scripts/kernel.sh" "$1" run sh -c '
		d=$1 kver=$2 kdir=$3 mod=$4
		set -- --dkmstree "$d/tree" --sourcetree "$d/source"
		dkms add "$mod" "$@" &&
		dkms build "$mod" -k "$kver" --kernelsourcedir "$kdir" "$@"
	' _ "$d" "$2" "$kdir" "$name/$version" >"$d.log" 2>&1
}


for k in $("$top/scripts/kernel.sh" list); do
	kver=$("$top/scripts/kernel.sh" "$k" env | sed -n 's/^KVER=//p')
	if dkms_build "$k" "$kver" &&
	   [ -n "$(find "$top/build/dkms/$k/tree" -name "$name.ko*" -path "*/$kver/*" -print -quit)" ]; then
		result 0 "dkms build for $k ($kver)"
	else
		tail -n 30 "$top/build/dkms/$k.log"
		result 1 "dkms build for $k ($kver) (log: build/dkms/$k.log)"
	fi
done

# A kernel below the lowest supported one is refused before any build.
first=$("$top/scripts/kernel.sh" list | head -n 1)
dkms_build "$first" 6.0.0-1-amd64
out=$(cat "$top/build/dkms/$first.log")
grep -qi 'BUILD_EXCLUSIVE' <<<"$out" && ! grep -q 'Building module' <<<"$out"
result $? "dkms skips a 6.0 kernel (BUILD_EXCLUSIVE_KERNEL)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
