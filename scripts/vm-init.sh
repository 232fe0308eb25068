#!/bin/busybox sh
# PID 1 of the test VM: load the module, run the selftests and the
# examples, unload, report.
# SSVM_MODE (from the kernel command line): test (default), demo, bench,
# run (vm.sh run: the command in /etc/ssvm.run) or shell.  /etc/ssvm.env
# (vm.sh's VM_ENV) sets more variables, exported to the tests; SSVM_DEBUG=1
# (the debug-kernel lane) also dumps dmesg after each test program and
# checks kmemleak before and after the module is unloaded.
/bin/busybox --install -s /bin
export PATH=/bin:/tests
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
ip link set lo up
[ -r /etc/ssvm.env ] && . /etc/ssvm.env
echo "### SHAREDSOCK VM START"

kmemleak=/sys/kernel/debug/kmemleak
if [ "$SSVM_DEBUG" = 1 ]; then
	mount -t debugfs debugfs /sys/kernel/debug
	# Injected failures (fail-nth) are expected: no stack dump for each.
	for f in /sys/kernel/debug/failslab /sys/kernel/debug/fail_page_alloc; do
		[ -w $f/verbose ] && echo 0 > $f/verbose
	done
	# Scan only on demand, and forget what boot left behind.
	if [ -w $kmemleak ]; then
		echo scan=off > $kmemleak
		echo scan > $kmemleak
		echo "# kmemleak: $(grep -c '^unreferenced object' $kmemleak) objects from boot set aside"
		echo clear > $kmemleak
	fi
fi

dmesg_after() {	# dmesg_after LABEL: the kernel log since the last call
	[ "$SSVM_DEBUG" = 1 ] || return 0
	echo "### DMESG BEGIN $1"
	dmesg -c
	echo "### DMESG END"
}

kmemleak_check() {	# kmemleak_check WHEN: two scans, then the suspected leaks
	[ -w $kmemleak ] || { echo "not ok - kmemleak $1: no $kmemleak"; return; }
	sleep 6		# kmemleak skips objects younger than 5 s
	echo scan > $kmemleak && sleep 5 && echo scan > $kmemleak ||
		{ echo "not ok - kmemleak $1: scan failed (detector disabled?)"; return; }
	cat $kmemleak > /tmp/kmemleak
	echo clear > $kmemleak	# each leak is listed once
	echo "### KMEMLEAK BEGIN $1"
	cat /tmp/kmemleak
	[ -s /tmp/kmemleak ] && [ -n "$text" ] && echo "(sharedsock .text was at $text)"
	echo "### KMEMLEAK END"
	n=$(grep -c '^unreferenced object' /tmp/kmemleak)
	[ "$n" -eq 0 ] && echo "ok - kmemleak $1: no leaks" ||
		echo "not ok - kmemleak $1: $n suspected leaks"
}

sockets_used() {
	awk '/^sockets:/ { print $3 }' /proc/net/sockstat
}

check() {	# check DESCRIPTION COMMAND...
	desc=$1
	shift
	if "$@"; then echo "ok - $desc"; else echo "not ok - $desc"; fi
}

# Debian's socket-family modules (sctp, tls, af_key, can, vsock, tipc, ...)
# that vm.sh staged, each after what it needs, so that socket() creates
# every kind this kernel has: a module that does not load is skipped.
if [ -r /lib/modules/net/load.list ]; then
	netmods=
	for m in $(cat /lib/modules/net/load.list); do
		insmod /lib/modules/net/$m.ko 2>/dev/null && netmods="$netmods $m"
	done
	echo "# socket modules loaded:${netmods:- none}"
fi

# Kernel first-use work on the loopback paths, done while nothing else
# runs (selftests/netwarm_helper.c says why).
[ -x /tests/netwarm_helper ] && check "loopback paths warmed up" /tests/netwarm_helper
sockets_before=$(sockets_used)
check "insmod sharedsock.ko" insmod /lib/modules/sharedsock.ko
check "/dev/sharedsock is mode 0666" \
	sh -c '[ "$(stat -c %a /dev/sharedsock)" = 666 ]'
dmesg_after boot

