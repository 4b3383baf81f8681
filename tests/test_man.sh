#!/bin/bash
# The manual pages in man/: each formats without a single groff or man
# warning; subid.conf(5) documents exactly the keys of conf/subid.conf (in
# both directions); subidctl(8) names every command and option of
# "subidctl --help".  No root needed.
set -eu
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_tools man groff
[ -x "$SUBIDCTL" ] || hard_error "$SUBIDCTL not built: run 'make' first"
trap _subid_cleanup EXIT

MAN=$top_srcdir/man
PAGES="pam_subid.8 subid.conf.5 libsubid_subid.8 subidctl.8"

# ---- every page formats silently ------------------------------------------------------
for p in $PAGES; do
	f=$MAN/$p
	if [ ! -f "$f" ]; then
		not_ok "$p exists" "missing: $f"
		continue
	fi
	# (groff is not code under test: never with the sanitizer pass's libasan preloaded,
	# which reports troff's own new[]/free mismatch)
	capture nosan env LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$f"
	check_eq "$p: man --warnings exits 0" 0 "$C_RC"
	check_eq "$p: man --warnings prints nothing on stderr" "" "$C_ERR"
	check_match "$p: man renders a NAME section" "^NAME$" "$C_OUT"
	capture nosan groff -man -Tutf8 -ww -z "$f"
	check_eq "$p: groff -ww exits 0" 0 "$C_RC"
	check_eq "$p: groff -ww prints nothing" "" "$C_OUT$C_ERR"
	check_nomatch "$p: plain man(7), no mdoc" '^\.(Dd|Dt|Os|Nm|Sh)( |$)' "$(cat "$f")"
done

# ---- subid.conf(5) and conf/subid.conf hold the same keys ---------------------------------
# keys of the sample configuration: "key = value" or "#key = value" lines
conf_keys=$(sed -n -E 's/^#?([a-z_]+) =( .*)?$/\1/p' "$top_srcdir/conf/subid.conf" | LC_ALL=C sort -u)
# keys of the page: the ".TP" items whose tag is ".B key"
man_keys=$(awk 'tp && /^\.B [a-z_]+$/ { print $2 } { tp = ($0 == ".TP") }' "$MAN/subid.conf.5" | LC_ALL=C sort -u)
check_true "conf/subid.conf has keys" -n "$conf_keys"
undocumented=$(LC_ALL=C comm -23 <(printf '%s\n' "$conf_keys") <(printf '%s\n' "$man_keys") | tr '\n' ' ' | sed 's/ $//')
unknown=$(LC_ALL=C comm -13 <(printf '%s\n' "$conf_keys") <(printf '%s\n' "$man_keys") | tr '\n' ' ' | sed 's/ $//')
check_eq "every key of conf/subid.conf is documented in subid.conf.5 (missing there: ${undocumented:-none})" \
	"" "$undocumented"
check_eq "every key documented in subid.conf.5 is in conf/subid.conf (missing there: ${unknown:-none})" \
	"" "$unknown"

# ---- subidctl(8) and subidctl --help ----------------------------------------------------------
capture "$SUBIDCTL" --help
check_eq "subidctl --help exits 0" 0 "$C_RC"
help=$C_OUT
cmds=$(printf '%s\n' "$help" | sed -n '/^Commands:/,/^Options:/s/^  \([a-z][a-z]*\) .*/\1/p')
check_true "subidctl --help lists commands" -n "$cmds"
# the page's command items: ".TP" followed by ".B cmd" or ".BR cmd ..."
man_cmds=$(awk 'tp && /^\.BR? [a-z]+/ { print $2 } { tp = ($0 == ".TP") }' "$MAN/subidctl.8")
capture nosan env LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l "$MAN/subidctl.8"
rendered=$C_OUT
synopsis=$(printf '%s\n' "$rendered" | sed -n '/^SYNOPSIS$/,/^DESCRIPTION$/p')
for c in $cmds; do
	check_match "subidctl.8 documents the command $c" "^$c\$" "$man_cmds"
	check_match "subidctl.8's synopsis names $c" "^ *subidctl .*[] ]$c( |\$)" "$synopsis"
done
for o in $(printf '%s\n' "$help" | grep -oE -- '(^|[[ ])--?[a-zA-Z][a-z-]*' | sed 's/^[[ ]//' | LC_ALL=C sort -u); do
	check_match "subidctl.8 mentions the option $o" "(^|[^a-z-])$(rx "$o")([^a-z-]|\$)" "$rendered"
done

finish
