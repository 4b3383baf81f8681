#!/bin/bash
# subidctl check, import and reclaim, as root in a private mount namespace.
# check: a clean host passes (exit 0), then each kind of problem is built
# into the store, the files or the host and must be reported (exit 1):
# plugin not enabled or not the service, /etc/subuid missing, an orphan, two
# owners overlapping in the store, a store range over a file line of
# another owner, over login.defs' real IDs, over an account's UID and a
# group's GID, over a reserved interval, unsafe store and directory modes,
# an unreadable store and a refused config.  reclaim releases orphans only
# with --yes.  import takes over a realistic /etc/subuid and /etc/subgid
# (names, numeric owners, comments, overlapping lines, unknown owners, an
# owner with two lines); logins afterwards keep the imported ranges, and new
# owners never overlap them, also once the files are emptied.
set -eu
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3
subid_require_build
subid_enter_ns "$@"

DB=$W/state/private/subid.db
M=2147483648
C=65536
add_user alice 2001
add_user bob 2002
add_user carol 2003 2003
add_user dave 2004
add_user erin 2005
add_user frank 2006
add_user gina 2007
add_user hank 2008
: >/etc/subuid
: >/etc/subgid
conf() {
	write_conf <<EOF
db_path = $DB
${1:-}
EOF
}
conf
ctl() { "$SUBIDCTL" "$@"; }
pam_service subid-adm "[success=ok default=die] $PAM_MODULE" "required pam_permit.so"
# expect_problem DESC ERE: check exits 1 and reports a problem matching ERE
expect_problem() {
	capture ctl check
	check_eq "check: $1: exit 1" 1 "$C_RC"
	check_match "check: $1: reported" "^problem: $2" "$C_OUT"
}
sql() { sqlite3 -batch -cmd '.timeout 5000' "$DB" "$1"; }

# ---- a clean host -----------------------------------------------------------------------
ctl allocate alice >/dev/null
ctl allocate bob >/dev/null
enable_plugin
capture ctl check
check_eq "check on a clean host: exit 0" 0 "$C_RC"
check_eq "check on a clean host: no problem" "check: 0 problems" "$C_OUT"
bad_args_rc=$(ctl check extra >/dev/null 2>&1 || echo $?)
check_eq "check with an argument: usage, exit 2" 2 "$bad_args_rc"

# ---- the plugin and shadow's files ---------------------------------------------------------
cp /etc/nsswitch.conf "$W/nsswitch.good"
grep -v '^subid:' "$W/nsswitch.good" >/etc/nsswitch.conf
expect_problem "no subid line in nsswitch.conf" 'plugin: no "subid: subid" line'
printf 'subid: files\n' >>/etc/nsswitch.conf
expect_problem "subid: files" 'plugin: .* says "subid: files"'
cp "$W/nsswitch.good" /etc/nsswitch.conf
mv /etc/subgid "$W/subgid.saved"
expect_problem "/etc/subgid missing" "files: /etc/subgid: No such file"
mv "$W/subgid.saved" /etc/subgid
printf 'include /etc/ld.so.conf.d/*.conf\n' >"$W/ld.none.conf"
ldconfig -X -C /etc/ld.so.cache -f "$W/ld.none.conf"
expect_problem "plugin not in the linker's path" "plugin: the dynamic linker does not find libsubid_subid.so"
enable_plugin
capture ctl check
check_eq "all restored: exit 0" 0 "$C_RC"

# ---- orphans and reclaim ----------------------------------------------------------------------
ctl allocate carol >/dev/null
carol_start=$(db_query 'SELECT start FROM ranges WHERE uid = 2003 AND kind = 1')
sed -i '/^carol:/d' /etc/passwd
expect_problem "an owner that no longer exists" "orphan: uid 2003 \(carol\)"
capture ctl reclaim
check_eq "reclaim without --yes: exit 0" 0 "$C_RC"
check_match "reclaim without --yes: says what it would release" "^would release uid 2003 \(carol\)$" "$C_OUT"
check_eq "reclaim without --yes: nothing released" 2 "$(db_rows 'uid = 2003')"
log_clear
capture ctl reclaim --yes
check_eq "reclaim --yes: exit 0" 0 "$C_RC"
check_match "reclaim --yes: released" "^released uid 2003 \(carol\)$" "$C_OUT"
check_eq "reclaim --yes: carol's rows are gone" 0 "$(db_rows 'uid = 2003')"
log_grep "released uid=2003 store=local" "reclaim is logged"
check_eq "reclaim: alice and bob untouched" 4 "$(db_rows 'uid IN (2001, 2002)')"
check_match "reclaim with no orphan left" "^no orphans$" "$(ctl reclaim)"
capture ctl check
check_eq "no orphan left: check exit 0" 0 "$C_RC"
add_user carol 2003 2003

