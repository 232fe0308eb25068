#!/bin/sh
# Turn a test VM's serial log into TAP and a verdict.  The VM run fails when
# a test fails, a test program dies without reporting, the guest kernel
# logs an oops/WARN/BUG, or the VM does not power off by itself.
set -eu
log=$1
qemu_rc=$2

awk -v qemu_rc="$qemu_rc" '
function result(ok, skip, line) {
	print line
	if (skip) skipped++
	else if (ok) passed++
	else failed++
}
/^### RUN / { prog = $3; prog_failed = 0; next }
/^### EXIT / {
	if ($4 != 0 && !prog_failed)
		result(0, 0, "not ok - " $3 " exited with status " $4)
	prog = ""
	next
}
/^### DMESG BEGIN/ { in_dmesg = 1; next }
/^### DMESG END/ { in_dmesg = 0; next }
/^### SHAREDSOCK VM DONE/ { done = 1; next }
in_dmesg {
	if ($0 ~ /(BUG:|WARNING:|Oops|Call Trace|kernel BUG|general protection|Kernel panic|KASAN|UBSAN|possible circular locking|unreferenced object|list_(add|del) corruption)/)
		bad[++nbad] = $0
	next
}
/(Kernel panic|BUG:|Oops:|WARNING:)/ { bad[++nbad] = $0 }
/^ *(not )?ok [0-9]+ / || /^(not )?ok - / {
	sub(/^ +/, "")
	ok = ($0 !~ /^not ok/)
	skip = ($0 ~ /# [Ss][Kk][Ii][Pp]/)
	if (!ok) prog_failed = 1
	result(ok, skip, (prog != "" ? "[" prog "] " : "") $0)
	next
}
/^#/ && prog != "" { print "[" prog "] " $0 }
END {
	if (prog != "")
		result(0, 0, "not ok - " prog " did not finish")
	result(done && qemu_rc == 0, 0, (done && qemu_rc == 0 ? "ok" : "not ok") \
	       " - VM powered off by itself (qemu exit " qemu_rc ")")
	result(nbad == 0, 0, (nbad == 0 ? "ok" : "not ok") " - guest kernel log clean")
	for (i = 1; i <= nbad && i <= 40; i++)
		print "#   " bad[i]
	printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
	exit failed != 0
}' "$log"
