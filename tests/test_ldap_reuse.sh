#!/bin/bash
# store = ldap, a pool of six slots against a real slapd: released ranges
# are handed out again, and only once even when four hosts race for them;
# every allocation claims its slot (cn=<start>,cn=allocator) so a start is
# exclusive however the host found it free; a range made by hand (unaligned,
# without a claim) is never handed out again; a claim left without its entry
# (a host that died half-way) keeps its slot taken for an hour, then a login
# takes it over (one made by hand, without subid's time, for good); an exhausted pool is
# logged and the login proceeds; a longer hand-made range that starts below
# the pool still keeps its slots out of use.  With ldap_lookup_on_miss, the
# plugin of a host that never saw the owner asks the directory, and fails
# closed when the directory does not answer (the owner's /etc/subuid lines
# are still served).  An entry over real IDs (a rogue host's) is refused by
# logins and by the plugin.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ldap_lib.sh"

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3 getsubids newuidmap setpriv timeout
ldap_require_tools
subid_require_build
subid_enter_ns "$@"
ldap_start

M=2147483648
C=65536
SLOTS=6
for i in $(seq 1 12); do add_user "r$i" $((6000 + i)); done
: >>/etc/subuid
: >>/etc/subgid
install -m 0600 "$LDAP_HOST_PW_FILE" "$W/host.pw"

# host_conf FILE DB [KEY=VALUE...]: a host with its own replica, pool of $SLOTS slots
host_conf() {
	local file=$1 db=$2
	shift 2
	ldap_host_conf "$file" "$db" range_min="$M" range_max="$((M + SLOTS * C))" ldap_timeout=2 "$@"
}
for h in 1 2 3 4; do
	host_conf "$W/h$h.conf" "$W/h$h/private/subid.db"
	# the module's result becomes pamtester's exit status
	pam_service "subid-h$h" "[success=ok default=die] $PAM_MODULE conf=$W/h$h.conf" "required pam_permit.so"
done

# start UID: the subUidNumber of uid's entry ("" when none)
start() {
	ldap_search -LLL "(&(objectClass=subordinateIdEntry)(uidNumber=$1))" subUidNumber |
		sed -n 's/^subUidNumber: //p'
}
nentries() { ldap_search -LLL "(&(objectClass=subordinateIdEntry)(uidNumber=$1))" dn | grep -c '^dn:' || true; }
nclaims() { ldap_search -LLL -b "cn=allocator,$LDAP_SUBID_BASE" -s one '(objectClass=applicationProcess)' dn | grep -c '^dn:' || true; }
claimed() { ldap_search -LLL -b "cn=allocator,$LDAP_SUBID_BASE" -s one "(cn=$1)" dn | grep -c '^dn:' || true; }
# hand_entry UID START COUNT: an entry made by hand (or by another tool): no claim,
# subuid and subgid both [START, START + COUNT)
hand_entry() {
	ldap_as_admin ldapadd >/dev/null <<EOF
dn: cn=$1,$LDAP_SUBID_BASE
objectClass: subordinateIdEntry
cn: $1
uidNumber: $1
subUidNumber: $2
subUidCount: $3
subGidNumber: $2
subGidCount: $3
EOF
}
# release UID: what an admin does by hand: the owner's entry, then its slot claim
release() {
	local s
	s=$(start "$1")
	ldap_as_admin ldapdelete "cn=$1,$LDAP_SUBID_BASE" "cn=$s,cn=allocator,$LDAP_SUBID_BASE" >/dev/null
}
# directory_ok: no two directory ranges overlap, all inside the pool
directory_ok() {
	ldap_search -LLL '(objectClass=subordinateIdEntry)' uidNumber subUidNumber subUidCount subGidNumber subGidCount |
		python3 -c '
import sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
ents, cur = [], {}
for line in sys.stdin.read().split("\n") + [""]:
    if not line.strip():
        if cur:
            ents.append(cur)
        cur = {}
        continue
    k, _, v = line.partition(": ")
    cur[k] = v
bad = 0
for kind in ("Uid", "Gid"):
    r = sorted((int(e["sub%sNumber" % kind]), int(e["sub%sCount" % kind]), e["uidNumber"]) for e in ents)
    for (s1, c1, u1), (s2, c2, u2) in zip(r, r[1:]):
        if s1 + c1 > s2:
            print("overlap: uid %s [%d,+%d) and uid %s [%d,+%d)" % (u1, s1, c1, u2, s2, c2)); bad += 1
owners = [e["uidNumber"] for e in ents]
if len(owners) != len(set(owners)):
    print("an owner has two entries"); bad += 1
print("%d entries checked" % len(ents))
sys.exit(1 if bad else 0)' "$M" "$((M + SLOTS * C))"
}

