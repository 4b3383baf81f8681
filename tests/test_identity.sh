#!/bin/bash
# Who owns a range: a name, a uid, or the account a line was written for.
# As root in a private mount namespace, through the real PAM stack
# (pamtester), shadow's loader (getsubids, libsubid through ctypes) and the
# setuid newuidmap, with the plugin on and mirror_files = yes:
#   1. a user whose name is another account's uid ("15002", uid 15007, beside
#      bob, uid 15002) is refused (logins, allocate, import) and never gets
#      bob's ranges; a numeric owner in /etc/subuid is a uid;
#   2. a name outlives its account (renamed or deleted, the name reused): the
#      new account does not inherit the old one's lines, check reports the
#      stale line, the new account's login gets its own range and the
#      mirror fixes the files;
#   4. log lines cannot be forged: user names are escaped, and inside setuid
#      newuidmap the plugin logs under its own tag, not argv[0];
#   5. two accounts share a name: only the one getpwnam finds owns the range;
#   7. a decimal uid NSS no longer knows still names its stored ranges.
# Uids 15000-15099 only.
set -eu
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
TESTS_DIR=$(cd "$(dirname "$0")" && pwd)

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3 getsubids newuidmap setpriv ldconfig
subid_require_build
subid_enter_ns "$@"

DB=$W/state/private/subid.db
C=65536
NOBODY_START=3000000000 # a range nobody owns

# the test's uids must be free on this host
for u in $(seq 15000 15099); do
	if getent passwd "$u" >/dev/null; then hard_error "uid $u already exists on this host"; fi
done

# raw_user NAME UID [GID [GROUP]]: passwd (and shadow) line written directly,
# for names add_user refuses (digits, spaces, duplicates); a group GROUP
# (default NAME, "" for none) with GID (default UID).
raw_user() {
	local name=$1 uid=$2 gid=${3:-$2} gname=${4-$1}
	if [ -n "$gname" ]; then
		printf '%s:x:%s:\n' "$gname" "$gid" >>/etc/group
		if [ -f /etc/gshadow ]; then printf '%s:!::\n' "$gname" >>/etc/gshadow; fi
	fi
	printf '%s:x:%s:%s:subid test user:/nonexistent:/bin/sh\n' "$name" "$uid" "$gid" >>/etc/passwd
	if [ -f /etc/shadow ]; then printf '%s:*:19000:0:99999:7:::\n' "$name" >>/etc/shadow; fi
}

# conf MIRROR: /etc/subid.conf with the test store
conf() {
	write_conf <<EOF
db_path = $DB
mirror_files = $1
files = yes
EOF
}

# start_of UID KIND: the stored start of UID's range (empty when none)
start_of() { db_query "SELECT start FROM ranges WHERE uid = $1 AND kind = $2;" | head -n 1; }

# file_lines FILE ERE: the lines of FILE matching ERE ('|'-joined)
file_lines() { grep -E -- "$2" "$1" | paste -sd '|' || true; }

# subids OWNER [-g]: getsubids' output (never fails)
subids() { getsubids "$@" 2>&1 || true; }


: >/etc/subuid
: >/etc/subgid
chmod 0644 /etc/subuid /etc/subgid
conf yes
pam_service subid-opt "optional $PAM_MODULE" "required pam_permit.so"
pam_service subid-strict "required $PAM_MODULE strict" "required pam_permit.so"
enable_plugin

# ---- 1. a user whose name is another account's uid -----------------------------------------
add_user bob 15002
raw_user 15002 15007
log_clear
diag "case 1: bob uid 15002, a user named 15002 with uid 15007"
check "1a: pamtester subid-opt 15002 succeeds" pamtester subid-opt 15002 open_session close_session
check "1a: pamtester subid-strict 15002 succeeds (a refusal is no error)" \
	pamtester subid-strict 15002 open_session close_session
check_eq "1a: no store row for uid 15007" 0 "$(db_rows 'uid = 15007')"
log_grep "$(rx 'refused user=15002 uid=15007 reason="numeric user name"')" \
	"1a: syslog: refused user=15002 uid=15007 reason=\"numeric user name\""
