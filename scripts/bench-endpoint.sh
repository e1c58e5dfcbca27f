#!/usr/bin/env bash
# bench-endpoint.sh -- measure CORS preflight latency and throughput of YOUR
# endpoint with the method of `make bench`: wrk sending bench/preflight.lua's
# Chromium-like preflight (its header set, with your URL's host and path and
# your origin), 1 connection for the latency, N connections for the
# throughput. When preflightd runs on the interface that holds the target's
# address, its counters before and after say how many preflights were
# answered in the kernel.
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
#   --netns NS          run wrk inside network namespace NS
#   --allow-remote      allow a target that is not an address of this host
#   --dry-run           print the plan, send nothing
#
# Only addresses of this host (loopback included) are measured unless
# --allow-remote is given: a load generator must not be pointed at someone
# else's server by a typo. Prints a summary and one line
#   BENCH-ENDPOINT {"p50_us":N,"p99_us":N,"rps":N,"requests":N,"errors":N,
#                   "non2xx":N,"kernel_answered":N|null,"iface":"IF"|null}
# Exit status: 0 measured, 1 wrk failed, 2 usage or refused target.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LUA=${PF_BENCH_LUA:-$ROOT/bench/preflight.lua}
TXT=${PF_BENCH_TXT:-${LUA%/*}/preflight.txt}
PREFLIGHTD=${PREFLIGHTD:-$(command -v preflightd || echo "$ROOT/build/preflightd")}

die() { echo "bench-endpoint: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

url= origin= method=PUT headers=content-type,x-request-id duration=5 conns=64 threads=1
iface= netns= remote=0 dry=0
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
[[ $url =~ ^http://(\[[0-9a-fA-F:.]+\]|[^/:]+)(:([0-9]+))?(/.*)?$ ]] ||
	die "URL must be http://HOST[:PORT]/PATH (preflightd answers plaintext HTTP/1.1)"
host=${BASH_REMATCH[1]} port=${BASH_REMATCH[3]:-80} path=${BASH_REMATCH[4]:-/}
authority=$host${BASH_REMATCH[2]}

# the target's addresses; local: any of them is an address of this host
addrs=$(getent ahosts "${host//[\[\]]/}" | awk '{ print $1 }' | sort -u) || die "cannot resolve $host"
local_addr=
for a in $addrs; do
	if [[ $a == 127.* || $a == ::1 ]] || [[ -n $(ip -o addr show to "$a" 2>/dev/null) ]]; then
		local_addr=$a
		break
	fi
done
if [[ -z $local_addr ]] && ((!remote)); then
	die "$host ($(echo $addrs)) is not an address of this host; pass --allow-remote to measure it anyway"
fi
if [[ -z $iface && -n $local_addr ]]; then
	iface=$(ip -o addr show to "$local_addr" | awk '{ print $2; exit }')
fi

# the request: preflight.txt's head with our target, origin, method, headers
req=$(mktemp)
trap 'rm -f "$req"' EXIT
sed -E -e "s|^OPTIONS [^ ]+ |OPTIONS $path |" -e "s|^Host: .*|Host: $authority|" \
	-e "s|^Origin: .*|Origin: $origin|" -e "s|^Referer: .*|Referer: $origin/|" \
	-e "s|^Access-Control-Request-Method: .*|Access-Control-Request-Method: $method|" \
	-e "s|^Access-Control-Request-Headers: .*|Access-Control-Request-Headers: $headers|" "$TXT" >"$req"

echo "target:  $url (Origin: $origin, $method, headers $headers)"
echo "local:   ${local_addr:-no (--allow-remote)}; preflightd counters: ${iface:-none}"
echo "runs:    wrk -s $LUA, 1 connection ${duration} s (latency), $conns connections ${duration} s (throughput)"
((!dry)) || exit 0

wrk_in() { # CONNS -- one wrk run; prints its BENCH JSON line
	local c=$1
	${netns:+ip netns exec "$netns"} env PREFLIGHT_TXT="$req" \
		timeout -k 5 $((duration + 30)) wrk -t"$((threads < c ? threads : c))" -c"$c" \
		-d"${duration}s" --timeout 2s -s "$LUA" "http://$authority/" | grep -m1 '^BENCH ' || return 1
}
num() { grep -oE "\"$1\":[0-9.]+" <<<"$2" | head -n1 | cut -d: -f2; }
kernel() { # answered + rejected of the instance on $iface, or empty
	[[ -n $iface ]] || return 0
	"$PREFLIGHTD" stats --iface "$iface" --json 2>/dev/null |
		awk -F'[:,{}]' '{ for (i = 2; i < NF; i++) if ($i == "\"answered\"" || $i == "\"rejected\"") s += $(i + 1) } END { if (NR) print s }'
}

k0=$(kernel)
lat=$(wrk_in 1) || { echo "bench-endpoint: wrk failed (1 connection)" >&2; exit 1; }
thr=$(wrk_in "$conns") || { echo "bench-endpoint: wrk failed ($conns connections)" >&2; exit 1; }
k1=$(kernel)
requests=$(($(num requests "$lat") + $(num requests "$thr")))
errors=0 non2xx=0
for r in "$lat" "$thr"; do
	errors=$((errors + $(num connect "$r") + $(num read "$r") + $(num write "$r") + $(num timeout "$r")))
	non2xx=$((non2xx + $(num status "$r")))
done
rps=$(($(num requests "$thr") * 1000000 / $(num duration_us "$thr")))
kernel_answered=null
[[ -n $k0 && -n $k1 ]] && kernel_answered=$((k1 - k0))
echo "latency: p50 $(num p50_us "$lat") us, p99 $(num p99_us "$lat") us (1 connection)"
echo "rate:    $rps preflights/s ($conns connections)"
echo "checks:  $requests requests, $errors socket errors, $non2xx non-2xx answers"
if [[ $kernel_answered != null ]]; then
	echo "kernel:  $kernel_answered answered by preflightd on $iface (of $requests sent; other traffic on $iface counts too)"
else
	echo "kernel:  no preflightd counters${iface:+ on $iface} (not running there, or not this host)"
fi
printf 'BENCH-ENDPOINT {"p50_us":%s,"p99_us":%s,"rps":%s,"requests":%s,"errors":%s,"non2xx":%s,"kernel_answered":%s,"iface":%s}\n' \
	"$(num p50_us "$lat")" "$(num p99_us "$lat")" "$rps" "$requests" "$errors" "$non2xx" \
	"$kernel_answered" "$([[ -n $iface ]] && echo "\"$iface\"" || echo null)"
