#!/usr/bin/env bash
# Run every test tier (unit, bpf, e2e, pkg), each with its own summary, and
# close with one combined "N passed, M failed" line. Exit 1 if any fails.
# TIERS="unit bpf" limits the tiers.
set -uo pipefail
cd "$(dirname "$0")/.."
TIERS=${TIERS:-"unit fuzz-smoke bpf e2e pkg"}
total_pass=0 total_fail=0 failed_tiers=()

count() { # $1 = log: add its counts to the totals
	local p f
	# plain "N passed, M failed" lines (bpf, e2e)
	while read -r p f; do
		total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
	done < <(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\1 \2/p' "$1")
	# cmocka: "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)"
	p=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
	f=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
	total_pass=$((total_pass + ${p:-0})); total_fail=$((total_fail + ${f:-0}))
}

for tier in $TIERS; do
	log=$(mktemp)
	target=$tier
	[[ $tier == bpf ]] && target=bpftest
	[[ $tier == pkg ]] && target=pkgtest
	if ! make -n "$target" >/dev/null 2>&1; then
		echo "== tier $tier: no such target, skipped"
		rm -f "$log"
		continue
	fi
	echo "== tier $tier"
	if make --no-print-directory "$target" 2>&1 | tee "$log"; then
		rc=0
	else
		rc=1
	fi
	count "$log"
	((rc)) && failed_tiers+=("$tier")
	rm -f "$log"
done
echo
echo "tiers failed: ${failed_tiers[*]:-none}"
((${#failed_tiers[@]})) && total_fail=$((total_fail > 0 ? total_fail : 1))
echo "$total_pass passed, $total_fail failed"
((${#failed_tiers[@]} == 0))