if [ "$SSVM_MODE" = shell ]; then
	# Line wrapping on (the firmware switched it off); the terminal's size
	# as vm.sh found it, set on the shell's own terminal.
	printf '\033[?7h'
	echo "sharedsock loaded; tests are in /tests, examples in /examples," \
		"VM_FILES in /work; 'poweroff -f' to leave"
	cd /work
	PATH=/work:$PATH setsid cttyhack sh -c \
		"${SSVM_COLS:+stty rows $SSVM_ROWS cols $SSVM_COLS;} exec sh"
	poweroff -f
fi

# vm.sh run: the command, in /work, with all its output between markers
# (vm.sh shows it), then its exit status as a TAP line.
if [ "$SSVM_MODE" = run ]; then
	echo "### OUTPUT BEGIN"
	(cd /work && PATH=/work:$PATH && . /etc/ssvm.run) </dev/null 2>&1
	rc=$?
	echo "### OUTPUT END"
	[ $rc -eq 0 ] && echo "ok - run: exit status 0" || echo "not ok - run: exit status $rc"
fi

# The examples vm.sh put in /examples: each checks itself and exits 0 when
# its check held; a TAP line each, with the program's output as comments.
run_examples() {
	echo "### RUN examples"
	echo "1..$(ls /examples | wc -l)"
	n=0
	for e in /examples/*; do
		n=$((n + 1))
		timeout 120 "$e" </dev/null >/tmp/example.out 2>&1
		rc=$?
		sed 's/^/# /' /tmp/example.out
		[ $rc -eq 0 ] && echo "ok $n - example ${e##*/}" ||
			echo "not ok $n - example ${e##*/} (exit status $rc)"
	done
	echo "### EXIT examples 0"
}

if [ "$SSVM_MODE" = demo ]; then
	echo "### RUN demo"
	/bin/sharedsock-demo $SSVM_DEMO_ARGS
	rc=$?
	[ $rc -eq 0 ] && echo "ok - demo: every check held" || echo "not ok - demo exited $rc"
	echo "### EXIT demo 0"
fi

if [ "$SSVM_MODE" = bench ]; then
	echo "### RUN bench"
	/bin/sharedsock-bench $SSVM_BENCH_ARGS
	rc=$?
	[ $rc -eq 0 ] && echo "ok - benchmark ran" || echo "not ok - benchmark exited $rc"
	echo "### EXIT bench 0"
fi

if [ "$SSVM_MODE" != demo ] && [ "$SSVM_MODE" != bench ] && [ "$SSVM_MODE" != run ]; then
	for t in /tests/*_test; do
		name=${t##*/}
		[ -n "$SSVM_ONLY" ] && [ "$name" != "$SSVM_ONLY" ] && continue
		echo "### RUN $name"
		start=$(date +%s)
		SHAREDSOCK_KO=/lib/modules/sharedsock.ko "$t"
		rc=$?
		[ "$SSVM_DEBUG" = 1 ] && echo "# $name ran $(( $(date +%s) - start ))s"
		echo "### EXIT $name $rc"
		dmesg_after "$name"
	done
	if [ -d /examples ] && { [ -z "$SSVM_ONLY" ] || [ "$SSVM_ONLY" = examples ]; }; then
		run_examples
		dmesg_after examples
	fi
fi

if [ "$SSVM_DEBUG" = 1 ]; then
	# Leaks show with symbols while the module is loaded; after rmmod,
	# what only the module's own variables pointed to.
	text=$(cat /sys/module/sharedsock/sections/.text 2>/dev/null)
	kmemleak_check "with the module loaded"
fi
# What the last tests let go from work items (tokens of exited processes,
# io_uring rings, closes deferred to a kernel thread) may hold the module a
# moment after they exit: wait for it to be unused, 30 s at most.
rmmod_unused() {
	i=0
	while ! rmmod sharedsock 2>/dev/null; do
		[ -e /sys/module/sharedsock ] && [ $i -lt 300 ] || { rmmod sharedsock; return; }
		sleep 0.1
		i=$((i + 1))
	done
}
check "rmmod sharedsock once unused" rmmod_unused
sockets_leaked() {
	i=0
	while [ "$(sockets_used)" -gt "$sockets_before" ] && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	echo "# sockets in use: $sockets_before before, $(sockets_used) after"
	[ "$(sockets_used)" -le "$sockets_before" ]
}
check "no sockets leaked by the suite" sockets_leaked
[ "$SSVM_DEBUG" = 1 ] && kmemleak_check "after rmmod"

echo "### DMESG BEGIN"
dmesg
echo "### DMESG END"
echo "### SHAREDSOCK VM DONE"
poweroff -f
