#!/bin/bash
# mirror_files = yes, as root in a private mount namespace, against shadow's
# own tools: every grant becomes one "name:start:count" line in /etc/subuid
# and /etc/subgid, once, beside lines subid did not write (kept byte for
# byte); a release removes exactly its lines; a line deleted by hand comes
# back at the next login.  With the plugin off, getsubids and setuid
# newuidmap/newgidmap read the files themselves (as Docker and LXC do) and
# accept the ranges.  Logins with the mirror on while useradd and usermod
# --add-subuids/--add-subgids write the same files in a loop: every line
# from both sides is there exactly once and the files parse.  Docker's
# userns-remap setup: useradd -r dockremap, subidctl allocate --force
# dockremap: one dockremap line per file, and the plugin serves the same.
# A renamed owner's lines follow the new name; release and reclaim remove
# the lines under the recorded name too (a later account of that name must
# not inherit the IDs); a mirror that cannot write makes subidctl exit 2.
set -eu
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3 getsubids newuidmap newgidmap setpriv useradd usermod
subid_require_build
subid_enter_ns "$@"

DB=$W/state/private/subid.db
M=2147483648
C=65536
add_user alice 2001
add_user bob 2002
for i in $(seq 1 16); do add_user "mc$i" $((4000 + i)); done
write_conf <<EOF
db_path = $DB
mirror_files = yes
EOF
pam_service subid-mirror "[success=ok default=die] $PAM_MODULE" "required pam_permit.so"
# no "subid:" line: shadow's libsubid reads the files itself
grep -v '^subid:' /etc/nsswitch.conf >"$W/nss" || true
cat "$W/nss" >/etc/nsswitch.conf
cat >/etc/subuid <<'EOF'
# local entries, not subid's
dockerish:100000:65536

olduser:165536:65536
EOF
printf 'olduser:165536:65536\n# no newline at the end' >/etc/subgid
chmod 0640 /etc/subgid
chgrp 42 /etc/subgid 2>/dev/null || true
cp /etc/subuid "$W/subuid.before"
cp /etc/subgid "$W/subgid.before"
stat -c '%a %u %g' /etc/subgid >"$W/subgid.mode"

# lines FILE NAME: how many lines of FILE belong to NAME
lines() { grep -c "^$2:" "$1" || true; }

# ---- grants, idempotence, lines kept ------------------------------------------------------
check "alice: first login" pamtester subid-mirror alice open_session close_session
check_eq "alice: one subuid line" "alice:$M:$C" "$(grep '^alice:' /etc/subuid)"
check_eq "alice: one subgid line" "alice:$M:$C" "$(grep '^alice:' /etc/subgid)"
check "alice: second login" pamtester subid-mirror alice open_session close_session
check_eq "alice: still one line each" "1 1" "$(lines /etc/subuid alice) $(lines /etc/subgid alice)"
check_eq "/etc/subuid: the lines subid did not write are kept byte for byte" \
	"$(cat "$W/subuid.before")" "$(head -n "$(wc -l <"$W/subuid.before")" /etc/subuid)"
check_eq "/etc/subgid: a last line without newline is kept, subid's line follows" \
	"$(cat "$W/subgid.before")
alice:$M:$C" "$(cat /etc/subgid)"
check_eq "/etc/subgid: mode and owner kept" "$(cat "$W/subgid.mode")" "$(stat -c '%a %u %g' /etc/subgid)"
check "bob: first login" pamtester subid-mirror bob open_session close_session
check_eq "bob: the next slot in both files" "bob:$((M + C)):$C bob:$((M + C)):$C" \
	"$(grep '^bob:' /etc/subuid) $(grep '^bob:' /etc/subgid)"