# ---- overlaps ----------------------------------------------------------------------------------
sql "INSERT INTO ranges(uid, kind, start, count, name, granted) VALUES (2004, 1, $((M + 100)), 10, 'dave', 1)"
expect_problem "two owners overlapping in the store" "overlap: store subuid \[$M, $((M + C))\) of alice and store subuid \[$((M + 100)), $((M + 110))\) of dave"
sql "DELETE FROM ranges WHERE uid = 2004"
printf 'erin:%s:10\n' $((M + C + 5)) >>/etc/subuid
expect_problem "a store range over another owner's /etc/subuid line" "overlap: store subuid \[$((M + C)), $((M + 2 * C))\) of bob and /etc/subuid subuid \[$((M + C + 5)), $((M + C + 15))\) of erin"
: >/etc/subuid
printf 'bob:%s:10\n' $((M + C + 5)) >>/etc/subuid
capture ctl check
check_eq "the owner's own line over his range is no problem" 0 "$C_RC"
# lines of owners NSS does not know: one name is one owner, two names are two
printf 'ghost1:300000:10\nghost2:300100:10\nghost1:300005:10\nghost2:300105:10\nghost3:300108:10\n' >/etc/subuid
capture ctl check
check_match "unknown owners: two names overlapping are reported" \
	"^problem: overlap: /etc/subuid subuid \[300100, 300110\) of ghost2 and /etc/subuid subuid \[300108, 300118\) of ghost3" "$C_OUT"
check_nomatch "unknown owners: one name's own lines are one owner's" "of ghost1 and .* of ghost1|of ghost2 and .* of ghost2" "$C_OUT"
check_eq "unknown owners: ghost2's two lines against ghost3's, nothing else" 2 "$(grep -c '^problem: overlap: ' <<<"$C_OUT")"
: >/etc/subuid
sql "INSERT INTO ranges(uid, kind, start, count, name, granted) VALUES (2004, 1, 1000, 10, 'dave', 1)"
expect_problem "a range over login.defs' real IDs" "real IDs: uid 2004's subuid \[1000, 1010\) overlaps the IDs of real accounts"
sql "DELETE FROM ranges WHERE uid = 2004"
add_user huge $((M + 7)) 2001
expect_problem "an account's UID inside a range" "real IDs: the UID $((M + 7)) of account huge is inside uid 2001's subuid range"
sed -i '/^huge:/d' /etc/passwd
add_group hugegroup $((M + C + 9))
expect_problem "a group's GID inside a range" "real IDs: the GID $((M + C + 9)) of group hugegroup is inside uid 2002's subgid range"
sed -i '/^hugegroup:/d' /etc/group
conf "reserved = $((M + 10))-$((M + 20))"
expect_problem "a range over a reserved interval" "reserved: uid 2001's subuid \[$M, $((M + C))\) overlaps the reserved interval $((M + 10))-$((M + 20))"
conf

# ---- files and config ----------------------------------------------------------------------
IDX=$W/state/ranges.idx
chmod 0644 "$DB"
expect_problem "a store others can open" "store $(rx "$DB"): mode 0644; only root may open it"
chmod 0664 "$DB"
expect_problem "a group-writable store" "store $(rx "$DB"): mode 0664 is writable by group or others"
chmod 0600 "$DB"
chmod 0755 "$W/state/private"
expect_problem "a store directory others can enter" "store directory $(rx "$W/state/private"): mode 0755; only root may open it"
chmod 0700 "$W/state/private"
chmod 0777 "$W/state"
expect_problem "a world-writable index directory" "index directory $(rx "$W/state"): mode 0777 is writable"
chmod 0755 "$W/state"
chmod 0600 "$IDX"
expect_problem "an index users cannot read" "index $(rx "$IDX"): mode 0600; users' getsubids and podman need to read it"
chmod 0644 "$IDX"
cp "$IDX" "$W/idx.saved"
printf 'SUBIDIX\0damaged' >"$IDX"
expect_problem "a damaged index" "index $(rx "$IDX"): refused"
rm "$IDX"
expect_problem "a missing index" "index $(rx "$IDX"): missing"
cp "$W/idx.saved" "$IDX"
cp "$DB" "$W/db.saved"
printf 'this is not a database, just text of some length to look like one..........\n%.0s' $(seq 1 100) >"$DB"
expect_problem "an unreadable store" "store: $(rx "$DB") cannot be read"
cp "$W/db.saved" "$DB"
chmod 0666 "$SUBID_CONF_PATH"
expect_problem "a refused config" "config: $(rx "$SUBID_CONF_PATH") refused"
chmod 0644 "$SUBID_CONF_PATH"
capture ctl check
check_eq "everything restored: exit 0" 0 "$C_RC"

