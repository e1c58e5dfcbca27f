#!/usr/bin/env bash
# tests/e2e/guard.sh -- the splice guard (issue 9 item 3): a preflight is
# answered only at a request boundary after an answer to the request before
# it -- never bytes the app expects as body, and every preflight of a client
# that does not pipeline, the first one after other requests included:
#
#   bash tests/e2e/guard.sh [--mode tc|xdp]
#
# Cases (keep-alive connections, each round's preflight answered by the
# kernel and every byte checked):
#   (a) Expect: 100-continue uploads whose body, sent after the app's 100
#       Continue, is byte for byte a complete preflight;
#   (b) the same body after an early final response (403 before the body);
#   (c) a 103 Early Hints before the answer to a GET;
#   (d) a browser-like mix: simple requests and preflights interleaved, the
#       first request of a connection often a simple one;
#   (e) the same mix through nginx as a reverse proxy (upstream keepalive
#       4, in the client namespace) in front of the app, as TLS-terminating
#       setups have it: requests of many clients interleaved on 4 pooled
#       connections;
#   (f) asymmetric routing: the server's replies leave by a second veth
#       pair, so no first request is answered in the kernel (pass_route):
#       nothing broken.
# In every other case the app sees no allowed preflight at all. Ends with
# "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pf_parse_mode "$@"
ORIGIN=https://app.example.com
NGINX_PORT=8088

# app_preflights -- OPTIONS lines from ORIGIN in the app's log.
app_preflights() {
	awk -v o="$ORIGIN" '$2 == "OPTIONS" && $4 == "origin=" o { c++ } END { print c + 0 }' \
		"$PF_APP_LOG"
}

# ka ADDR PORT ARGS... -- kaclient from the client netns, bounded.
ka() {
	local addr=$1 port=$2
	shift 2
	pf_ns timeout --foreground -k 2 120 "$PF_KACLIENT" --addr "$addr" --port "$port" \
		--origin "$ORIGIN" "$@"
}

# none_to_app DESC OUT BEFORE -- kaclient's OUT has no error, and the app
# logged no allowed preflight since BEFORE.
none_to_app() {
	pf_detail "$(tail -3 <<<"$2")"
	pf_expect_match "$1: every byte right, every preflight answered in the kernel" "$2" \
		'errors=0$'
	pf_expect_eq "$1: the app saw no allowed preflight" "$(($(app_preflights) - $3))" 0
}

case_body() {
	local sc=$1 out before nb
	before=$(app_preflights)
	nb=$(pf_stat pass_not_boundary)
	out=$(ka "$PF_V4_HOST" 8080 --conns 4 --rounds 20 --scenario "$sc" --get-size 2000 \
		--expect kernel --timeout-ms 5000 2>&1 || true)
	none_to_app "$sc" "$out" "$before"
	pf_expect_ge "preflight-shaped bodies passed as body (pass_not_boundary)" \
		"$(($(pf_stat pass_not_boundary) - nb))" 80
	pf_case_result
}

case_hints() {
	local out before
	before=$(app_preflights)
	out=$(ka "$PF_V4_HOST" 8080 --conns 4 --rounds 20 --scenario hints --get-size 2000 \
		--expect kernel --timeout-ms 5000 2>&1 || true)
	none_to_app "hints" "$out" "$before"
	pf_case_result
}

case_mix() {
	local out before
	before=$(app_preflights)
	out=$(ka "$PF_V4_HOST" 8080 --conns 8 --rounds 60 --mix 1 --put-size 1000 \
		--get-size 2000 --expect kernel --timeout-ms 5000 2>&1 || true)
	none_to_app "mix" "$out" "$before"
	pf_case_result
}