# ---- fill the pool ---------------------------------------------------------------------
for i in $(seq 1 $SLOTS); do
	check "r$i: first login" pamtester subid-h1 "r$i" open_session close_session
done
check_eq "the six users hold the six slots in order" \
	"$(for i in $(seq 0 $((SLOTS - 1))); do printf '%s ' $((M + i * C)); done)" \
	"$(for i in $(seq 1 $SLOTS); do printf '%s ' "$(start $((6000 + i)))"; done)"
check_eq "every allocation claimed its slot" $SLOTS "$(nclaims)"
log_clear
check_fail "pool exhausted: r7 gets nothing" pamtester subid-h1 r7 open_session close_session
log_grep "ldap full uid=6007 reason=\"pool \[$M, $((M + SLOTS * C))\) exhausted\"" "the exhausted pool is logged"
pam_service subid-opt "optional $PAM_MODULE conf=$W/h1.conf" "required pam_permit.so"
check "pool exhausted: the login itself proceeds with an optional module" pamtester subid-opt r7 open_session close_session
check_eq "pool exhausted: nothing written for r7" 0 "$(nentries 6007)"

# ---- released slots go to exactly one new owner each, four hosts racing ------------------
s2=$(start 6002) s5=$(start 6005)
release 6002
release 6005
check_eq "released: two entries and their claims gone" "4 4" "$(ldap_search -LLL '(objectClass=subordinateIdEntry)' dn | grep -c '^dn:') $(nclaims)"
pids=
for u in r7 r8 r9 r10; do
	for h in 1 2 3 4; do
		pamtester "subid-h$h" "$u" open_session close_session >"$W/race.$u.$h" 2>&1 &
		pids="$pids $!"
	done
done
ok_logins=0
for p in $pids; do wait "$p" && ok_logins=$((ok_logins + 1)); done
winners=
for u in 6007 6008 6009 6010; do [ -n "$(start $u)" ] && winners="$winners $u"; done
check_eq "two of the four new users got a range" 2 "$(echo "$winners" | wc -w)"
check_eq "their logins succeeded on all four hosts, the others' on none" 8 "$ok_logins"
if [ "$ok_logins" != 8 ]; then
	log_text | grep -E 'uid=60(0[7-9]|10)|ldap' >"$W/race.log" || true
	diag_file "$W/race.log"
fi
check_eq "they got exactly the two released slots" "$(printf '%s\n' "$s2" "$s5" | sort -n | tr '\n' ' ')" \
	"$(for u in $winners; do start "$u"; done | sort -n | tr '\n' ' ')"
for u in $winners; do
	same=0
	for h in 1 2 3 4; do
		[ "$(db_query "SELECT start FROM ranges WHERE uid = $u AND kind = 1" "$W/h$h/private/subid.db")" = "$(start "$u")" ] &&
			same=$((same + 1))
	done
	check_eq "uid $u: all four replicas hold the directory's range" 4 "$same"
done
check_eq "one claim per entry, no claim left behind by the losers" $SLOTS "$(nclaims)"
check "the directory's ranges do not overlap" directory_ok
for h in 1 2 3 4; do
	check "replica h$h keeps the store invariants" python3 "$top_srcdir/tests/invariants.py" --db "$W/h$h/private/subid.db"
done

# ---- a range made by hand is never handed out -------------------------------------------
s3=$(start 6003)
release 6003
hand_entry 6999 "$((s3 + 100))" "1000"
loser=
for u in 6007 6008 6009 6010; do [ -z "$(start $u)" ] && loser=$u && break; done
check_fail "a slot overlapped by a hand-made entry is not handed out" pamtester subid-h2 "r$((loser - 6000))" open_session close_session
check_eq "... and nothing was written for uid $loser" 0 "$(nentries "$loser")"
ldap_as_admin ldapdelete "cn=6999,$LDAP_SUBID_BASE" >/dev/null

