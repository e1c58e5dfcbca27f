#!/usr/bin/env bash
# tests/e2e/pmtu.sh -- a path MTU drop on a spliced connection (review M4):
#
#   bash tests/e2e/pmtu.sh [--mode tc|xdp]
#
# The client namespace drops the server's IPv4 packets longer than the
# case's MTU (an nftables rule: the link behind a router with a smaller
# MTU); the host end sends real full-sized frames (TSO/GSO off on it, GRO
# off on the client end: no merged packets). On a keep-alive connection
# preflights are answered in the kernel (spliced: the server's wire seq is
# the inserted responses past its socket's), then a GET whose full-sized
# segments are dropped; tests/e2e/tools/pmtu.py plays the router and answers
# each with an ICMP "fragmentation needed" quoting the packet as it was on
# the wire. The server must take it (preflightd maps the quoted seq back to
# the socket's, icmp_translated) and finish the body in smaller segments,
# byte-exact:
#   - MTU 1400, one splice, a 200 KB GET: the offset (one response) is less
#     than the bytes in flight after the dropped segment, so tcp_v4_err's
#     window check (snd_una <= seq <= snd_nxt) lets even an untranslated
#     quote through -- only icmp_translated tells;
#   - MTU 1280, 20 splices (~6.6 KB of responses), a 4 KB GET: the
#     untranslated quote lies past snd_nxt, tcp_v4_err drops every ICMP
#     (OutOfWindowIcmps) and the GET never completes -- the black hole this
#     guards against (it fails without the mapping).
# The first case's MTU is the larger: the host caches what it learnt. Ends
# with "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pf_parse_mode "$@"
ORIGIN=https://app.example.com
PMTU_PY=$PF_ROOT/tests/e2e/tools/pmtu.py

# no_offload -- TSO/GSO off on the host end, GRO off on the client end:
# every packet on the link as long as on a real one (undone with the
# topology).
no_offload() {
	ethtool -K "$PF_IF_HOST" tso off gso off >/dev/null
	pf_ns ethtool -K "$PF_IF_CLIENT" gro off >/dev/null
}

# link_mtu MTU -- the client namespace drops the server's packets longer
# than MTU (replacing the rule of a case before).
link_mtu() {
	pf_ns nft delete table ip pf_pmtu 2>/dev/null || true
	pf_ns nft -f - <<EOF
table ip pf_pmtu {
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip saddr $PF_V4_HOST tcp sport 8080 ip length > $1 drop
	}
}
EOF
}

# oow_icmps -- the host's TcpExt OutOfWindowIcmps (ICMP errors tcp_v4_err
# dropped for their quoted seq); host-wide, so only reported.
oow_icmps() {
	awk '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 }
	                       else for (i = 2; i <= NF; i++) if (n[i] == "OutOfWindowIcmps") print $i }' \
		/proc/net/netstat
}

# case_pmtu MTU K BYTES -- behind a link of MTU (lower than any case's
# before: the host caches the path MTU it learnt), K preflights, then a GET
# of BYTES, through pmtu.py.
case_pmtu() {
	local out answered translated oow mtu=$1
	shift
	link_mtu "$mtu"
	answered=$(pf_stat answered)
	translated=$(pf_stat icmp_translated)
	oow=$(oow_icmps)
	out=$(pf_ns timeout --foreground -k 2 60 python3 "$PMTU_PY" --addr "$PF_V4_HOST" \
		--port 8080 --iface "$PF_IF_CLIENT" --mtu "$mtu" --preflights "$1" --bytes "$2" \
		--origin "$ORIGIN" --timeout 20) || true
	pf_detail "$out"
	pf_detail "host OutOfWindowIcmps +$(($(oow_icmps) - oow)) (host-wide)"
	pf_expect_match "the GET completed byte-exact behind the smaller MTU" "$out" '^ok '
	pf_expect_ge "the preflights answered in the kernel (answered)" \
		"$(($(pf_stat answered) - answered))" "$1"
	pf_expect_ge "frag-needed errors mapped to the socket's seq (icmp_translated)" \
		"$(($(pf_stat icmp_translated) - translated))" 1
	pf_detail "route: $(ip route get "$PF_V4_CLIENT" 2>&1 | tr -s ' \n' ' ')"
	pf_case_result
}

main() {
	local topo=()
	pf_require_root
	pf_make_workdir
	pf_install_trap
	if ! command -v nft >/dev/null || ! command -v ethtool >/dev/null; then
		pf_skip "[$MODE] path MTU drops" "needs nft and ethtool"
		pf_summary
		return
	fi
	[[ $MODE == xdp ]] && topo+=(--xdp-peer)
	pf_topo_up "${topo[@]}"
	no_offload
	pf_start_app --listen "$PF_V4_HOST:8080"
	pf_start_preflightd "$MODE"
	pf_case "[$MODE] path MTU 1400 after one splice, a 200 KB GET: ICMP frag-needed taken, body byte-exact" \
		case_pmtu 1400 1 200000
	pf_case "[$MODE] path MTU 1280 after 20 splices, a 4 KB GET: ICMP frag-needed taken, body byte-exact" \
		case_pmtu 1280 20 4000
	pf_stop_all
	pf_summary
}
main