# ---- no plugin: shadow's tools read the files -------------------------------------------------
check_eq "getsubids alice (files backend, no plugin)" "0: alice $M $C" "$(getsubids alice 2>&1)"
check_eq "getsubids -g bob (files backend)" "0: bob $((M + C)) $C" "$(getsubids -g bob 2>&1)"
start_userns_sleeper 2001
check "setuid newuidmap accepts alice's range from /etc/subuid" as_user 2001 newuidmap "$SLEEPER_PID" 0 "$M" "$C"
check "setuid newgidmap accepts alice's range from /etc/subgid" as_user 2001 newgidmap "$SLEEPER_PID" 0 "$M" "$C"
check_eq "the maps are in place" "0 $M $C" "$(read_map "$SLEEPER_PID" uid)"
stop_sleeper "$SLEEPER_PID"
start_userns_sleeper 2001
check_fail "newuidmap refuses bob's range to alice" as_user 2001 newuidmap "$SLEEPER_PID" 0 "$((M + C))" "$C"
stop_sleeper "$SLEEPER_PID"

# ---- a line deleted by hand comes back; release removes only subid's lines ---------------------
sed -i '/^alice:/d' /etc/subuid
check "alice: login after her line was deleted" pamtester subid-mirror alice open_session close_session
check_eq "alice: the line is back" "alice:$M:$C" "$(grep '^alice:' /etc/subuid)"
printf 'alice:900000:10\n' >>/etc/subuid
log_clear
check "subidctl release --yes alice" "$SUBIDCTL" release --yes alice
check_eq "release: alice's mirrored lines are gone, her own other line stays" "alice:900000:10|0" \
	"$(grep '^alice:' /etc/subuid | paste -sd '|')|$(lines /etc/subgid alice)"
check_eq "release: bob's lines stay" "1 1" "$(lines /etc/subuid bob) $(lines /etc/subgid bob)"
check_eq "release: the lines subid did not write stay" "$(cat "$W/subuid.before")" \
	"$(head -n "$(wc -l <"$W/subuid.before")" /etc/subuid)"
sed -i '/^alice:900000/d' /etc/subuid

# ---- logins racing useradd and usermod on the same files ----------------------------------------
# shadow's own allocation (SUB_UID_MIN...) and the pool do not meet; what is
# tested is the files: both sides write them at once
: >"$W/usermod.lines"
(
	for i in $(seq 1 12); do
		useradd "sh$i" >/dev/null 2>&1 || echo "useradd sh$i failed" >>"$W/shadow.err"
		s=$((700000000 + i * 1000))
		usermod --add-subuids "$s-$((s + 99))" --add-subgids "$s-$((s + 99))" "sh$i" >/dev/null 2>&1 ||
			echo "usermod sh$i failed" >>"$W/shadow.err"
		echo "sh$i:$s:100" >>"$W/usermod.lines"
	done
) &
loop=$!
pids=
for i in $(seq 1 16); do
	pamtester subid-mirror "mc$i" open_session close_session >"$W/mc.$i" 2>&1 &
	pids="$pids $!"
	sleep 0.05
done
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
wait "$loop" || true
check_eq "16 logins with the mirror on, racing useradd/usermod: all succeed" 0 "$failed"
check_eq "useradd and usermod all succeeded" "" "$(cat "$W/shadow.err" 2>/dev/null || true)"
missing=0 dup=0
for i in $(seq 1 16); do
	s=$(db_query "SELECT start FROM ranges WHERE uid = $((4000 + i)) AND kind = 1")
	for f in /etc/subuid /etc/subgid; do
		n=$(grep -cx "mc$i:$s:$C" "$f" || true)
		[ "$n" = 0 ] && missing=$((missing + 1))
		[ "$n" -gt 1 ] && dup=$((dup + 1))
	done
done
check_eq "every login's lines are in both files" 0 "$missing"
check_eq "... exactly once" 0 "$dup"
missing=0 dup=0
while read -r l; do
	for f in /etc/subuid /etc/subgid; do
		n=$(grep -cx "$l" "$f" || true)
		[ "$n" = 0 ] && missing=$((missing + 1))
		[ "$n" -gt 1 ] && dup=$((dup + 1))
	done
done <"$W/usermod.lines"
check_eq "every usermod line is in both files" 0 "$missing"
check_eq "... exactly once" 0 "$dup"
check_eq "every user useradd made has its own line in /etc/subuid" 12 \
	"$(for i in $(seq 1 12); do grep "^sh$i:" /etc/subuid | grep -v ":100$" | head -n 1; done | wc -l)"
