# shellcheck shell=bash
# bench/cpu.sh -- CPU time of a shell's reaped children (sourced by
# bench/measure.sh and bench/offload.sh).

# times_ns FILE -- the CPU time (ns) of every child the shell that wrote
# FILE with bash `times` had reaped: its second line (getrusage: exact run
# times, user + system).
times_ns() {
	awk 'NR == 2 {
		t = 0
		for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] }
		printf "%.0f\n", t * 1e9
	}' "$1"
}
