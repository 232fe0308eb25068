#!/bin/bash
# Check dkms.conf: "dkms build" of the module against each kernel of the
# matrix (its own headers and toolchain), and a clean refusal of a kernel
# older than the lowest supported one.  DKMS works in a private tree under
# build/dkms: nothing is installed.  Prints TAP and "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/common.sh"

name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$top/dkms.conf")
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")
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

# setup DIR: a DKMS source tree holding what dkms.conf needs, and no more
setup() {
	local src=$1/source/$name-$version
	rm -rf "$1"
	mkdir -p "$src" "$1/tree"
	(cd "$top" && cp -r --parents dkms.conf Kbuild module/*.[ch] uapi/linux/*.h "$src/")
}

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
