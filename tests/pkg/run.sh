#!/usr/bin/env bash
# tests/pkg/run.sh -- the pkg tier (make pkgtest): what ships.
#
#   bash tests/pkg/run.sh
#
#   - the man pages render without warnings (groff -ww; mandoc -T lint);
#   - preflightd(8) documents every command of `preflightd --help`, and in
#     each command's section every flag of its usage text (`preflightd CMD
#     --help`) and of its getopt table (user/*.c), so they cannot drift;
#   - the policies in preflightd-policy(5)'s examples pass `check`;
#   - `make install` (DESTDIR, PREFIX): the files, the unit's paths follow
#     the prefix, the installed binary's --help, `check` of the installed
#     example, `man -l` of the pages, bash completion of commands/flags;
#   - `make deb`: Depends derived by dpkg-shlibdeps, the conffile, lintian;
#     installed into a scratch root (dpkg -x): --help, check, man -l;
#   - the Helm chart: tests/pkg/chart.sh.
#
# Needs build/preflightd. Ends with "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

MAN8=$PF_ROOT/doc/preflightd.8
MAN5=$PF_ROOT/doc/preflightd-policy.5

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

quiet() { "$@" >/dev/null; }

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
	pf_expect "the unit reads /etc/preflightd/%i.yaml" grep -q -- '--policy /etc/preflightd/%i.yaml' "$unit"
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
	unit_paths "$root/lib/systemd/system/preflightd@.service" "$root" /usr/sbin
	pf_case_result
}

main() {
	pf_make_workdir
	# no pf_install_trap: it would take down a topology, and this tier has none
	trap '((PF_KEEP)) || rm -rf "$PF_WORK"' EXIT
	pf_case "man pages render without warnings" case_man_lint
	pf_case "preflightd(8) documents every command and flag of the code" case_man_flags
	pf_case "the policies in preflightd-policy(5) pass check" case_policy_examples
	pf_case "make install DESTDIR PREFIX=/usr: files, unit, man, completion" case_make_install
	pf_case "make install PREFIX=/opt/preflightd: the unit follows the prefix" case_install_prefix
	pf_case "make deb: dependencies, conffile, lintian, installed into a scratch root" case_deb
	pf_summary
}
main "$@"
