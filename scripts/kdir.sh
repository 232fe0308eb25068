#!/bin/sh
# Print the kernel build tree to build against: the running kernel's when it
# has one, else the newest Debian linux-headers-*-amd64 tree.
set -eu
running=/lib/modules/$(uname -r)/build
if [ -e "$running/Makefile" ]; then
	echo "$running"
	exit 0
fi
for d in $(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V -r); do
	[ -e "$d/Makefile" ] && { echo "$d"; exit 0; }
done
echo "no kernel headers found: install linux-headers-amd64" >&2
exit 1
