#!/bin/bash
# Keep the documentation and the code in agreement where a script can tell:
#  - every ioctl of the uapi header is in sharedsock(7) and sharedsock.rst;
#  - every library function of the public headers has a man page naming it;
#  - every complete program in a man page's EXAMPLES compiles and links
#    against the tree's library with the project's warnings;
#  - the version in sharedsock.rst and sharedsock(7) is Kbuild's.
# TAP lines, then "N passed, N failed".  Needs the library built.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {	# check NAME COMMAND...: a TAP line for COMMAND's status
	local name=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		echo "ok - $name"
		passed=$((passed + 1))
	else
		echo "not ok - $name"
		sed 's/^/# /' "$tmp/out" | head -n 20
		failed=$((failed + 1))
	fi
}

# Names in @2 that are missing from file @1 (printed), status 1 if any.
all_named_in() {
	local file=$1 name missing=0
	shift
	for name in "$@"; do
		grep -qw -- "$name" "$file" || { echo "$name missing"; missing=1; }
	done
	return $missing
}

ioctls=$(grep -o 'SHAREDSOCK_IOC_[A-Z_]*' uapi/linux/sharedsock.h |
	 grep -v MAGIC | sort -u)
check "every ioctl is in sharedsock.7" \
	all_named_in Documentation/man/man7/sharedsock.7 $ioctls
check "every ioctl is in sharedsock.rst" \
	all_named_in Documentation/sharedsock.rst $ioctls

# Every function of the public headers has a page that names it.
funcs=$(sed -n 's/^[a-zA-Z][a-zA-Z_ *]*[ *]\([a-zA-Z_0-9]*\)(.*/\1/p' \
	userspace/include/sharedsock.h userspace/include/sharedsock/winsock.h |
	sort -u)
man_names() {
	local f
	for f in $funcs; do
		grep -qlw -- "$f" Documentation/man/man3/*.3 || {
			echo "$f has no man page"
			return 1
		}
	done
}
check "every library function has a man page" man_names

version=$(scripts/version.sh)
# Every installed page carries the version in its .TH line.
pages_say_version() {
	local f bad=0
	make -s install-man DESTDIR="$tmp/man" MANDIR=/m >/dev/null || return 1
	for f in "$tmp"/man/m/man*/*; do
		# A page that only sources another has no .TH of its own.
		grep -q '^\.so ' "$f" && continue
		grep -q "^\.TH .* \"sharedsock $version\" " "$f" ||
			{ echo "${f##*/}: no version in .TH"; bad=1; }
	done
	return $bad
}
check "installed man pages say version $version" pages_say_version
check "sharedsock.rst says version $version" \
	grep -q "^:Version: $version " Documentation/sharedsock.rst

# roff to C: the escapes man pages use in code.
unroff() {
	sed -e 's/\\-/-/g' -e 's/\\(aq/'"'"'/g' -e 's/\\(dq/"/g' \
	    -e 's/\\e/\\/g' -e 's/\\&//g' -e 's/\\\\/\\/g'
}

# compile_example PAGE N: the Nth .EX block of PAGE, a complete program.
compile_example() {
	local page=$1 n=$2 src=$tmp/ex.c
	awk -v want="$n" '/^\.EX/{k++; on = (k == want); next}
		/^\.EE/{on = 0} on' "$page" | unroff >"$src"
	${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -Iuapi -Iuserspace/include \
		"$src" userspace/libsharedsock.a -luring -pthread -o "$tmp/ex"
}

for page in Documentation/man/man*/*.[0-9]; do
	n=0
	while read -r main; do
		n=$((n + 1))
		[ "$main" = 1 ] || continue
		check "$(basename "$page") example $n compiles" \
			compile_example "$page" $n
	done < <(awk '/^\.EX/{m = 0; on = 1; next}
		/^\.EE/{print m; on = 0} on && /main\(/{m = 1}' "$page")
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
