#!/bin/bash
# subidctl on the local store, as root in a private mount namespace: usage
# and bad arguments (exit 2), list and show as a table and as JSON (parsed
# by python's json), allocate by the login's rules and with --force,
# release (refused without --yes, logged), export in shadow's format (read
# back by shadow's own files backend), and a refused config.
set -eu
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3 getsubids
subid_require_build
subid_enter_ns "$@"

DB=$W/state/private/subid.db
M=2147483648
C=65536
add_user alice 2001
add_user bob 2002
add_user sysacct 500
add_user 'q"x\y' 2003
: >>/etc/subuid
: >>/etc/subgid
write_conf <<EOF
db_path = $DB
uid_min = 1000
EOF
ctl() { "$SUBIDCTL" "$@"; }

# ---- usage --------------------------------------------------------------------------------
capture ctl --help
check_eq "--help exits 0" 0 "$C_RC"
for w in list show allocate release export; do
	check_match "--help names $w" "^  $w" "$C_OUT"
done
capture ctl --version
check_match "--version" "^subidctl [0-9]" "$C_OUT"
# bad_args DESC ARGS...: exit 2 with usage on stderr
bad_args() {
	local d=$1
	shift
	capture ctl "$@"
	check_eq "bad arguments, $d: exit 2" 2 "$C_RC"
	check_match "bad arguments, $d: usage on stderr" "^Usage: subidctl" "$C_ERR"
}
bad_args "no command"
bad_args "unknown command" frobnicate
bad_args "unknown option" list --frob
bad_args "list takes no argument" list alice
bad_args "show needs an owner" show
bad_args "show takes one owner" show alice bob
bad_args "allocate has no --json" allocate --json alice
bad_args "export has no --yes" export --yes
bad_args "release without --yes" release alice
check_match "release without --yes says why" "add --yes" "$C_ERR"
bad_args "unknown global option" --frob list

# ---- an empty store -----------------------------------------------------------------------
capture ctl list
check_eq "list on a store not created yet: exit 0" 0 "$C_RC"
check_eq "... and nothing printed" "" "$C_OUT"
check_eq "list --json on an empty store is []" "[]" "$(ctl list --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))')"

# ---- allocate ------------------------------------------------------------------------------
log_clear
capture ctl allocate alice
check_eq "allocate alice: exit 0" 0 "$C_RC"
check_eq "allocate alice: says what it granted" "alice: subuid $M $C, subgid $M $C" "$C_OUT"
log_grep "granted user=alice uid=2001 kind=subuid start=$M count=$C" "allocate is logged like a login's grant"
check_eq "allocate alice: in the store" "$M $C" "$(db_query 'SELECT start, count FROM ranges WHERE uid = 2001 AND kind = 1')"
capture ctl allocate alice
check_eq "allocate alice again: exit 0, same ranges" "0 alice: subuid $M $C, subgid $M $C" "$C_RC $C_OUT"
check_eq "allocate alice again: nothing new" 2 "$(db_rows 'uid = 2001')"
capture ctl allocate sysacct
check_eq "allocate an account below uid_min: exit 1" 1 "$C_RC"
check_match "... says --force serves it" "force" "$C_ERR"
check_eq "... nothing written" 0 "$(db_rows 'uid = 500')"
capture ctl allocate --force sysacct
check_eq "allocate --force sysacct: exit 0" 0 "$C_RC"
check_eq "allocate --force sysacct: the next slot" "$((M + C)) $C" "$(db_query 'SELECT start, count FROM ranges WHERE uid = 500 AND kind = 2')"
capture ctl allocate --force root
check_eq "allocate --force root: refused, exit 1" 1 "$C_RC"
check_eq "... nothing for root" 0 "$(db_rows 'uid = 0')"
capture ctl allocate nosuchuser
check_eq "allocate an unknown user: exit 1" 1 "$C_RC"
pam_service subid-odd "required $PAM_MODULE" "required pam_permit.so"
check "a login with a name JSON must escape" pamtester subid-odd 'q"x\y' open_session close_session

# ---- list, show ------------------------------------------------------------------------------
capture ctl list
check_eq "list: exit 0" 0 "$C_RC"
check_match "list: a header" "^UID +NAME +KIND +START +COUNT +GRANTED +SOURCE$" "$C_OUT"
check_match "list: alice's subuid row" "^2001 +alice +subuid +$M +$C +20[0-9-]+T[0-9:]+Z +local$" "$C_OUT"
check_match "list: sysacct's subgid row" "^500 +sysacct +subgid +$((M + C)) +$C " "$C_OUT"
check_eq "list: one line per range plus the header" 7 "$(printf '%s\n' "$C_OUT" | wc -l)"
json=$(ctl list --json)
check "list --json parses, 6 ranges with every field" python3 -c '
import json, sys
rows = json.loads(sys.argv[1])
assert len(rows) == 6, rows
for r in rows:
    assert set(r) == {"uid", "name", "kind", "start", "count", "granted", "source"}, r
    assert r["kind"] in ("subuid", "subgid") and r["source"] == "local", r