check_eq "1a: no '15002:' line in /etc/subuid" "" "$(file_lines /etc/subuid '^15002:')"
check_eq "1a: no '15002:' line in /etc/subgid" "" "$(file_lines /etc/subgid '^15002:')"

check "1b: bob logs in" pamtester subid-opt bob open_session close_session
B=$(start_of 15002 1)
BG=$(start_of 15002 2)
check_true "1b: the store has bob's (uid 15002) subuid and subgid rows ('$B' '$BG')" \
	"$(db_rows 'uid = 15002')" -eq 2
check_match "1b: getsubids bob shows his range" "^0: bob ${B:-none} $C\$" "$(subids bob)"
check_match "1b: getsubids -g bob shows his range" "^0: bob ${BG:-none} $C\$" "$(subids -g bob)"
map_allowed "1b: bob (uid 15002) maps his own range" 15002 "$B"
map_refused "1b: uid 15007 (named 15002) cannot map bob's range" 15007 "$B"

# a numeric owner in a file is a uid: 15002:... is bob's, not the account named 15002
printf '15002:200000:%s\n' "$C" >>/etc/subuid
printf '15002:200000:%s\n' "$C" >>/etc/subgid
check_match "1c: getsubids bob includes the line 15002:200000 (uid 15002)" " 200000 $C\$" "$(subids bob)"
check_nomatch "1c: getsubids 15002 (the account named 15002, uid 15007) has nothing of 200000" \
	" 200000 " "$(subids 15002)"
map_refused "1c: uid 15007 (named 15002) cannot map 200000 (line 15002:200000)" 15007 200000
map_allowed "1c: bob (uid 15002) maps 200000 (line 15002:200000)" 15002 200000
sed -i '/^15002:200000:/d' /etc/subuid /etc/subgid

capture "$SUBIDCTL" -c "$SUBID_CONF_PATH" allocate 15002
check_true "1d: subidctl allocate 15002 exits non-zero (exit $C_RC)" "$C_RC" -ne 0
check_match "1d: ... and says 'numeric user name' on stderr" 'numeric user name' "$C_ERR"
check_eq "1d: still no store row for uid 15007" 0 "$(db_rows 'uid = 15007')"
check_eq "1d: still no '15002:' line in /etc/subuid" "" "$(file_lines /etc/subuid '^15002:')"

# import into a fresh store: the owner "15007" is uid 15007, the account named 15002
DB2=$W/state2/private/subid.db
write_conf "$W/import.conf" <<EOF
db_path = $DB2
mirror_files = no
files = yes
EOF
printf '15007:300000:%s\n' "$C" >"$W/import.subuid"
printf '15007:300000:%s\n' "$C" >"$W/import.subgid"
chmod 0644 "$W/import.subuid" "$W/import.subgid"
capture "$SUBIDCTL" -c "$W/import.conf" import "$W/import.subuid" "$W/import.subgid"
diag "1e: subidctl import: exit $C_RC"
printf '%s\n%s\n' "$C_OUT" "$C_ERR" | sed '/^$/d; s/^/#   | /' | head -n 10
check_eq "1e: import: no store row for uid 15007" 0 "$(db_rows 'uid = 15007' "$DB2")"
check_match "1e: import: the output says 'numeric user name'" 'numeric user name' "$C_OUT
$C_ERR"

