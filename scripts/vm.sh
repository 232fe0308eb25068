#!/bin/bash
# Boot a Debian kernel of the matrix under QEMU with the module and the
# selftests in a busybox initramfs.
#   vm.sh test [TEST]  run the suite (or one test program; "examples": the
#                      examples alone), print TAP and "N passed, N failed,
#                      N skipped"; exit 1 on failure.  The suite ends with
#                      the examples (userspace/examples, built here).
#   vm.sh demo         run the acceptor/worker demo (demo/)
#   vm.sh bench        run the benchmark (bench/); its CSV goes to build/bench.csv
#   vm.sh shell        boot with the module loaded and give a shell
#   vm.sh run PROG [ARG...]
#                      run PROG in /work (usually one of VM_FILES), showing
#                      all its output as it comes, then the VM's checks;
#                      exit with PROG's status, else the checks' verdict
# Environment (all optional): KERNEL (a series of scripts/kernels.list,
# default its first; the module is built for it when needed), VM_KERNEL
# (kernel image) and VM_MODULE (sharedsock.ko to load) instead of KERNEL's,
# VM_DIR (work dir, default build/vm-KERNEL[-TEST], -run for run),
# VM_TIMEOUT (seconds), VM_MEM (MiB), VM_APPEND (kernel command line),
# VM_ENV ("NAME=VALUE ..." exported to the guest's init and the tests),
# VM_FILES ("PATH ...": files or directories copied into the guest's
# /work, in every mode; the programs among them get the dynamic loader and
# the shared libraries they need, the tree's libsharedsock.so.0 before an
# installed one).
set -euo pipefail

