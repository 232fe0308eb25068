#!/bin/sh
# Turn a test VM's serial log into TAP and a verdict.  The VM run fails when
# a test fails, a test program dies without reporting, the guest kernel
# logs an oops/WARN/BUG (or a KASAN, UBSAN, lockdep, SLUB debug or hung task
# report), kmemleak lists a leak, or the VM does not power off by itself.
# The first report is printed in full (up to 200 lines).
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
{ tail[NR % 30] = $0 }
/^### RUN / { prog = $3; prog_failed = 0; next }
/^### EXIT / {
	if ($4 != 0 && !prog_failed)
		result(0, 0, "not ok - " $3 " exited with status " $4)
	prog = ""
	next
}
function kernel_line(line, where) {
	# A stack dump for an injected failure (fail-nth) is not a bug.
	if (line ~ /FAULT_INJECTION: forcing a failure/) { fi = 1; return }
	if (fi && line ~ /<\/TASK>/) { fi = 0; return }
	if (line ~ /(BUG:|WARNING:|Oops|kernel BUG|general protection|Kernel panic|KASAN|UBSAN|possible circular locking|unreferenced object|list_(add|del) corruption|BUG [^ ]+ \((Not t|T)ainted|blocked for more than)/ ||
	    (!fi && line ~ /Call Trace/)) {
		bad[++nbad] = (where != "" ? "[" where "] " : "") line
		if (!report_on) {
			report_on = 1
			if (prev ~ /(=====|cut here)/)
				report[++nreport] = prev
		}
	}
	if (report_on && nreport < 200)
		report[++nreport] = line
	prev = line
}
/^### DMESG BEGIN/ { in_dmesg = 1; where = ($4 != "" ? "after " $4 : ""); fi = 0; next }
/^### DMESG END/ { in_dmesg = 0; next }
/^### KMEMLEAK BEGIN/ { in_dmesg = 1; where = $0; sub(/^### KMEMLEAK BEGIN */, "kmemleak ", where); fi = 0; next }
/^### KMEMLEAK END/ { in_dmesg = 0; next }
/^### SHAREDSOCK VM DONE/ { done = 1; next }
in_dmesg { kernel_line($0, where); next }
/^\[ *[0-9]+\.[0-9]+\] / { kernel_line($0, "console"); next }
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
	if (nreport) {
		print "# ---- the first kernel report ----"
		for (i = 1; i <= nreport; i++)
			print "# " report[i]
		print "# ---- end of report ----"
	}
	# A VM that did not finish: the end of its serial log shows where.
	if (!done) {
		print "# ---- the last lines of the serial log ----"
		for (i = (NR > 30 ? NR - 29 : 1); i <= NR; i++)
			print "# " tail[i % 30]
		print "# ---- end of serial log ----"
	}
	printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
	exit failed != 0
}' "$log"