# ---- a claim without its entry keeps the slot ----------------------------------------------
ldap_as_admin ldapadd >/dev/null <<EOF
dn: cn=$s3,cn=allocator,$LDAP_SUBID_BASE
objectClass: applicationProcess
cn: $s3
description: left by a host that died between its claim and its entry
EOF
check_fail "a slot whose claim was left behind is not handed out" pamtester subid-h3 "r$((loser - 6000))" open_session close_session
ldap_as_admin ldapdelete "cn=$s3,cn=allocator,$LDAP_SUBID_BASE" >/dev/null
check "the claim removed: the slot is handed out again" pamtester subid-h3 "r$((loser - 6000))" open_session close_session
check_eq "uid $loser got the freed slot" "$s3" "$(start "$loser")"
check_eq "and its claim" 1 "$(claimed "$s3")"
check "the directory's ranges still do not overlap" directory_ok

# ---- a hand-made range longer than a slot, starting below the pool, is seen ------------------
# it starts before any window of candidates, so only its length tells it reaches slot 0
release 6001
hand_entry 6998 "$((M - C - 10))" "$((2 * C + 20))"
free_user=
for u in 6007 6008 6009 6010 6011; do [ -z "$(start $u)" ] && free_user=$u && break; done
log_clear
check_fail "slot 0 overlapped by a longer range starting below the pool is not handed out" \
	pamtester subid-h1 "r$((free_user - 6000))" open_session close_session
check_eq "... nothing written for uid $free_user" 0 "$(nentries "$free_user")"
log_grep "ldap full uid=$free_user" "... the pool is reported full"
ldap_as_admin ldapdelete "cn=6998,$LDAP_SUBID_BASE" >/dev/null
check "the long range removed: slot 0 is handed out again" pamtester subid-h1 "r$((free_user - 6000))" open_session close_session
check_eq "uid $free_user got slot 0" "$M" "$(start "$free_user")"

# ---- a claim whose entry never came is taken over once it is an hour old ---------------------
s6=$(start 6006)
ldap_as_admin ldapdelete "cn=6006,$LDAP_SUBID_BASE" >/dev/null	# the entry goes, its claim stays
free_user=
for u in 6007 6008 6009 6010 6011; do [ -z "$(start $u)" ] && free_user=$u && break; done
check_match "the claim subid made says for whom and when" \
	"^description: subid slot claimed for uid 6006 at [0-9]+$" \
	"$(ldap_search -LLL -b "cn=$s6,cn=allocator,$LDAP_SUBID_BASE" -s base '(objectClass=*)' description)"
check_fail "a fresh claim without its entry keeps the slot" pamtester subid-h1 "r$((free_user - 6000))" open_session close_session
ldap_as_admin ldapmodify >/dev/null <<EOF
dn: cn=$s6,cn=allocator,$LDAP_SUBID_BASE
changetype: modify
replace: description
description: subid slot claimed for uid 6006 at $(($(date +%s) - 3700))
EOF
log_clear
check "the same claim, 3700 s old: the slot is taken over" pamtester subid-h1 "r$((free_user - 6000))" open_session close_session
check_eq "uid $free_user got the stale claim's slot" "$s6" "$(start "$free_user")"
log_grep "ldap reclaimed dn=\"cn=$s6,cn=allocator,$(rx "$LDAP_SUBID_BASE")\" uid=$free_user previous_uid=6006 age_s=3[0-9]{3} " \
	"the takeover is logged"
check_match "the claim now names its new owner" "^description: subid slot claimed for uid $free_user at " \
	"$(ldap_search -LLL -b "cn=$s6,cn=allocator,$LDAP_SUBID_BASE" -s base '(objectClass=*)' description)"
check "the directory's ranges still do not overlap" directory_ok

