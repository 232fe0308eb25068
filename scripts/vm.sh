#!/bin/bash
# Boot a Debian kernel of the matrix under QEMU with the module and the
# selftests in a busybox initramfs.
#   vm.sh test [TEST]  run the suite (or one test program), print TAP and
#                      "N passed, N failed, N skipped"; exit 1 on failure
#   vm.sh demo         run the acceptor/worker demo (userspace/examples)
#   vm.sh bench        run the benchmark (bench/); its CSV goes to build/bench.csv
#   vm.sh shell        boot with the module loaded and give a shell
# Environment (all optional): KERNEL (a series of scripts/kernels.list,
# default its first; the module is built for it when needed), VM_KERNEL
# (kernel image) and VM_MODULE (sharedsock.ko to load) instead of KERNEL's,
# VM_DIR (work dir, default build/vm-KERNEL[-TEST]), VM_TIMEOUT (seconds),
# VM_MEM (MiB), VM_APPEND (kernel command line), VM_ENV ("NAME=VALUE ..."
# exported to the guest's init and the tests).
set -euo pipefail

mode=${1:-test}
only=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
KERNEL=${KERNEL:-$("$top/scripts/kernel.sh" list | head -n 1)}
if [ -z "${VM_KERNEL:-}" ] || [ -z "${VM_MODULE:-}" ]; then
	paths=$("$top/scripts/kernel.sh" "$KERNEL" paths) || exit 1
	MODULE=$(sed -n 's/^MODULE=//p' <<<"$paths")
	VMLINUZ=$(sed -n 's/^VMLINUZ=//p' <<<"$paths")
fi
kernel=${VM_KERNEL:-$VMLINUZ}
module=${VM_MODULE:-$MODULE}
build=${VM_DIR:-$top/build/vm-$KERNEL${only:+-$only}}
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
[ -x "$top/userspace/examples/acceptor_demo" ] && cp "$top/userspace/examples/acceptor_demo" "$build/root/bin/sharedsock-demo"
for prog in "$top"/selftests/*_test "$top"/selftests/*_helper; do
	[ -x "$prog" ] && cp "$prog" "$build/root/tests/"
done
(cd "$build/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$build/initramfs.cpio.gz"

# Dedicated slab caches stay visible in /proc/slabinfo for the benchmark.
[ "$mode" = bench ] && slab_nomerge=slab_nomerge
qemu=(qemu-system-x86_64 -machine q35 -cpu max -smp 2 -m "${VM_MEM:-2048}" -nographic
      -no-reboot -kernel "$kernel" -initrd "$build/initramfs.cpio.gz"
      -append "console=ttyS0 panic=-1 loglevel=2 ${slab_nomerge:-} SSVM_MODE=$mode SSVM_ONLY=$only ${VM_APPEND:-}")

if [ "$mode" = shell ]; then
	exec "${qemu[@]}"
fi

log=$build/vm.log
start=$(date +%s)
set +e
timeout "$timeout" "${qemu[@]}" </dev/null 2>&1 | tr -d '\r' > "$log"
qemu_rc=${PIPESTATUS[0]}
set -e
echo "# VM ran $(( $(date +%s) - start ))s (kernel ${kernel##*/}), log: $log"
if [ "$mode" = bench ]; then
	sed -n '/^### CSV BEGIN/,/^### CSV END/p' "$log" | sed '1d;$d' > "$top/build/bench.csv"
	echo "# CSV: $top/build/bench.csv"
fi
exec "$top/scripts/vm-report.sh" "$log" "$qemu_rc"