# nginx_up -- nginx in the client netns on $PF_V4_CLIENT:$NGINX_PORT,
# proxying to the app over at most 4 pooled keep-alive connections.
nginx_up() {
	local d=$PF_WORK/nginx
	mkdir -p "$d/tmp"
	cat >"$d/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
user root;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 512; }
http {
	access_log off;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	upstream app {
		server $PF_V4_HOST:8080;
		keepalive 4;
	}
	server {
		listen $PF_V4_CLIENT:$NGINX_PORT;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$http_host;
		}
	}
}
CONF
	# (not through pf_ns, a function: $! would be its subshell's pid)
	ip netns exec "$PF_NS" nginx -p "$d" -c "$d/nginx.conf" >"$d/out" 2>&1 &
	NGINX_PID=$!
	PF_BG_PIDS+=("$NGINX_PID")
	pf_until 5 pf_ns bash -c "exec 3<>/dev/tcp/$PF_V4_CLIENT/$NGINX_PORT" 2>/dev/null && return 0
	echo "e2e: nginx not listening:" >&2
	cat "$d/out" "$d/error.log" >&2 || true
	return 1
}

case_nginx() {
	local out before
	before=$(app_preflights)
	out=$(ka "$PF_V4_CLIENT" "$NGINX_PORT" --conns 16 --rounds 40 --mix 1 --put-size 1000 \
		--get-size 2000 --expect kernel --timeout-ms 5000 2>&1 || true)
	none_to_app "behind nginx" "$out" "$before"
	pf_detail "app connections: $(awk '{ print $1 }' "$PF_APP_LOG" | sort -u | wc -l) (nginx keeps up to 4 idle ones)"
	pf_case_result
}

# case_route -- asymmetric routing: the server's segments to the client
# leave by a second veth pair (a /32 route), not by the interface
# preflightd serves. A connection's first preflight, answered in the kernel,
# would then have every later server segment leave untranslated: the stream
# broken. Each connection's first request goes to the app (pass_route), and
# so does every later preflight on it (its server bytes are never seen
# here); every byte right.
case_route() {
	local h2=${PF_IF_HOST}r c2=${PF_IF_CLIENT}r out before pr
	ip link add "$h2" type veth peer name "$c2"
	ip link set "$c2" netns "$PF_NS"
	ip link set "$h2" up
	pf_ns ip link set "$c2" up
	pf_ns sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$c2.rp_filter=0"
	ip route add "$PF_V4_CLIENT/32" dev "$h2"
	before=$(app_preflights)
	pr=$(pf_stat pass_route)
	out=$(ka "$PF_V4_HOST" 8080 --conns 4 --rounds 10 --get-size 2000 \
		--expect app --timeout-ms 5000 2>&1 || true)
	ip route del "$PF_V4_CLIENT/32" dev "$h2" || true
	ip link del "$h2" 2>/dev/null || true
	pf_detail "$(tail -3 <<<"$out")"
	pf_expect_match "every byte right, every preflight answered by the app" "$out" 'errors=0$'
	pf_expect_ge "the app saw the preflights" "$(($(app_preflights) - before))" 4
	pf_expect_ge "first requests passed: their SYN-ACK left by another interface (pass_route)" \
		"$(($(pf_stat pass_route) - pr))" 4
	pf_case_result
}

main() {
	local topo=()
	pf_require_root
	pf_make_workdir
	pf_install_trap
	[[ $MODE == xdp ]] && topo+=(--xdp-peer)
	pf_topo_up "${topo[@]}"
	pf_start_app --listen "$PF_V4_HOST:8080"
	pf_start_preflightd "$MODE"
	pf_case "[$MODE] Expect: 100-continue bodies that are preflights: the app's" case_body continue-body
	pf_case "[$MODE] bodies after an early response that are preflights: the app's" case_body early-body
	pf_case "[$MODE] 103 Early Hints before the answer" case_hints
	pf_case "[$MODE] browser-like mix: every preflight answered in the kernel" case_mix
	pf_case "[$MODE] asymmetric routing (replies by another interface): the app answers, nothing broken" case_route
	nginx_up
	pf_case "[$MODE] behind nginx (upstream keepalive 4): every preflight in the kernel" case_nginx
	# its idle upstream connections would hold preflightd's drain open
	[[ -z ${NGINX_PID:-} ]] || pf_bg_kill "$NGINX_PID"
	pf_stop_all
	pf_summary
}
main