mode=${1:-test}
shift || :
if [ "$mode" = run ]; then
	[ $# -gt 0 ] || { echo "usage: vm.sh run PROGRAM [ARG...]" >&2; exit 2; }
	only= suffix=-run
else
	only=${1:-} suffix=${1:+-$1}
fi
top=$(cd "$(dirname "$0")/.." && pwd)
KERNEL=${KERNEL:-$("$top/scripts/kernel.sh" list | head -n 1)}
if [ -z "${VM_KERNEL:-}" ] || [ -z "${VM_MODULE:-}" ]; then
	paths=$("$top/scripts/kernel.sh" "$KERNEL" paths) || exit 1
	MODULE=$(sed -n 's/^MODULE=//p' <<<"$paths")
	VMLINUZ=$(sed -n 's/^VMLINUZ=//p' <<<"$paths")
fi
kernel=${VM_KERNEL:-$VMLINUZ}
module=${VM_MODULE:-$MODULE}
build=${VM_DIR:-$top/build/vm-$KERNEL$suffix}
timeout=${VM_TIMEOUT:-1200}

[ -r "$kernel" ] || { echo "vm: no kernel image $kernel" >&2; exit 1; }

# Socket families and protocols Debian builds as modules, loaded by the
# guest's init before the tests so that socket() creates every kind it can
# (selftests/zoo_test.c), each after what it needs.  A name the kernel
# lacks or has built in is left out without a word.  crc32c comes first:
# libcrc32c (sctp) asks the crypto API for it, which would need modprobe.
netmods_wanted="crc32c_intel crc32c_generic sctp tls af_key can can_raw can_bcm can_isotp can_j1939 can_gw
	vsock vsock_loopback tipc rds qrtr l2tp_core l2tp_ip l2tp_ip6 l2tp_ppp
	slhc pppoe pppox af_alg algif_hash algif_skcipher algif_aead algif_rng kcm
	phonet pn_pep ieee802154_socket llc2 appletalk x25 ax25 netrom rose atm
	dccp dccp_ipv4 dccp_ipv6 mctp caif_socket nfc af_packet"

# netmods: stage those modules of the kernel of the matrix (decompressed,
# with their dependencies per depmod) into the kernel's cache entry, once;
# print the directory.  Debian's package ships them (linux-modules-KVER
# from 7.3, linux-image-KVER before); kernel.sh extracts no module.
netmods() {
	local env vdir kver version dir tmp pkg base f m dep
	env=$("$top/scripts/kernel.sh" "$KERNEL" env) || return 1
	kver=$(sed -n 's/^KVER=//p' <<<"$env")
	version=$(sed -n 's/^VERSION=//p' <<<"$env")
	vdir=$(sed -n 's/^VMLINUZ=//p' <<<"$env")
	vdir=${vdir%/root/*}
	dir=$vdir/netmods
	if [ ! -f "$dir/.done" ] || [ "$(cat "$dir/wanted" 2>/dev/null)" != "$netmods_wanted" ]; then
		echo "# vm: staging Debian's socket modules of $kver into $dir" >&2
		tmp=$(mktemp -d "$vdir/netmods.XXXXXX")
		pkg=linux-modules-$kver
		"$top/scripts/apt.sh" cache show "$pkg=$version" >/dev/null 2>&1 || pkg=linux-image-$kver
		(cd "$tmp" && "$top/scripts/apt.sh" get -qq download "$pkg=$version") >&2 ||
			{ rm -rf "$tmp"; return 1; }
		mkdir -p "$tmp/x" "$tmp/b/lib/modules/$kver"
		dpkg-deb --fsys-tarfile "$tmp"/*.deb |
			tar -x -C "$tmp/x" --wildcards --no-anchored \
			    "modules/$kver/kernel/net/*" "modules/$kver/kernel/lib/*" \
			    "modules/$kver/kernel/crypto/*" "modules/$kver/kernel/arch/*" \
			    "modules/$kver/kernel/drivers/net/ppp/*" "modules/$kver/kernel/drivers/net/slip/*" "modules/$kver/kernel/drivers/net/caif/*" \
			    "modules/$kver/kernel/drivers/infiniband/core/*" \
			    "modules/$kver/modules.builtin*" "modules/$kver/modules.order" 2>/dev/null ||
			:	# a directory this kernel lacks is no error
		base=$(find "$tmp/x" -type d -path "*/modules/$kver" | head -n 1)
		[ -n "$base" ] || { rm -rf "$tmp"; return 1; }
		cp -a "$base/." "$tmp/b/lib/modules/$kver/"
		find "$tmp/b" -name '*.ko.xz' -exec xz -d -q {} +
		find "$tmp/b" -name '*.ko.zst' -exec zstd -d -q --rm {} +
		depmod -b "$tmp/b" "$kver" || { rm -rf "$tmp"; return 1; }
		mkdir -p "$tmp/out"
		# modules.dep: "path: dep dep ...", the deps nearest first; so a
		# module loads after its deps in reverse.
		: > "$tmp/out/load.list"
		for m in $netmods_wanted; do
			f=$(awk -v m="$m" -F: '{ n = $1; sub(/.*\//, "", n); sub(/\.ko$/, "", n); gsub(/-/, "_", n) }
				n == m { print; exit }' "$tmp/b/lib/modules/$kver/modules.dep")
			[ -n "$f" ] || continue
			for dep in $(echo "${f#*:}" | tr ' ' '\n' | tac) "${f%%:*}"; do
				dep=$(basename "$dep" .ko)
				grep -qxF "$dep" "$tmp/out/load.list" && continue
				cp "$(find "$tmp/b/lib/modules/$kver" -name "$dep.ko" | head -n 1)" "$tmp/out/" &&
					echo "$dep" >> "$tmp/out/load.list"
			done
		done
		echo "$netmods_wanted" > "$tmp/out/wanted"
		rm -rf "$dir"
		mv "$tmp/out" "$dir"
		rm -rf "$tmp"
		touch "$dir/.done"
	fi
	echo "$dir"
}
[ -f "$module" ] || { echo "vm: no module $module (make module)" >&2; exit 1; }

# vm_libs FILE: if FILE is a dynamically linked program, the dynamic loader
# (at its own path) and the shared libraries it needs, as ldd finds them
# (libsharedsock.so.0 from the tree first), into the guest's /lib, which
# the loader searches.  Nothing for a static program or another file.
vm_libs() {
	local deps line lib
	deps=$(LD_LIBRARY_PATH=$top/userspace${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
		ldd "$1" 2>/dev/null) || return 0
	while read -r line; do
		case $line in
		*"=> not found"*)
			echo "vm: $1 needs ${line%% *}, which is not found" >&2
			return 1 ;;
		*" => /"*)
			lib=${line#* => }
			cp -L "${lib%% (*}" "$build/root/lib/${line%% *}" ;;
		/*)
			lib=${line%% (*}
			mkdir -p "$build/root${lib%/*}"
			cp -L "$lib" "$build/root$lib" ;;
		esac
	done <<<"$deps"
}

# vm_put PATH DIR: a file or directory into the guest's DIR, with the
# libraries of every program in it.
vm_put() {
	local f
	mkdir -p "$build/root$2"
	cp -RL "$1" "$build/root$2/" || return 1
	while IFS= read -r -d '' f; do
		vm_libs "$f" || return 1
	done < <(find -L "$1" -type f -perm -u+x -print0)
}

rm -rf "$build/root"
mkdir -p "$build/root"/{bin,dev,etc,proc,sys,tmp,lib/modules,tests}
cp /bin/busybox "$build/root/bin/busybox"
cp "$top/scripts/vm-init.sh" "$build/root/init"
cp "$module" "$build/root/lib/modules/sharedsock.ko"
# Only with a Debian kernel of the matrix (not VM_KERNEL's own image, such
# as the debug kernel, whose protocols are built in or absent).
if [ -z "${VM_KERNEL:-}" ]; then
	if mods=$(netmods); then
		mkdir -p "$build/root/lib/modules/net"
		cp "$mods"/*.ko "$mods/load.list" "$build/root/lib/modules/net/" 2>/dev/null || :
	else
		echo "# vm: no socket modules staged for $KERNEL; the tests create fewer kinds" >&2
	fi
fi
# VM_ENV reaches the guest as /etc/ssvm.env, which the init sources.
for var in ${VM_ENV:-}; do
	[[ $var =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "vm: VM_ENV: not NAME=VALUE: $var" >&2; exit 1; }
	val=${var#*=}
	printf "export %s='%s'\n" "${var%%=*}" "${val//\'/\'\\\'\'}"
done > "$build/root/etc/ssvm.env"
[ -x "$top/userspace/tools/sharedsockctl" ] && cp "$top/userspace/tools/sharedsockctl" "$build/root/bin/"
[ -x "$top/bench/sharedsock_bench" ] && cp "$top/bench/sharedsock_bench" "$build/root/bin/sharedsock-bench"
[ -x "$top/demo/acceptor_demo" ] && cp "$top/demo/acceptor_demo" "$build/root/bin/sharedsock-demo"
for prog in "$top"/selftests/*_test "$top"/selftests/*_helper; do
	[ -x "$prog" ] && cp "$prog" "$build/root/tests/"
done
# The examples (userspace/examples), which the suite ends with: built
# here, dynamically linked, as anyone's program is.
if { [ "$mode" = test ] && { [ -z "$only" ] || [ "$only" = examples ]; }; } ||
   [ "$mode" = shell ]; then
	make -s --no-print-directory -C "$top/userspace/examples" >&2 ||
		{ echo "vm: the examples do not build (userspace/examples)" >&2; exit 1; }
	for prog in $(make -s --no-print-directory -C "$top/userspace/examples" list); do
		vm_put "$top/userspace/examples/$prog" /examples || exit 1
	done
fi
for f in ${VM_FILES:-}; do
	vm_put "$f" /work || { echo "vm: VM_FILES: cannot copy $f" >&2; exit 1; }
done
mkdir -p "$build/root/work"
# vm.sh run: the command, quoted for the guest's sh.
if [ "$mode" = run ]; then
	for arg; do
		printf "'%s' " "${arg//\'/\'\\\'\'}"
	done > "$build/root/etc/ssvm.run"
fi
(cd "$build/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$build/initramfs.cpio.gz"

# Dedicated slab caches stay visible in /proc/slabinfo for the benchmark.
[ "$mode" = bench ] && slab_nomerge=slab_nomerge
# The shell gets this terminal's size (a serial console has none).
[ "$mode" = shell ] && [ -t 0 ] && read -r rows cols < <(stty size 2>/dev/null) &&
	termsize="SSVM_ROWS=$rows SSVM_COLS=$cols"
qemu=(qemu-system-x86_64 -machine q35 -cpu max -smp 2 -m "${VM_MEM:-2048}" -nographic
      -no-reboot -kernel "$kernel" -initrd "$build/initramfs.cpio.gz"
      -append "console=ttyS0 panic=-1 loglevel=2 ${slab_nomerge:-} ${termsize:-} SSVM_MODE=$mode SSVM_ONLY=$only ${VM_APPEND:-}")

if [ "$mode" = shell ]; then
	# The firmware switches the terminal's line wrapping off (ESC [?7l):
	# the guest's init switches it on again, and so do we on the way out.
	set +e
	"${qemu[@]}"
	rc=$?
	printf '\033[?7h'
	exit $rc
fi

log=$build/vm.log
start=$(date +%s)
set +e
if [ "$mode" = run ]; then
	# The program's output, between the init's markers, as it comes.
	timeout "$timeout" "${qemu[@]}" </dev/null 2>&1 | sed -u 's/\r//g' | tee "$log" |
		awk '/^### OUTPUT END$/ { p = 0 } p { print; fflush() } /^### OUTPUT BEGIN$/ { p = 1 }'
	qemu_rc=${PIPESTATUS[0]}
else
	# A guest that stops before sharedsock.ko is loaded (a boot or a
	# Debian protocol module going wrong under emulation) tested nothing
	# of ours: say how its log ended and boot it once more.
	for attempt in 1 2; do
		timeout "$timeout" "${qemu[@]}" </dev/null 2>&1 | tr -d '\r' > "$log"
		qemu_rc=${PIPESTATUS[0]}
		grep -q '^\(not \)\{0,1\}ok - insmod sharedsock.ko' "$log" || [ "$attempt" = 2 ] && break
		echo "# vm: the guest stopped before loading sharedsock.ko (qemu exit $qemu_rc); its log ended:"
		tail -n 25 "$log" | sed 's/^/#   /'
		echo "# vm: booting again"
		cp "$log" "$log.1"
	done
fi
set -e
echo "# VM ran $(( $(date +%s) - start ))s (kernel ${kernel##*/}), log: $log"
if [ "$mode" = bench ]; then
	sed -n '/^### CSV BEGIN/,/^### CSV END/p' "$log" | sed '1d;$d' > "$top/build/bench.csv"
	echo "# CSV: $top/build/bench.csv"
fi
if [ "$mode" = run ]; then
	# The checks without the output already shown; then PROG's status.
	awk '/^### OUTPUT BEGIN$/ { skip = 1 } !skip; /^### OUTPUT END$/ { skip = 0 }' \
		"$log" > "$build/checks.log"
	status=$(sed -n 's/^\(not \)\{0,1\}ok - run: exit status \([0-9]*\)$/\2/p' \
		"$build/checks.log")
	rc=0
	"$top/scripts/vm-report.sh" "$build/checks.log" "$qemu_rc" || rc=$?
	echo "# $1 exited with status ${status:-unknown (it did not finish)}"
	[ "${status:-1}" -eq 0 ] || exit "${status:-1}"
	exit $rc
fi
exec "$top/scripts/vm-report.sh" "$log" "$qemu_rc"
