#!/bin/sh
# Run the kernel's checkpatch.pl --strict on the given files.
#
# One documented exception: checkpatch's CONST_STRUCT ("struct proto_ops
# should normally be const") is not checked in module/unixops.c, whose
# whole point is a writable copy of AF_UNIX's proto_ops that the module
# fills with its wrappers (Documentation/sharedsock.rst, "How the module
# watches sockets").  Every other check runs on it, and every check runs
# on every other file.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/linux
[ -x "$src/scripts/checkpatch.pl" ] || "$top/scripts/kselftest-src.sh" "$src"
checkpatch() {
	"$src/scripts/checkpatch.pl" --no-tree --strict --terse -f "$@"
}
rc=0
for f in "$@"; do
	case $f in
	*module/unixops.c) checkpatch --ignore CONST_STRUCT "$f" || rc=1 ;;
	*) checkpatch "$f" || rc=1 ;;
	esac
done
exit $rc
