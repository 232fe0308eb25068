#!/bin/bash
# The debug-kernel lane (make check-debug): a small 6.1 kernel with KASAN,
# lockdep, kmemleak, UBSAN, SLUB debug, DEBUG_LIST and fault injection, built
# from Debian's linux-source-6.1 tarball with scripts/debug.config on top of
# tinyconfig, and cached outside the checkout.
#   debug-kernel.sh build        build the kernel unless cached; print its dir
#   debug-kernel.sh dir          print the cache dir; exit 1 if not built yet
#   debug-kernel.sh check [TEST] build (or reuse) the kernel, build the module
#                                against it (W=1, warnings fail), boot it and
#                                run the suite (or one test program)
# Cache: ${SHAREDSOCK_CACHE:-${XDG_CACHE_HOME:-~/.cache}/sharedsock}/kernel-KEY
# where KEY hashes debug.config, the source version and the compiler; it
# holds bzImage, the built tree (linux/, ready for M= builds: modules_prepare
# done, Module.symvers written), build.log and build-time.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
fragment=$top/scripts/debug.config
tarball=${LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
cache=${SHAREDSOCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sharedsock}
jobs=${DEBUG_KERNEL_JOBS:-$(( $(nproc) + 1 ))}

[ -f "$tarball" ] || { echo "debug-kernel: missing $tarball (apt-get install linux-source-6.1)" >&2; exit 1; }

# The source version: the Debian package's when dpkg owns the tarball, else
# the tarball's hash.
source_version() {
	local pkg
	pkg=$(dpkg-query -S "$tarball" 2>/dev/null | cut -d: -f1) &&
		[ -n "$pkg" ] &&
		dpkg-query -W -f='${Package} ${Version}\n' "$pkg" 2>/dev/null && return
	sha256sum "$tarball" | cut -d' ' -f1
}
key=$({ cat "$fragment"; echo "base ARCH=x86_64 tinyconfig"; source_version; ${CC:-gcc} --version | head -n 1; } |
	sha256sum | cut -c1-16)
dir=$cache/kernel-$key
tree=$dir/linux

log() { echo "debug-kernel: $*" >&2; }

# Apply the fragment with the tree's scripts/config, then check that every
# line survived olddefconfig (a missing dependency silently drops options).
configure() {
	local line sym val bad=
	# ARCH=x86_64: 64-bit defaults (with ARCH=x86, tinyconfig means i386).
	make -C "$tree" -s ARCH=x86_64 tinyconfig || return 1
	while IFS= read -r line; do
		case $line in
		"# CONFIG_"*" is not set")
			sym=${line#\# CONFIG_}; sym=${sym% is not set}
			"$tree/scripts/config" --file "$tree/.config" --disable "$sym" || return 1 ;;
		CONFIG_*=*)
			sym=${line%%=*}; sym=${sym#CONFIG_}; val=${line#*=}
			case $val in
			y) "$tree/scripts/config" --file "$tree/.config" --enable "$sym" ;;
			m) "$tree/scripts/config" --file "$tree/.config" --module "$sym" ;;
			\"*\") val=${val#\"}; val=${val%\"}
			   "$tree/scripts/config" --file "$tree/.config" --set-str "$sym" "$val" ;;
			*) "$tree/scripts/config" --file "$tree/.config" --set-val "$sym" "$val" ;;
			esac ;;
		esac
	done < "$fragment"
	make -C "$tree" -s olddefconfig || return 1
	while IFS= read -r line; do
		case $line in
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			grep -q "^$sym=" "$tree/.config" && bad="$bad
  want: $line, got: $(grep "^$sym=" "$tree/.config")" ;;
		CONFIG_*=*)
			grep -qxF "$line" "$tree/.config" ||
				bad="$bad
  want: $line, got: $(grep -E "^(# )?${line%%=*}[= ]" "$tree/.config" || echo "(not in .config: dependency missing)")" ;;
		esac
	done < "$fragment"
	if [ -n "$bad" ]; then
		log "scripts/debug.config did not apply:$bad"
		return 1
	fi
}

build() {
	mkdir -p "$cache"
	# One build at a time; the lock is not held past the build.
	exec 9>"$dir.lock"
	flock 9
	build_locked
	local rc=$?
	exec 9>&-
	return $rc
}

