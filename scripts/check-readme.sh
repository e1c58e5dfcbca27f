#!/usr/bin/env bash
# scripts/check-readme.sh (make check-readme; the pkg tier runs it) -- keep
# README.md a true map of the code:
#
#   bash scripts/check-readme.sh [README]
#
#   - every file under bpf/, include/ and user/ is named in the README's
#     "## Layout" section, as DIR/NAME (or NAME alone when no other file of
#     those directories has that name);
#   - every file of those directories the section names exists (a renamed
#     or removed file leaves no stale row or reading-order step);
#   - the README has at most 200 lines;
#   - every relative link [text](target) in it resolves to an existing file
#     or directory.
#
# Prints each problem as "README: problem" on stderr and exits 1, or prints
# "README: ok (...)" and exits 0. Needs bash, awk, grep.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
readme=${1:-README.md}
MAX_LINES=200
DIRS=(bpf include user)
bad=0
problem() {
	echo "$readme: $*" >&2
	bad=1
}

[[ -f $readme ]] || { problem "no such file"; exit 1; }

# ---- length
lines=$(wc -l <"$readme")
((lines <= MAX_LINES)) || problem "$lines lines: at most $MAX_LINES (a map, not a manual)"

# ---- the layout section: from "## Layout" to the next "## " heading
layout=$(awk '/^## /{ on = ($0 ~ /^## Layout/) } on' "$readme")
[[ -n $layout ]] || problem "no '## Layout' section"

# the section's words: runs of name characters, a trailing '.' (the end
# of a sentence) dropped
mapfile -t words < <(grep -oE '[A-Za-z0-9_./-]+' <<<"$layout" | sed -E 's/\.+$//' | grep . | LC_ALL=C sort -u)
declare -A said=()
for w in "${words[@]}"; do
	said[$w]=1
done

mapfile -t files < <(find "${DIRS[@]}" -type f ! -name '.*' ! -name '*~' | LC_ALL=C sort)
declare -A count=()
for f in "${files[@]}"; do
	count[${f##*/}]=$((${count[${f##*/}]:-0} + 1))
done
for f in "${files[@]}"; do
	# DIR/NAME, or NAME alone when no other file has that name
	[[ -n ${said[$f]:-} ]] && continue
	[[ -n ${said[${f##*/}]:-} ]] && ((count[${f##*/}] == 1)) && continue
	problem "the layout table does not name $f"
done

# names of files of those directories in the section that do not exist
# (any more): DIR/..., and bare NAME.c / NAME.h
dir_re="^($(IFS='|'; echo "${DIRS[*]}"))/"
for w in "${words[@]}"; do
	if [[ $w =~ $dir_re ]]; then
		[[ -e $w ]] || problem "the layout section names $w, which does not exist"
	elif [[ $w =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*\.[ch]$ ]]; then
		[[ -n ${count[$w]:-} ]] || problem "the layout section names $w, which is no file of ${DIRS[*]}"
	fi
done

# ---- relative links
links=0
dir=$(dirname "$readme")
while read -r target; do
	case $target in
	http://* | https://* | mailto:* | '#'*) continue ;;
	esac
	links=$((links + 1))
	target=${target%%#*}
	[[ -e $dir/$target ]] || problem "link to $target: no such file"
done < <(grep -oE '\]\([^) ]+( "[^"]*")?\)' "$readme" | sed -E 's/^\]\(//; s/( "[^"]*")?\)$//')

((bad)) && exit 1
echo "$readme: ok ($lines lines, ${#files[@]} files of ${DIRS[*]} in the layout table, $links relative links)"