# ---- 2. names outlive accounts -------------------------------------------------------------
add_user alice 15010
log_clear
check "2: alice (uid 15010) logs in" pamtester subid-opt alice open_session close_session
S=$(start_of 15010 1)
SG=$(start_of 15010 2)
check_true "2: alice has a stored range ('$S' '$SG')" "$(db_rows 'uid = 15010')" -eq 2
check_eq "2: /etc/subuid has alice:S" "alice:$S:$C" "$(file_lines /etc/subuid '^alice:')"
check_eq "2: /etc/subgid has alice:SG" "alice:$SG:$C" "$(file_lines /etc/subgid '^alice:')"
sed -i 's/^alice:/alice2:/' /etc/passwd /etc/shadow /etc/group
if [ -f /etc/gshadow ]; then sed -i 's/^alice:/alice2:/' /etc/gshadow; fi
add_user alice 15011
diag "case 2: alice renamed alice2 (uid 15010), a new alice uid 15011"
check_nomatch "2: before new alice logs in, getsubids alice does not show S" " ${S:-none} $C\$" "$(subids alice)"
check_nomatch "2: ... nor getsubids -g alice SG" " ${SG:-none} $C\$" "$(subids -g alice)"
map_refused "2: new alice (uid 15011) cannot map S" 15011 "$S"
capture "$SUBIDCTL" -c "$SUBID_CONF_PATH" check
check_true "2: subidctl check exits non-zero (exit $C_RC)" "$C_RC" -ne 0
check_match "2: subidctl check reports the stale /etc/subuid line of uid 15010" \
	"stale line: /etc/subuid line $(rx "alice:$S:$C") .*uid 15010" "$C_OUT
$C_ERR"
check_fail "2: invariants.py flags the alice:S line (name: uid 15011, store: uid 15010)" \
	python3 "$TESTS_DIR/invariants.py" --db "$DB" --any-pool
check_match "2: ... as matched by two uids" 'line alice:.* matched by .*15010.* and .*15011|line alice:.* matched by .*15011.* and .*15010' \
	"$(cat "$T_OUT")"

check "2: new alice logs in" pamtester subid-opt alice open_session close_session
T=$(start_of 15011 1)
TG=$(start_of 15011 2)
check_true "2: new alice (uid 15011) has her own stored range T ('$T') != S ('$S')" \
	"$(db_rows 'uid = 15011')" -eq 2 -a "${T:-x}" != "${S:-y}"
check_eq "2: getsubids alice shows T only" "0: alice ${T:-none} $C" "$(subids alice)"
check_eq "2: getsubids -g alice shows TG only" "0: alice ${TG:-none} $C" "$(subids -g alice)"
check_eq "2: /etc/subuid: alice:T, alice2:S" "alice:$T:$C alice2:$S:$C" \
	"$(file_lines /etc/subuid '^alice:') $(file_lines /etc/subuid '^alice2:')"
check_eq "2: /etc/subgid: alice:TG, alice2:SG" "alice:$TG:$C alice2:$SG:$C" \
	"$(file_lines /etc/subgid '^alice:') $(file_lines /etc/subgid '^alice2:')"
check_eq "2: no alice:S line left in either file" "|" \
	"$(file_lines /etc/subuid "^alice:$S:")|$(file_lines /etc/subgid "^alice:$SG:")"
map_allowed "2: alice2 (uid 15010) still maps S" 15010 "$S"
map_allowed "2: new alice (uid 15011) maps T" 15011 "$T"

# delete variant
add_user carol 15020
check "2del: carol (uid 15020) logs in" pamtester subid-opt carol open_session close_session
R=$(start_of 15020 1)
RG=$(start_of 15020 2)
check_true "2del: carol has a stored range ('$R' '$RG')" "$(db_rows 'uid = 15020')" -eq 2
sed -i '/^carol:/d' /etc/passwd /etc/shadow /etc/group
if [ -f /etc/gshadow ]; then sed -i '/^carol:/d' /etc/gshadow; fi
add_user carol 15021
diag "case 2 (delete): carol uid 15020 deleted, a new carol uid 15021"
check_nomatch "2del: before new carol logs in, getsubids carol does not show R" " ${R:-none} $C\$" "$(subids carol)"
map_refused "2del: new carol (uid 15021) cannot map R" 15021 "$R"
check "2del: new carol logs in" pamtester subid-opt carol open_session close_session
R2=$(start_of 15021 1)
R2G=$(start_of 15021 2)
check_true "2del: new carol (uid 15021) has a new range ('$R2') != R ('$R')" \
	"$(db_rows 'uid = 15021')" -eq 2 -a "${R2:-x}" != "${R:-y}"
check_eq "2del: no carol:R line left in /etc/subuid or /etc/subgid" "|" \
	"$(file_lines /etc/subuid "^carol:$R:")|$(file_lines /etc/subgid "^carol:$RG:")"
