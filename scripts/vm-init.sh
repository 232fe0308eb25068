#!/bin/busybox sh
# PID 1 of the test VM: load the module, run the selftests, unload, report.
# SSVM_MODE (from the kernel command line): test (default), demo, bench
# or shell.
/bin/busybox --install -s /bin
export PATH=/bin:/tests
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
ip link set lo up
echo "### SHAREDSOCK VM START"

sockets_used() {
	awk '/^sockets:/ { print $3 }' /proc/net/sockstat
}

check() {	# check DESCRIPTION COMMAND...
	desc=$1
	shift
	if "$@"; then echo "ok - $desc"; else echo "not ok - $desc"; fi
}

sockets_before=$(sockets_used)
check "insmod sharedsock.ko" insmod /lib/modules/sharedsock.ko
check "/dev/sharedsock is mode 0666" \
	sh -c '[ "$(stat -c %a /dev/sharedsock)" = 666 ]'

if [ "$SSVM_MODE" = shell ]; then
	echo "sharedsock loaded; tests are in /tests; 'poweroff -f' to leave"
	setsid cttyhack sh
	poweroff -f
fi

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

if [ "$SSVM_MODE" != demo ] && [ "$SSVM_MODE" != bench ]; then
	for t in /tests/*_test; do
		name=${t##*/}
		[ -n "$SSVM_ONLY" ] && [ "$name" != "$SSVM_ONLY" ] && continue
		echo "### RUN $name"
		SHAREDSOCK_KO=/lib/modules/sharedsock.ko "$t"
		echo "### EXIT $name $?"
	done
fi

check "rmmod sharedsock once unused" rmmod sharedsock
sockets_leaked() {
	i=0
	while [ "$(sockets_used)" -gt "$sockets_before" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	echo "# sockets in use: $sockets_before before, $(sockets_used) after"
	[ "$(sockets_used)" -le "$sockets_before" ]
}
check "no sockets leaked by the suite" sockets_leaked

echo "### DMESG BEGIN"
dmesg
echo "### DMESG END"
echo "### SHAREDSOCK VM DONE"
poweroff -f