# ---- import ------------------------------------------------------------------------------------
# a fresh store whose pool holds useradd's ranges, so that imports and new
# allocations compete for the same IDs
DB=$W/state2/private/subid.db
P=100000
conf "range_min = $P
range_max = $((P + 20 * C))"
cat >/etc/subuid <<EOF
# made by useradd
alice:$P:$C
bob:$((P + C)):$C
# a numeric owner
2003:$((P + 2 * C)):$C
# two owners overlapping
dave:$((P + 4 * C)):$C
erin:$((P + 4 * C + 100)):$C
# an owner nobody knows
ghost:$((P + 6 * C)):$C
# an owner with two lines
frank:$((P + 7 * C)):$C
frank:$((P + 8 * C)):$C
this line is broken
EOF
cat >/etc/subgid <<EOF
alice:$P:$C
bob:$((P + C)):$C
2003:$((P + 2 * C)):$C
dave:$((P + 4 * C)):$C
erin:$((P + 4 * C + 100)):$C
ghost:$((P + 6 * C)):$C
frank:$((P + 7 * C)):$C
EOF
log_clear
capture ctl import
check_eq "import: problems found, exit 1" 1 "$C_RC"
check_match "import: the summary" "^import: 3 owners imported, 0 already in the store, [0-9]+ problems$" "$C_OUT"
check_match "import: the overlap is reported, neither side imported" "^conflict: dave .* and erin .* overlap; neither is imported$" "$C_OUT"
check_match "import: the unknown owner is reported" "^skipped: ghost: no such user$" "$C_OUT"
check_match "import: two lines for one owner are reported" "^conflict: frank: 2 /etc/subuid line\(s\) and 1 /etc/subgid line\(s\)" "$C_OUT"
check_eq "import: alice, bob and carol (numeric owner) hold their file ranges" \
	"2001 1 $P $C|2001 2 $P $C|2002 1 $((P + C)) $C|2002 2 $((P + C)) $C|2003 1 $((P + 2 * C)) $C|2003 2 $((P + 2 * C)) $C" \
	"$(db_query 'SELECT uid, kind, start, count FROM ranges ORDER BY uid, kind' | paste -sd '|')"
check_eq "import: carol's row is named by NSS" "carol" "$(db_query 'SELECT DISTINCT name FROM ranges WHERE uid = 2003')"
log_grep "imported user=alice uid=2001 subuid=$P\+$C subgid=$P\+$C" "import is logged"
capture ctl import
check_match "import again: nothing new" "^import: 0 owners imported, 3 already in the store" "$C_OUT"
# logins with the files still there
log_clear
for u in alice bob carol; do
	check "$u (imported) logs in" pamtester subid-adm "$u" open_session close_session
done
check "gina (new) logs in" pamtester subid-adm gina open_session close_session
log_grep_not "granted user=(alice|bob|carol)" "no grant for imported owners"
check_eq "imported owners keep their ranges" 6 "$(db_rows "start IN ($P, $((P + C)), $((P + 2 * C))) AND uid IN (2001, 2002, 2003)")"
gina=$(db_query 'SELECT start FROM ranges WHERE uid = 2007 AND kind = 1')
check_eq "gina: the first slot free of imports and file lines" $((P + 3 * C)) "$gina"
# the files emptied: the store alone keeps new owners off the imported ranges
: >/etc/subuid
: >/etc/subgid
check "hank (new, files empty) logs in" pamtester subid-adm hank open_session close_session
check "dave (not imported, files empty) logs in" pamtester subid-adm dave open_session close_session
check "the store keeps its invariants: imported ranges overlap nobody" \
	python3 "$top_srcdir/tests/invariants.py" --db "$DB" --range-min $P --range-max $((P + 20 * C)) \
	--expect-uids 2001,2002,2003,2004,2007,2008
check_eq "hank and dave got slots past the imports" "$((P + 4 * C)) $((P + 5 * C))" \
	"$(db_query 'SELECT start FROM ranges WHERE uid IN (2008, 2004) AND kind = 1 ORDER BY start' | paste -sd ' ')"
printf 'alice:1:2\n' >"$W/sub.bad"
capture ctl import "$W/sub.bad" "$W/sub.bad"
check_eq "import of lines holding real IDs: exit 1" 1 "$C_RC"
check_match "... reported" "^conflict: alice \[1, 3\) holds IDs of real accounts" "$C_OUT"
conf "store = ldap
ldap_uri = ldap://127.0.0.1:9
ldap_base = ou=subid,dc=example,dc=test"
capture ctl import
check_eq "import with store = ldap: refused, exit 2" 2 "$C_RC"
check_match "... says why" "import writes the local store" "$C_ERR"
finish