check_eq "2del: /etc/subuid has carol:R2" "carol:$R2:$C" "$(file_lines /etc/subuid '^carol:')"
check_eq "2del: /etc/subgid has carol:R2G" "carol:$R2G:$C" "$(file_lines /etc/subgid '^carol:')"
check_eq "2del: the store keeps uid 15020's rows" 2 "$(db_rows 'uid = 15020')"
check_eq "2del: getsubids carol shows only the new range" "0: carol ${R2:-none} $C" "$(subids carol)"
map_refused "2del: new carol (uid 15021) still cannot map R" 15021 "$R"
check "2: the store and files keep their invariants after the new logins" \
	python3 "$TESTS_DIR/invariants.py" --db "$DB" --any-pool

# ---- 4. log forgery --------------------------------------------------------------------------
raw_user "eve x=1" 15050
log_clear
check "4a: 'eve x=1' (uid 15050) logs in" pamtester subid-opt "eve x=1" open_session close_session
check_eq "4a: 'eve x=1' got a range" 2 "$(db_rows 'uid = 15050')"
log_grep_not ' x=1' "4a: no syslog line holds the raw name ('eve x=1')"
log_grep "mirror added .*$(rx 'entry=eve?x=1:')" "4a: a 'mirror added' line shows the name escaped (entry=eve?x=1:)"

log_clear
start_userns_sleeper 015002
# shellcheck disable=SC2016 # $1.. expand in the inner bash
check_fail "4b: bob's newuidmap (argv[0] 'evil\\ntag') of a range he does not own is refused" \
	as_user 015002 bash -c 'exec -a "$1" newuidmap "$2" 0 "$3" 1' _ "$(printf 'evil\ntag')" "$SLEEPER_PID" "$NOBODY_START"
stop_sleeper "$SLEEPER_PID"
REFUSED_LINES=$(log_text | grep 'refused owner=' || true)
check_match "4b: the plugin's refusal is logged under the tag libsubid_subid" \
	'libsubid_subid\[[0-9]+\]: refused owner=' "$REFUSED_LINES"
check_eq "4b: every 'refused owner=' line has that tag" "" \
	"$(grep -Ev 'libsubid_subid\[[0-9]+\]: refused owner=' <<<"$REFUSED_LINES" || true)"
check_nomatch "4b: no 'refused owner=' line holds argv[0] (evil)" 'evil' "$REFUSED_LINES"

# ---- 5. two accounts share a name ---------------------------------------------------------------
raw_user dup 15030
raw_user dup 15031 15031 dupb
log_clear
check "5: pamtester dup (getpwnam finds uid 15030)" pamtester subid-opt dup open_session close_session
D=$(start_of 15030 1)
check_true "5: the range is uid 15030's ('$D')" "$(db_rows 'uid = 15030')" -eq 2
check_eq "5: nothing for uid 15031" 0 "$(db_rows 'uid = 15031')"
map_allowed "5: uid 15030 maps its range" 15030 "$D"
map_refused "5: uid 15031 (also named dup) cannot map uid 15030's range" 15031 "$D"

# ---- 7. a decimal uid NSS does not know ----------------------------------------------------------
# no mirror here: an orphan's line would name a user nobody has
conf no
add_user zed 15040
check "7: zed (uid 15040) logs in" pamtester subid-opt zed open_session close_session
Z=$(start_of 15040 1)
check_true "7: zed has a stored range ('$Z')" "$(db_rows 'uid = 15040')" -eq 2
sed -i '/^zed:/d' /etc/passwd
check_eq "7: getsubids 15040 (zed's passwd line removed) shows Z" "0: 15040 ${Z:-none} $C" "$(subids 15040)"
check_eq "7: libsubid uranges:15040: 1 range, Z" "uranges:15040 1 ${Z:-none}+$C" \
	"$(libsubid_query uranges:15040 2>&1)"
check_match "7: libsubid uranges:15041 (unknown uid, nothing stored): no range" \
	'^uranges:15041 (0|-1)$' "$(libsubid_query uranges:15041 2>&1)"

check "the store and files keep their invariants at the end" \
	python3 "$TESTS_DIR/invariants.py" --db "$DB" --any-pool
finish
