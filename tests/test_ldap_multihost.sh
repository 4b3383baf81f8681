#!/bin/bash
# Four hosts (each its own config and local replica) allocate at once, for
# overlapping sets of 301 users, against one slapd; then slapd is stopped
# (SIGSTOP, later SIGKILL) during logins, which must neither fail nor hang,
# and resumed or restarted.  Afterwards every user has exactly one entry
# in the directory, each host's replica agrees with it, and no two owners
# overlap.  It also prints allocations per second and LDAP operations per
# allocation (from slapd's stats log): figures, not assertions
# ("make bench-ldap" runs just this).
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ldap_lib.sh"

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3
ldap_require_tools
subid_require_build
DRIVER=$top_builddir/tests/alloc_driver
[ -x "$DRIVER" ] || hard_error "$DRIVER not built: run make check"
subid_enter_ns "$@"
LDAP_DEBUG=stats ldap_start

N=301
BASE=20000
for i in $(seq 1 $N); do
	printf 'mh%d:x:%d:%d::/nonexistent:/bin/sh\n' "$i" $((BASE + i)) $((BASE + i))
done >>/etc/passwd
: >>/etc/subuid
: >>/etc/subgid
install -m 0600 "$LDAP_HOST_PW_FILE" "$W/host.pw"
for h in 1 2 3 4; do ldap_host_conf "$W/h$h.conf" "$W/h$h/private/subid.db"; done

# directory_state: "uid start" of every entry (subuid start), sorted
directory_state() {
	ldap_search -LLL '(objectClass=subordinateIdEntry)' uidNumber subUidNumber subUidCount subGidNumber |
		python3 -c '
import sys
e = {}; out = []
for line in sys.stdin.read().split("\n") + [""]:
    if not line.strip():
        if "uidNumber" in e:
            out.append((int(e["uidNumber"]), int(e["subUidNumber"]), int(e["subUidCount"]), int(e["subGidNumber"])))
        e = {}
        continue
    k, _, v = line.partition(": ")
    e[k] = v
for u, s, c, g in sorted(out):
    print(u, s, c, g)'
}

# slapd's stats log between two line numbers: one RESULT line per LDAP
# operation (a round trip), and the operations by kind
log_lines() { wc -l <"$LDAP_LOG"; }
ldap_ops() { sed -n "$(($1 + 1)),$2p" "$LDAP_LOG" | grep -cE ' op=[0-9]+ (SEARCH )?RESULT ' || true; }
ldap_ops_of() {
	sed -n "$(($1 + 1)),$2p" "$LDAP_LOG" |
		grep -cE " op=[0-9]+ ($3 base=|$3 dn=\"[^\"]*\"\$|$3 dn=\"[^\"]*\" method=)" || true
}
ops_before=$(log_lines)
t0=$(date +%s%N)
pids=
# overlapping windows: every user is wanted by two to four hosts
for h in 1 2 3 4; do
	lo=$(((h - 1) * 17 + 1))
	hi=$((lo + 250 - 1))
	"$DRIVER" "$W/h$h.conf" mh "$lo" "$hi" >"$W/h$h.out" 2>"$W/h$h.err" &
	pids="$pids $!"
done
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
t1=$(date +%s%N)
ops_after=$(log_lines)
nops=$(ldap_ops "$ops_before" "$ops_after")
check_eq "4 hosts, 4 x 250 allocations at once: no host failed" 0 "$failed"
[ "$failed" -eq 0 ] || diag_file "$W/h1.err"

directory_state >"$W/dir.txt"
users=$(cut -d' ' -f1 "$W/dir.txt" | sort -u | wc -l)
check_eq "every one of the $((3 * 17 + 250)) users wanted has an entry" $((3 * 17 + 250)) "$users"
check_eq "exactly one entry per user" "$users" "$(wc -l <"$W/dir.txt")"
check_eq "subgid start = subuid start in every entry" "" "$(awk '$2 != $4' "$W/dir.txt")"
check "no two owners overlap in the directory" python3 -c '
import sys
r = sorted((int(s), int(s) + int(c), u) for u, s, c, g in (l.split() for l in open(sys.argv[1])))
bad = [(a, b) for a, b in zip(r, r[1:]) if b[0] < a[1]]
print(bad[:5]); sys.exit(1 if bad else 0)' "$W/dir.txt"
agree=0 total=0
for h in 1 2 3 4; do
	while read -r uid start; do
		total=$((total + 1))
		grep -q "^$uid $start " "$W/dir.txt" && agree=$((agree + 1))
	done <"$W/h$h.out"
	check "host $h's replica keeps the store invariants" python3 "$top_srcdir/tests/invariants.py" --db "$W/h$h/private/subid.db"
	check_eq "host $h's replica rows match its reported allocations" \
		"$(sort "$W/h$h.out" | tr '\n' ' ')" \
		"$(db_query "SELECT uid || ' ' || start FROM ranges WHERE kind = 1 ORDER BY uid" "$W/h$h/private/subid.db" | sort | tr '\n' ' ')"