check "both files parse: owner:start:count or comments" python3 -c '
import sys
for path in sys.argv[1:]:
    for n, line in enumerate(open(path).read().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        owner, start, count = line.split(":")
        assert owner and int(start) >= 0 and int(count) > 0, (path, n, line)
' /etc/subuid /etc/subgid
check "the store keeps its invariants" python3 "$top_srcdir/tests/invariants.py" --db "$DB"

# ---- a renamed owner's lines follow him; released and reclaimed lines go under any name --------
add_user carol 2003
add_user dora 2006
check "carol: first login" pamtester subid-mirror carol open_session close_session
cs=$(db_query "SELECT start FROM ranges WHERE uid = 2003 AND kind = 1")
sed -i 's/^carol:/carla:/' /etc/passwd
check "carla (carol renamed, same uid): login" pamtester subid-mirror carla open_session close_session
check_eq "rename: the lines name carla, none carol" "0 0 carla:$cs:$C carla:$cs:$C" \
	"$(lines /etc/subuid carol) $(lines /etc/subgid carol) $(grep '^carla:' /etc/subuid) $(grep '^carla:' /etc/subgid)"
sed -i 's/^carla:/carlb:/' /etc/passwd
check "renamed again, then released before any login: subidctl release --yes carlb" \
	"$SUBIDCTL" release --yes carlb
check_eq "release: the lines under the name of the last login are gone too" "0 0 0 0" \
	"$(lines /etc/subuid carla) $(lines /etc/subgid carla) $(lines /etc/subuid carlb) $(lines /etc/subgid carlb)"
check "dora: first login" pamtester subid-mirror dora open_session close_session
sed -i '/^dora:/d' /etc/passwd
check "dora's account deleted: subidctl reclaim --yes" "$SUBIDCTL" reclaim --yes
check_eq "reclaim: the orphan's lines are gone (a new dora would inherit them)" "0 0" \
	"$(lines /etc/subuid dora) $(lines /etc/subgid dora)"

# ---- a mirror that cannot write: the grant stands, subidctl says so and exits 2 ----------------
add_user erin 2007
mkdir -p /etc/subgid.subid-new/blocker	# where the new /etc/subgid would be written
log_clear
capture "$SUBIDCTL" allocate erin
check_eq "allocate erin with /etc/subgid unwritable: exit 2" 2 "$C_RC"
check_match "... the admin is told the files lack the ranges" "erin: granted, but mirror_files could not write" "$C_ERR"
check_eq "... the grant itself stands, and /etc/subuid has it" "2 1 0" \
	"$(db_rows 'uid = 2007') $(lines /etc/subuid erin) $(lines /etc/subgid erin)"
log_grep "mirror error path=/etc/subgid" "... the mirror failure is logged"
check "erin: a login still succeeds (the plugin serves the ranges)" pamtester subid-mirror erin open_session close_session
rm -rf /etc/subgid.subid-new
check "erin: once /etc/subgid can be written, the next login completes the mirror" \
	pamtester subid-mirror erin open_session close_session
check_eq "erin: one line in each file" "1 1" "$(lines /etc/subuid erin) $(lines /etc/subgid erin)"

# ---- Docker's userns-remap: default -------------------------------------------------------------
enable_plugin
check "useradd -r dockremap (as Docker's documentation says)" useradd -r dockremap
capture "$SUBIDCTL" allocate --force dockremap
check_eq "subidctl allocate --force dockremap: exit 0" 0 "$C_RC"
dr=$(db_query "SELECT start FROM ranges WHERE name = 'dockremap' AND kind = 1")
check_eq "one dockremap line in /etc/subuid, what dockerd reads" "dockremap:$dr:$C" "$(grep '^dockremap:' /etc/subuid)"
check_eq "one dockremap line in /etc/subgid" "dockremap:$dr:$C" "$(grep '^dockremap:' /etc/subgid)"
check_eq "the plugin serves the same range (once)" "0: dockremap $dr $C" "$(getsubids dockremap 2>&1)"
check_eq "... and the same subgid range" "0: dockremap $dr $C" "$(getsubids -g dockremap 2>&1)"
"$SUBIDCTL" allocate --force dockremap >/dev/null
check_eq "allocate again: still one line each" "1 1" "$(lines /etc/subuid dockremap) $(lines /etc/subgid dockremap)"
finish
