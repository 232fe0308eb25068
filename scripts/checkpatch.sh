#!/bin/sh
# Run the kernel's checkpatch.pl --strict on the given files.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/linux
[ -x "$src/scripts/checkpatch.pl" ] || "$top/scripts/kselftest-src.sh" "$src"
exec "$src/scripts/checkpatch.pl" --no-tree --strict --terse -f "$@"