# ---- the plugin asks the directory on a replica miss ----------------------------------------
# host 4's replica never saw r4 (it logged in on host 1 only)
s4=$(start 6004)
check_eq "host 4's replica does not know r4" "" "$(db_query 'SELECT start FROM ranges WHERE uid = 6004' "$W/h4/private/subid.db")"
host_conf "$SUBID_CONF_PATH" "$W/h4/private/subid.db"
enable_plugin
check_eq "ldap_lookup_on_miss unset: getsubids r4 finds nothing" "" "$(getsubids r4 2>/dev/null || true)"
start_userns_sleeper 6004
check_fail "ldap_lookup_on_miss unset: setuid newuidmap refuses r4's range" \
	as_user 6004 newuidmap "$SLEEPER_PID" 0 "$s4" "$C"
stop_sleeper "$SLEEPER_PID"
host_conf "$SUBID_CONF_PATH" "$W/h4/private/subid.db" ldap_lookup_on_miss=yes
check_eq "ldap_lookup_on_miss = yes: getsubids r4 asks the directory" "0: r4 $s4 $C" "$(getsubids r4 2>&1)"
check_eq "... getsubids -g r4 too" "0: r4 $s4 $C" "$(getsubids -g r4 2>&1)"
check_eq "... by uid as well" "0: 6004 $s4 $C" "$(getsubids 6004 2>&1)"
start_userns_sleeper 6004
check "ldap_lookup_on_miss = yes: setuid newuidmap accepts r4's range" \
	as_user 6004 newuidmap "$SLEEPER_PID" 0 "$s4" "$C"
stop_sleeper "$SLEEPER_PID"
start_userns_sleeper 6004
check_fail "... but not a range beside it" as_user 6004 newuidmap "$SLEEPER_PID" 0 "$((s4 + C))" "$C"
stop_sleeper "$SLEEPER_PID"
check_eq "the plugin wrote nothing to the replica" "" "$(db_query 'SELECT start FROM ranges WHERE uid = 6004' "$W/h4/private/subid.db")"
check_eq "a user without an entry: nothing" "" "$(getsubids r12 2>/dev/null || true)"

# ---- an entry over real IDs (written by a rogue host) is refused, not served ----------------
hand_entry 6012 "0" "$C"
log_clear
check_fail "an entry holding root's ID: the login gets nothing" pamtester subid-h1 r12 open_session close_session
log_grep "ldap refused uid=6012 subuid=0\+$C subgid=0\+$C reason=\"the directory's entry overlaps real account IDs" \
	"... the refusal is logged"
check_eq "... nothing in host 1's replica" "" "$(db_query 'SELECT start FROM ranges WHERE uid = 6012' "$W/h1/private/subid.db")"
check_eq "... the plugin's lookup on a miss does not serve it" "" "$(getsubids r12 2>/dev/null || true)"
start_userns_sleeper 6012
check_fail "... and setuid newuidmap does not map root for r12" as_user 6012 newuidmap "$SLEEPER_PID" 0 0 1
stop_sleeper "$SLEEPER_PID"
ldap_as_admin ldapdelete "cn=6012,$LDAP_SUBID_BASE" >/dev/null

# r12's line in /etc/subuid (outside the pool) is served even while the directory does not answer
printf 'r12:%s:%s\n' 400000 1000 >>/etc/subuid
ldap_pause
log_clear
start_userns_sleeper 6004
check_fail "directory paused: setuid newuidmap refuses r4 (fails closed, within the timeout)" \
	timeout 30 setpriv --reuid=6004 --regid=6004 --clear-groups newuidmap "$SLEEPER_PID" 0 "$s4" "$C"
stop_sleeper "$SLEEPER_PID"
log_grep "ldap error uri=.* op=(bind|search)" "the unanswered lookup is logged"
served=$(db_query 'SELECT uid FROM ranges WHERE kind = 1 LIMIT 1' "$W/h4/private/subid.db")
start_userns_sleeper "$served"
check "directory paused: an owner in the replica is still served" \
	as_user "$served" newuidmap "$SLEEPER_PID" 0 "$(db_query "SELECT start FROM ranges WHERE uid = $served AND kind = 1" "$W/h4/private/subid.db")" "$C"
stop_sleeper "$SLEEPER_PID"
check_eq "directory paused: r12's /etc/subuid line is still served" "0: r12 400000 1000" "$(timeout 30 getsubids r12 2>&1)"
ldap_resume
finish
