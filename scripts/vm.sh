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
[ -f "$module" ] || { echo "vm: no module $module (make module)" >&2; exit 1; }

rm -rf "$build/root"
mkdir -p "$build/root"/{bin,dev,etc,proc,sys,tmp,lib/modules,tests}
cp /bin/busybox "$build/root/bin/busybox"
cp "$top/scripts/vm-init.sh" "$build/root/init"
cp "$module" "$build/root/lib/modules/sharedsock.ko"
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