done
check_eq "every allocation a host reported is the directory's range" "$total" "$agree"
ms=$(((t1 - t0) / 1000000))
allocs=$users
diag "figures: $allocs allocations (plus $((total - allocs)) lookups of entries another host made) by 4 hosts in $ms ms:" \
	"$((allocs * 1000 / (ms > 0 ? ms : 1))) allocations/s; $nops LDAP operations," \
	"$(python3 -c "print('%.1f' % ($nops / $total))") per ensure call, $(python3 -c "print('%.1f' % ($nops / $allocs))") per allocation"
holes=$(awk -v m=2147483648 -v c=65536 '{ i = ($2 - m) / c; if (i > top) top = i } END { print top + 1 - NR }' "$W/dir.txt")
echo "# figures: allocations=$allocs ensure_calls=$total ms=$ms ldap_ops=$nops holes_left=$holes" \
	"binds=$(ldap_ops_of "$ops_before" "$ops_after" BIND)" \
	"searches=$(ldap_ops_of "$ops_before" "$ops_after" SRCH)" \
	"modifies=$(ldap_ops_of "$ops_before" "$ops_after" MOD)" \
	"adds=$(ldap_ops_of "$ops_before" "$ops_after" ADD)"

# ---- slapd stopped (SIGSTOP, then SIGKILL) during logins ----------------------------------
# interrupted PREFIX BASEUID STOP RESUME: 20 first logins on host 1 (optional module), the
# directory stopped by STOP 50 ms after they start; each login is timed.  Then RESUME, every
# user logs in again: one entry each, no overlap, the replica agrees with the directory.
pam_service subid-h1 "optional $PAM_MODULE conf=$W/h1.conf" "required pam_permit.so"
interrupted() {
	local prefix=$1 base=$2 stop=$3 resume=$4 i pids= failed=0 slowest=0 ms agree=0
	for i in $(seq 1 20); do add_user "$prefix$i" $((base + i)); done
	for i in $(seq 1 20); do
		(t=$(now_ms); rc=0; timeout 60 pamtester subid-h1 "$prefix$i" open_session close_session \
			>"$W/$prefix.$i" 2>&1 || rc=$?; echo "$rc $(($(now_ms) - t))" >"$W/$prefix.$i.rc") &
		pids="$pids $!"
	done
	sleep 0.05
	$stop
	for p in $pids; do wait "$p" || true; done
	for i in $(seq 1 20); do
		read -r rc ms <"$W/$prefix.$i.rc"
		[ "$rc" = 0 ] || failed=$((failed + 1))
		[ "$ms" -le "$slowest" ] || slowest=$ms
	done
	check_eq "slapd $prefix-stopped during 20 logins: every login completed (optional module)" 0 "$failed"
	# ldap_timeout = 5 bounds all of a login's directory work; 3 s more for the rest of it
	check_true "... none waited longer than ldap_timeout: the slowest took $slowest ms" "$slowest" -lt 8000
	$resume
	for i in $(seq 1 20); do pamtester subid-h1 "$prefix$i" open_session close_session >/dev/null 2>&1 || true; done
	directory_state >"$W/dir.$prefix.txt"
	check_eq "after the restart every $prefix user has exactly one entry" 20 \
		"$(awk -v lo="$base" '$1 > lo && $1 <= lo + 20' "$W/dir.$prefix.txt" | cut -d' ' -f1 | sort | uniq -c |
			awk '$1 == 1' | wc -l)"
	check "after the restart no two owners overlap" python3 -c '
import sys
r = sorted((int(s), int(s) + int(c)) for u, s, c, g in (l.split() for l in open(sys.argv[1])))
sys.exit(1 if any(b[0] < a[1] for a, b in zip(r, r[1:])) else 0)' "$W/dir.$prefix.txt"
	for i in $(seq 1 20); do
		grep -q "^$((base + i)) $(db_query "SELECT start FROM ranges WHERE uid = $((base + i)) AND kind = 1" \
			"$W/h1/private/subid.db") " "$W/dir.$prefix.txt" && agree=$((agree + 1))
	done
	check_eq "host 1's replica holds the directory's range for every $prefix user" 20 "$agree"
	check "host 1's replica still keeps its invariants" python3 "$top_srcdir/tests/invariants.py" --db "$W/h1/private/subid.db"
}
interrupted kp 31000 ldap_pause ldap_resume
interrupted kk 30000 ldap_kill ldap_restart
finish
