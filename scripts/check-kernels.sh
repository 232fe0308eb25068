#!/bin/bash
# make check-kernels: the suite on every kernel of scripts/kernels.list, one
# after the other (userspace and selftests already built).  Prints each
# failure, one summary line per kernel, then the total; the full output of
# kernel K is in build/check-K.log.  Exit 1 when any kernel fails.
set -uo pipefail
. "$(dirname "$0")/common.sh"

rc=0 passed=0 failed=0 skipped=0
mkdir -p "$top/build"
for k in $("$top/scripts/kernel.sh" list); do
	logf=$top/build/check-$k.log
	start=$SECONDS
	KERNEL=$k "$top/scripts/vm.sh" test >"$logf" 2>&1 || rc=1
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$logf" | tail -n 1)
	kver=$("$top/scripts/kernel.sh" "$k" env 2>/dev/null | sed -n 's/^KVER=//p')
	grep -E '^(\[[^]]*\] )?not ok' "$logf" | sed "s/^/[$k] /"
	if [ -z "$summary" ]; then
		tail -n 20 "$logf" | sed "s/^/[$k] /"
		echo "kernel $k (${kver:-?}): did not run (log: $logf)"
		failed=$((failed + 1)) rc=1
		continue
	fi
	read -r p f s <<<"$(sed -E 's/^([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \2 \3/' <<<"$summary")"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	echo "kernel $k ($kver): $summary in $((SECONDS - start))s"
done
echo "$passed passed, $failed failed, $skipped skipped"
exit $rc
