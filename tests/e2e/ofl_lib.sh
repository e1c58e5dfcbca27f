# shellcheck shell=bash
# tests/e2e/ofl_lib.sh -- what the response offload's e2e cases
# (tests/e2e/offload.sh) and measurement (bench/offload.sh) share; sourced
# after tests/e2e/lib.sh.
#
#   pf_nginx_start CGROUP PORT...   nginx with no CORS configuration

# pf_nginx_start CGROUP PORT... -- nginx (one process, no CORS
# configuration, sendfile, gzip with its Vary) in CGROUP, listening on
# $PF_V4_HOST:PORT for each PORT, serving $PF_WORK/nginx/www: blob.bin
# (1 MiB), page.txt (about 80 kB of text, gzipped) and small.json. Sets
# PF_NGINX_PID, or leaves it empty with the reason in PF_NGINX_WHY (not
# installed, did not start). Stopped with the other background jobs.
PF_NGINX_PID=
PF_NGINX_WHY=
_pf_nginx_listens() {
	local p
	for p in "$@"; do
		ss -ltnpH "sport = :$p" | grep -q "pid=$PF_NGINX_PID," || return 1
	done
}
pf_nginx_start() {
	local cg=$1 d=$PF_WORK/nginx i p listen=""
	shift
	command -v nginx >/dev/null || { PF_NGINX_WHY="nginx not installed"; return 0; }
	mkdir -p "$d/www" "$d/tmp"
	head -c 1048576 /dev/urandom >"$d/www/blob.bin"
	for ((i = 0; i < 2000; i++)); do echo "line $i of a text the app serves gzipped"; done \
		>"$d/www/page.txt"
	echo '{"items":[1,2,3]}' >"$d/www/small.json"
	for p in "$@"; do listen+="    listen $PF_V4_HOST:$p;"$'\n'; done
	cat >"$d/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  gzip on;
  gzip_types text/plain;
  gzip_vary on;
  gzip_min_length 1;
  client_body_temp_path $d/tmp;
  proxy_temp_path $d/tmp;
  fastcgi_temp_path $d/tmp;
  uwsgi_temp_path $d/tmp;
  scgi_temp_path $d/tmp;
  server {
$listen    root $d/www;
  }
}
CONF
	pf_in_cgroup "$cg" nginx -c "$d/nginx.conf" -p "$d" >"$d/out" 2>&1 &
	PF_NGINX_PID=$!
	PF_BG_PIDS+=("$PF_NGINX_PID")
	# listening on every port, and this nginx (not one a test left there)
	for ((i = 0; i < 50; i++)); do
		_pf_nginx_listens "$@" && return 0
		_pf_alive "$PF_NGINX_PID" || break
		sleep 0.1
	done
	PF_NGINX_WHY="nginx did not start: $(head -c 300 "$d/error.log" "$d/out" 2>/dev/null)"
	pf_bg_kill "$PF_NGINX_PID"
	PF_NGINX_PID=
}
