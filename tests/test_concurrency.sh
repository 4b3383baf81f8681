#!/bin/bash
# Logins at once through the real PAM stack: 64 first logins of distinct
# users in parallel, then 20 simultaneous first logins of one user.  Every
# login must succeed and the store must keep its invariants: one subuid and
# one subgid range per user, no overlap between owners, none with /etc/subuid,
# /etc/subgid, reserved or real-account IDs.
set -eu
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3
subid_require_build
subid_enter_ns "$@"

DB=$W/state/private/subid.db
RMIN=2147483648
COUNT=65536
# a local file entry and a reserved interval inside the pool, early on, so
# first fit has to step over them under contention
printf 'dockremap:%s:%s\n' $((RMIN + 2 * COUNT)) $COUNT >>/etc/subuid
printf 'dockremap:%s:%s\n' $((RMIN + 5 * COUNT)) $COUNT >>/etc/subgid
RES_LO=$((RMIN + 7 * COUNT + 100))
RES_HI=$((RMIN + 9 * COUNT))
write_conf <<EOF
db_path = $DB
reserved = $RES_LO-$RES_HI
EOF

N=64
uids=
for i in $(seq 1 $N); do
	add_user "cc$i" $((3000 + i))
	uids="$uids${uids:+,}$((3000 + i))"
done
add_user same 3999
pam_service subid-cc "required $PAM_MODULE strict" "required pam_permit.so"

# run_parallel USER...: one pamtester per argument, all started together
# (they wait on a fifo), exit statuses in $W/rc.N
run_parallel() {
	local i=0 u pids=
	rm -f "$W"/rc.* "$W/go"
	mkfifo "$W/go"
	for u in "$@"; do
		i=$((i + 1))
		(read -r _ <"$W/go" || true; rc=0; pamtester subid-cc "$u" open_session close_session \
			>"$W/out.$i" 2>&1 || rc=$?; echo $rc >"$W/rc.$i") &
		pids="$pids $!"
	done
	sleep 0.2
	# one writer, many readers: opening the fifo releases them all at once
	exec 9>"$W/go"
	exec 9>&-
	for p in $pids; do wait "$p" || true; done
	rm -f "$W/go"
}

# count_failed: logins whose pamtester did not exit 0 (their output and the
# store errors logged are printed as diagnostics)
count_failed() {
	local n=0 f i
	for f in "$W"/rc.*; do
		[ "$(cat "$f")" = 0 ] && continue
		n=$((n + 1))
		i=${f##*.}
		diag "login $i exited $(cat "$f"):" >&2
		diag_file "$W/out.$i" >&2
	done
	if [ $n -gt 0 ]; then
		log_text | grep -v ' granted ' >"$W/errlog" || true
		diag_file "$W/errlog" >&2
	fi
	echo $n
}

names=
for i in $(seq 1 $N); do names="$names cc$i"; done
# shellcheck disable=SC2086
run_parallel $names
check_eq "$N simultaneous first logins of distinct users all succeed" 0 "$(count_failed)"
check_eq "$N users own 2 ranges each" $((2 * N)) "$(db_rows "uid BETWEEN 3001 AND $((3000 + N))")"

# shellcheck disable=SC2046
run_parallel $(for _ in $(seq 1 20); do echo same; done)
check_eq "20 simultaneous first logins of one user all succeed" 0 "$(count_failed)"
check_eq "that user owns exactly one subuid and one subgid range" 2 "$(db_rows "uid = 3999")"
check_eq "one grant logged per kind for that user" 2 "$(log_text | grep -c 'granted user=same uid=3999' || true)"

check "store invariants hold" python3 "$top_srcdir/tests/invariants.py" --db "$DB" \
	--reserved "$RES_LO-$RES_HI" --expect-uids "$uids,3999"
diag "$(tail -n 1 "$T_OUT")"
[ "$T_FAIL" -eq 0 ] || diag_file "$T_OUT"
finish
