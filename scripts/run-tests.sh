#!/usr/bin/env bash
# Run every test tier (unit, bpf, e2e, pkg), each with its own summary, and
# close with one combined "N passed, M failed" line. Exit 1 if any fails.
# Before that line, every failure line of every tier is printed once more
# (at most $RECAP_MAX of them): a CI log is often read from its end only.
# TIERS="unit bpf" limits the tiers.
set -uo pipefail
cd "$(dirname "$0")/.."
TIERS=${TIERS:-"unit fuzz-smoke bpf e2e pkg"}
RECAP_MAX=${RECAP_MAX:-40}
total_pass=0 total_fail=0 failed_tiers=() recap=()

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

# failures TIER LOG -- append LOG's failure lines to recap: the e2e and pkg
# tiers' case results and expectations ("HH:MM:SS FAIL name", "FAIL  what"),
# the bpf tier's TAP lines ("not ok"), cmocka's "[  FAILED  ] name" and
# "[  ERROR   ]" lines, and make's own errors.
failures() {
	local line
	while IFS= read -r line; do
		recap+=("[$1] $line")
	done < <(grep -E '(^|[[:space:]])FAIL([[:space:]]|$)|^not ok |^\[  (FAILED|ERROR)   *\]|^make(\[[0-9]+\])?: \*\*\*' "$2")
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
	failures "$tier" "$log"
	((rc)) && failed_tiers+=("$tier")
	rm -f "$log"
done
echo
if ((${#recap[@]})); then
	echo "failure lines (${#recap[@]}, repeated from above):"
	printf '  %s\n' "${recap[@]:0:RECAP_MAX}"
	((${#recap[@]} <= RECAP_MAX)) || echo "  ... $((${#recap[@]} - RECAP_MAX)) more above"
fi
echo "tiers failed: ${failed_tiers[*]:-none}"
((${#failed_tiers[@]})) && total_fail=$((total_fail > 0 ? total_fail : 1))
echo "$total_pass passed, $total_fail failed"
((${#failed_tiers[@]} == 0))
