#!/usr/bin/env bash
# bench-endpoint.sh -- measure CORS preflight latency and throughput of YOUR
# endpoint with the method of `make bench`: bench/preflight.txt's
# Chromium-like preflight (its header set, with your URL's host and path and
# your origin, method and headers), written once as a request file and sent
# from it by both clients: build/bench/rrlat over 1 keep-alive connection
# for the latency (each round trip timed in ns), wrk with
# bench/preflight.lua over N connections for the throughput. When
# preflightd runs on the interface that holds the target's address, its
# counters before and after say how many preflights were answered in the
# kernel.
#
#   scripts/bench-endpoint.sh URL --origin ORIGIN [options]
#
#   URL                 http://HOST[:PORT]/PATH of the endpoint (plaintext HTTP/1.1)
#   --origin ORIGIN     Origin of the preflights: one you control (required)
#   --method M          Access-Control-Request-Method (default PUT)
#   --headers LIST      Access-Control-Request-Headers (default content-type,x-request-id)
#   --duration S        seconds of each run (default 5)
#   --connections N     connections of the throughput run (default 64)
#   --threads N         wrk threads (default 1)
#   --iface IF          the preflightd instance to read (default: the interface
#                       holding the target's address)
#   --netns NS          run rrlat and wrk inside network namespace NS
#   --allow-remote      allow a target that is not an address of this host
#   --dry-run           print the plan, send nothing
#
# Only addresses of this host (loopback included) are measured unless
# --allow-remote is given: a load generator must not be pointed at someone
# else's server by a typo. Both clients connect to one address: the first of
# HOST's that is this host's, else (--allow-remote) the first HOST resolves
# to. The tools are the source tree's, as `make bench` runs them: rrlat is
# $RRLAT, else build/bench/rrlat, brought up to date by
# `make build/bench/rrlat` (a C compiler is all it needs); wrk is the one on
# PATH (scripts/deps.sh bench installs it). rrlat reads answers framed by a
# 204/304 or a Content-Length (preflightd's, nginx's, most apps'); a chunked
# or otherwise unframeable answer, or one stalled 2 s, ends the run with
# rrlat's reason (exit 1). Prints a summary and one line
#   BENCH-ENDPOINT {"p50_us":X,"p99_us":X,"rps":N,"requests":N,"errors":N,
#                   "non2xx":N,"kernel_answered":N|null,"iface":"IF"|null}
# p50_us/p99_us: rrlat's, in µs with 3 decimals (all its ns); requests: the
# round trips of both runs; errors: wrk's socket errors; non2xx: the
# answers of both runs whose status is 4xx/5xx.
# Exit status: 0 measured, 1 rrlat or wrk failed, 2 usage, refused target
# or a client missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LUA=${PF_BENCH_LUA:-$ROOT/bench/preflight.lua}
TXT=${PF_BENCH_TXT:-${LUA%/*}/preflight.txt}
PREFLIGHTD=${PREFLIGHTD:-$(command -v preflightd || echo "$ROOT/build/preflightd")}
RRLAT_BUILT=$ROOT/build/bench/rrlat
RRLAT=${RRLAT:-$RRLAT_BUILT}

die() { echo "bench-endpoint: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

url='' origin='' method=PUT headers=content-type,x-request-id duration=5 conns=64 threads=1
iface='' netns='' remote=0 dry=0
while (($#)); do
	case $1 in
	--origin | --method | --headers | --duration | --connections | --threads | --iface | --netns)
		(($# >= 2)) || usage
		case $1 in
		--origin) origin=$2 ;; --method) method=$2 ;; --headers) headers=$2 ;;
		--duration) duration=$2 ;; --connections) conns=$2 ;; --threads) threads=$2 ;;
		--iface) iface=$2 ;; --netns) netns=$2 ;;
		esac
		shift 2 ;;
	--allow-remote) remote=1; shift ;;
	--dry-run) dry=1; shift ;;
	-h | --help) usage ;;
	-*) die "unknown option $1" ;;
	*) [[ -z $url ]] || usage; url=$1; shift ;;
	esac
done
[[ -n $url && -n $origin ]] || usage
for n in "$duration" "$conns" "$threads"; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive number: $n"; done
[[ $url =~ ^http://(\[[0-9a-fA-F:.]+\]|[^/:]+)(:([0-9]+))?(/[^[:space:][:cntrl:]]*)?$ ]] ||
	die "URL must be http://HOST[:PORT]/PATH (preflightd answers plaintext HTTP/1.1)"
host=${BASH_REMATCH[1]} port=${BASH_REMATCH[3]:-80} path=${BASH_REMATCH[4]:-/}
authority=$host${BASH_REMATCH[2]}
((10#$port >= 1 && 10#$port <= 65535)) || die "port out of range: $port"
# one header line each: a line break would add lines to the request
for v in "$origin" "$method" "$headers"; do
	[[ $v != *[[:cntrl:]]* ]] || die "a control character in $(printf %q "$v")"
done

# the target's addresses in getaddrinfo's order; local: one of them is an
# address of this host. Both clients connect to $addr.
addrs=$(getent ahosts "${host//[\[\]]/}" | awk '!seen[$1]++ { print $1 }') || die "cannot resolve $host"
[[ -n $addrs ]] || die "cannot resolve $host"
local_addr=
for a in $addrs; do
	if [[ $a == 127.* || $a == ::1 ]] || [[ -n $(ip -o addr show to "$a" 2>/dev/null) ]]; then
		local_addr=$a
		break
	fi
done
if [[ -z $local_addr ]] && ((!remote)); then
	die "$host (${addrs//$'\n'/ }) is not an address of this host; pass --allow-remote to measure it anyway"
fi
if [[ -z $iface && -n $local_addr ]]; then
	iface=$(ip -o addr show to "$local_addr" | awk '{ print $2; exit }')
fi
addr=${local_addr:-${addrs%%$'\n'*}}
wrk_url=http://$addr:$port/
[[ $addr != *:* ]] || wrk_url="http://[$addr]:$port/"

# the request: preflight.txt's head with our target, origin, method,
# headers, as a request file (read by rrlat's bench/reqfile.c and by
# preflight.lua: the same bytes on the wire)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
req=$tmp/request.txt
sedrep() { local v=${1//\\/\\\\}; v=${v//&/\\&}; printf '%s' "${v//|/\\|}"; }  # literal in s|..|..|
sed -E -e "s|^OPTIONS [^ ]+ |OPTIONS $(sedrep "$path") |" -e "s|^Host: .*|Host: $(sedrep "$authority")|" \
	-e "s|^Origin: .*|Origin: $(sedrep "$origin")|" -e "s|^Referer: .*|Referer: $(sedrep "$origin")/|" \
	-e "s|^Access-Control-Request-Method: .*|Access-Control-Request-Method: $(sedrep "$method")|" \
	-e "s|^Access-Control-Request-Headers: .*|Access-Control-Request-Headers: $(sedrep "$headers")|" \
	"$TXT" >"$req"

echo "target:  $url at $addr port $port (Origin: $origin, $method, headers $headers)"
echo "local:   ${local_addr:-no (--allow-remote)}; preflightd counters: ${iface:-none}"
echo "runs:    $RRLAT, 1 connection ${duration} s (latency, ns per round trip);"
echo "         wrk -s $LUA, $conns connections ${duration} s (throughput)"
((!dry)) || exit 0

# the clients, before anything is sent
if [[ $RRLAT == "$RRLAT_BUILT" ]]; then
	make -s -C "$ROOT" --no-print-directory build/bench/rrlat >&2 ||
		die "cannot build $RRLAT (make build/bench/rrlat in $ROOT; or set RRLAT)"
fi
[[ -x $RRLAT ]] || die "$RRLAT: not an executable rrlat (make bench-tools builds it)"
command -v wrk >/dev/null || die "wrk not found (scripts/deps.sh bench installs it)"

rrlat_in() { # one rrlat run at 1 connection; prints its RRLAT JSON line
	${netns:+ip netns exec "$netns"} timeout -k 5 $((duration + 30)) "$RRLAT" --request "$req" \
		--addr "$addr" --port "$port" --duration "$duration" --timeout-ms 2000 \
		2>"$tmp/rrlat.err" | grep -m1 '^RRLAT ' || return 1
}
wrk_in() { # CONNS -- one wrk run; prints its BENCH JSON line
	local c=$1
	${netns:+ip netns exec "$netns"} env PREFLIGHT_TXT="$req" \
		timeout -k 5 $((duration + 30)) wrk -t"$((threads < c ? threads : c))" -c"$c" \
		-d"${duration}s" --timeout 2s -s "$LUA" "$wrk_url" | grep -m1 '^BENCH ' || return 1
}
num() { grep -oE "\"$1\":[0-9.]+" <<<"$2" | head -n1 | cut -d: -f2; }
us() { awk -v ns="$1" -v d="$2" 'BEGIN { printf "%.*f", d, ns / 1000 }'; } # NS DECIMALS
kernel() { # answered + rejected of the instance on $iface, or empty (none there)
	[[ -n $iface ]] || return 0
	{ "$PREFLIGHTD" stats --iface "$iface" --json 2>/dev/null || true; } |
		awk -F'[:,{}]' '{ for (i = 2; i < NF; i++) if ($i == "\"answered\"" || $i == "\"rejected\"") s += $(i + 1) } END { if (NR) print s }'
}

k0=$(kernel)
lat=$(rrlat_in) || {
	echo "bench-endpoint: rrlat failed (1 connection): $(tail -n 2 "$tmp/rrlat.err")" >&2
	exit 1
}
thr=$(wrk_in "$conns") || { echo "bench-endpoint: wrk failed ($conns connections)" >&2; exit 1; }
k1=$(kernel)
requests=$(($(num requests "$lat") + $(num requests "$thr")))
errors=$(($(num connect "$thr") + $(num read "$thr") + $(num write "$thr") + $(num timeout "$thr")))
non2xx=$(($(num status "$lat") + $(num status "$thr")))
rps=$(($(num requests "$thr") * 1000000 / $(num duration_us "$thr")))
p50=$(num p50_ns "$lat") p99=$(num p99_ns "$lat")
kernel_answered=null
[[ -n $k0 && -n $k1 ]] && kernel_answered=$((k1 - k0))
echo "latency: p50 $(us "$p50" 2) us, p99 $(us "$p99" 2) us (1 connection, $(num requests "$lat") round trips)"
echo "rate:    $rps preflights/s ($conns connections)"
echo "checks:  $requests requests, $errors socket errors, $non2xx non-2xx answers"
if [[ $kernel_answered != null ]]; then
	echo "kernel:  $kernel_answered answered by preflightd on $iface (of $requests sent; other traffic on $iface counts too)"
else
	echo "kernel:  no preflightd counters${iface:+ on $iface} (not running there, or not this host)"
fi
printf 'BENCH-ENDPOINT {"p50_us":%s,"p99_us":%s,"rps":%s,"requests":%s,"errors":%s,"non2xx":%s,"kernel_answered":%s,"iface":%s}\n' \
	"$(us "$p50" 3)" "$(us "$p99" 3)" "$rps" "$requests" "$errors" "$non2xx" \
	"$kernel_answered" "$([[ -n $iface ]] && echo "\"$iface\"" || echo null)"