a = [r for r in rows if r["uid"] == 2001]
assert [(r["kind"], r["start"], r["count"]) for r in a] == [("subuid", int(sys.argv[2]), 65536), ("subgid", int(sys.argv[2]), 65536)], a
assert any(r["name"] == "q\"x\\y" for r in rows), "odd name not round-tripped"
' "$json" "$M"
capture ctl show alice
check_eq "show alice: exit 0" 0 "$C_RC"
check_eq "show alice: two rows and a header" 3 "$(printf '%s\n' "$C_OUT" | wc -l)"
check_eq "show 2001 (by uid) says the same" "$C_OUT" "$(ctl show 2001)"
check_eq "show --json alice" "2001 subuid $M|2001 subgid $M" "$(ctl show --json alice | python3 -c '
import json, sys
print("|".join("%d %s %d" % (r["uid"], r["kind"], r["start"]) for r in json.load(sys.stdin)))')"
capture ctl show bob
check_eq "show bob (no ranges): exit 1" 1 "$C_RC"
check_match "... and says so" "bob: no ranges" "$C_ERR"
printf 'bob:400000:1000\n' >>/etc/subuid
printf '2002:500000:2000\n' >>/etc/subgid
capture ctl show bob
check_eq "show bob (lines in the files, by name and by uid): exit 0" 0 "$C_RC"
check_match "... his subuid line, source files, no grant time" "^2002 +bob +subuid +400000 +1000 +- +files$" "$C_OUT"
check_match "... his subgid line written by uid" "^2002 +2002 +subgid +500000 +2000 +- +files$" "$C_OUT"
check_eq "show --json bob: both lines, granted null" "subuid 400000 None files|subgid 500000 None files" \
	"$(ctl show --json bob | python3 -c '
import json, sys
print("|".join("%s %d %s %s" % (r["kind"], r["start"], r["granted"], r["source"]) for r in json.load(sys.stdin)))')"
sed -i '/^bob:400000/d' /etc/subuid
sed -i '/^2002:500000/d' /etc/subgid
capture ctl show nosuchuser
check_eq "show an unknown name: exit 1" 1 "$C_RC"
check_match "... says so" "no such user" "$C_ERR"

# ---- export -------------------------------------------------------------------------------
capture ctl export
check_eq "export: exit 0" 0 "$C_RC"
check_match "export: alice's subuid line in shadow's format" "^alice:$M:$C$" "$C_OUT"
check_eq "export: one line per owner" 3 "$(printf '%s\n' "$C_OUT" | wc -l)"
check_match "export: an odd name is written as it is" "^$(rx 'q"x\y'):[0-9]+:$C$" "$C_OUT"
ctl export >/etc/subuid
ctl export --subgid >/etc/subgid
check_match "export --subgid: sysacct's line" "^sysacct:$((M + C)):$C$" "$(cat /etc/subgid)"
# shadow's files backend (no plugin in nsswitch.conf) reads what export wrote
check_eq "getsubids through shadow's files backend reads the export" "0: alice $M $C" "$(getsubids alice 2>&1)"
check_eq "getsubids -g too" "0: sysacct $((M + C)) $C" "$(getsubids -g sysacct 2>&1)"
: >/etc/subuid
: >/etc/subgid

# ---- release --------------------------------------------------------------------------------
log_clear
capture ctl release --yes alice
check_eq "release --yes alice: exit 0" 0 "$C_RC"
check_eq "release: alice's rows are gone" 0 "$(db_rows 'uid = 2001')"
log_grep "released uid=2001 store=local" "the release is logged"
capture ctl release --yes alice
check_eq "release alice again: exit 1" 1 "$C_RC"
capture ctl release --yes 500
check_eq "release by uid: exit 0" "0 0" "$C_RC $(db_rows 'uid = 500')"
capture ctl allocate bob
check_eq "bob gets the first free slot (alice's old one)" "$M" "$(db_query 'SELECT start FROM ranges WHERE uid = 2002 AND kind = 1')"
check "the store keeps its invariants" python3 "$top_srcdir/tests/invariants.py" --db "$DB"

# ---- a refused config -------------------------------------------------------------------------
chmod 0666 "$SUBID_CONF_PATH"
capture ctl list
check_eq "a world-writable config: exit 2" 2 "$C_RC"
check_match "... and why" "refused" "$C_ERR"
chmod 0644 "$SUBID_CONF_PATH"
capture ctl -c "$W/none.conf" list
check_eq "-c a missing config: exit 2" 2 "$C_RC"

# ---- names that are not ASCII: --json stays valid UTF-8 JSON ----------------------------------
latin1=$(printf 'caf\351')	# "café" in Latin-1: not UTF-8
add_user "$latin1" 2011
add_user "zoë" 2012
check "a login with a name that is not UTF-8" pamtester subid-odd "$latin1" open_session close_session
check "a login with a UTF-8 name" pamtester subid-odd "zoë" open_session close_session
ctl list --json >"$W/list.json"
check "list --json is valid UTF-8 and parses, with both names" python3 -c '
import json, sys
rows = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))   # strict: bad UTF-8 raises
names = {r["name"] for r in rows}
assert "caf\u00e9" in names and "zo\u00eb" in names, names
' "$W/list.json"
finish