build_locked() {
	if [ -f "$dir/.done" ]; then
		log "cached kernel $dir (built in $(cat "$dir/build-time" 2>/dev/null || echo '?'))"
		return
	fi
	local start=$SECONDS
	mkdir -p "$dir"
	log "building into $dir (log: $dir/build.log; 5-15 min on 2 CPUs)"
	if [ ! -f "$tree/Makefile" ]; then
		rm -rf "$dir/extract"
		mkdir -p "$dir/extract"
		tar -xJf "$tarball" -C "$dir/extract"
		rm -rf "$tree"
		mv "$dir/extract"/* "$tree"
		rmdir "$dir/extract"
		log "extracted the source in $(( SECONDS - start ))s"
	fi
	cp "$fragment" "$dir/debug.config"
	# An interrupted build resumes: the tree keeps its .config and objects.
	if [ ! -f "$tree/.config" ]; then
		configure >&2 || { rm -f "$tree/.config"; return 1; }
	fi
	if ! { make -C "$tree" -j"$jobs" bzImage modules &&
	       make -C "$tree" -j"$jobs" modules_prepare; } >"$dir/build.log" 2>&1; then
		tail -n 40 "$dir/build.log" >&2
		log "kernel build failed; full log: $dir/build.log"
		return 1
	fi
	cp "$tree/arch/x86/boot/bzImage" "$dir/bzImage"
	local t=$(( SECONDS - start ))
	printf '%dm%02ds\n' $(( t / 60 )) $(( t % 60 )) > "$dir/build-time"
	touch "$dir/.done"
	log "built $(make -s -C "$tree" kernelrelease) in $(cat "$dir/build-time") ($jobs jobs, $(nproc) CPUs)"
}

# Build the module against the debug tree in VMDIR/module (a copy of the
# module's sources) so the checkout's sharedsock.ko stays the normal lane's
# (Debian kernel) build, and runs for different tests do not collide.
build_module() {
	local mdir=$1/module out
	mkdir -p "$mdir/module" "$mdir/uapi/linux"
	cp -p "$top/Kbuild" "$mdir/"
	cp -p "$top"/module/*.[ch] "$mdir/module/"
	cp -p "$top"/uapi/linux/*.h "$mdir/uapi/linux/"
	if ! out=$(make -C "$tree" M="$mdir" W=1 modules 2>&1); then
		echo "$out" >&2
		log "module build against the debug kernel failed"
		return 1
	fi
	echo "$out" > "$mdir/build.log"
	if grep -qE 'warning:|WARNING:' <<<"$out"; then
		grep -E -A3 'warning:|WARNING:' <<<"$out" >&2
		log "module build against the debug kernel is not W=1 clean"
		return 1
	fi
	log "module built W=1 clean against $tree"
}

cmd=${1:-build}
case $cmd in
build)
	build
	echo "$dir" ;;
dir)
	echo "$dir"
	[ -f "$dir/.done" ] ;;
check)
	only=${2:-}
	vmdir=$top/build/vm-debug${only:+-$only}
	build
	build_module "$vmdir"
	# Debug-lane sizes for the stress and fuzz selftests (when they exist),
	# and SSVM_DEBUG=1: dmesg after each test program, kmemleak scans.  A
	# task stuck for 120 s (a deadlock) panics the VM, which prints why.
	KERNEL=debug VM_KERNEL=$dir/bzImage VM_MODULE=$vmdir/module/sharedsock.ko \
	VM_DIR=$vmdir VM_TIMEOUT=${VM_TIMEOUT:-3600} \
	VM_MEM=${VM_MEM:-2048} VM_APPEND="hung_task_panic=1 ${VM_APPEND:-}" \
	VM_ENV="SSVM_DEBUG=1 SHAREDSOCK_FUZZ_OPS=${SHAREDSOCK_FUZZ_OPS:-1000000} SHAREDSOCK_STRESS_SECONDS=${SHAREDSOCK_STRESS_SECONDS:-60} ${VM_ENV:-}" \
		exec "$top/scripts/vm.sh" test $only ;;
*)
	echo "usage: $0 [build|dir|check [TEST]]" >&2
	exit 2 ;;
esac
