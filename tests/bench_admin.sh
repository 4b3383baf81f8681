#!/bin/bash
# make bench (second part): what admin work costs with 10k and 100k owners.
# In a private mount namespace (overlay /etc, tmpfs $W; nothing on the host
# changes), per size N:
#
#   - N directory-like users served by libnss-db (a hashed NSS back-end:
#     O(1) lookups by name and by UID, so NSS is not what is measured; a
#     100k-line /etc/passwd would make every lookup a linear scan),
#   - /etc/subuid and /etc/subgid holding one line each per user, as
#     useradd leaves them,
#   - an empty local store,
#
# then times, wall clock and peak RSS (GNU time):
#
#   import     subidctl import of the N owners into the empty store
#   check      subidctl check of the store, the files and every account
#   export     subidctl export (subuid format)
#   reclaim    subidctl reclaim (dry run: every owner still resolves)
#
# and the callgrind instructions of the first allocation after the import
# (subidctl allocate of a new user) next to the second one: an import keeps
# the free-span index, so the first allocation pays no rebuild.
#
# Targets (printed as met / not met, never a failure): import of 100k owners
# <= 30 s, of 10k <= 3 s.  SUBID_BENCH_ADMIN_SIZES overrides the sizes.
set -eu
export LC_ALL=C
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
if [ -z "${SUBID_TEST_IN_NS:-}" ]; then
	"$top_srcdir/tests/deps.sh" bench >&2 || hard_error "tests/deps.sh bench failed"
fi
subid_require_tools unshare mount makedb valgrind python3
[ -x /usr/bin/time ] || skip_or_error "GNU time (/usr/bin/time) missing"
subid_require_build
subid_enter_ns "$@"

SIZES=${SUBID_BENCH_ADMIN_SIZES:-"10000 100000"}
RMIN=2147483648
RCOUNT=4096
progress() { printf 'bench_admin: %s\n' "$*" >&2; }

# The users, in libnss-db's maps under $W/nss (bind-mounted over
# /var/lib/misc), and their subordinate ranges in /etc/subuid, /etc/subgid.
make_fixture() {
	local n=$1 d=$W/nss
	mkdir -p "$d"
	python3 - "$n" "$d" "$RMIN" "$RCOUNT" <<'EOF'
import sys
n, d, rmin, rcount = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(d + "/passwd.in", "w") as pw, open(d + "/group.in", "w") as gr, \
     open(d + "/subid.lines", "w") as sub:
    for i in range(n + 2):
        name, uid = "ba%d" % i, 3000000 + i
        line = "%s:x:%d:%d:bench user:/nonexistent:/bin/sh" % (name, uid, uid)
        pw.write(".%s %s\n=%d %s\n0%d %s\n" % (name, line, uid, line, i, line))
        g = "%s:x:%d:" % (name, uid)
        gr.write(".%s %s\n=%d %s\n0%d %s\n" % (name, g, uid, g, i, g))
        if i < n:   # ba<n> and ba<n+1> have no ranges: the allocations measured
            sub.write("%s:%d:%d\n" % (name, rmin + i * rcount, rcount))
EOF
	makedb --quiet -o "$d/passwd.db" "$d/passwd.in"
	makedb --quiet -o "$d/group.db" "$d/group.in"
	mkdir -p /var/lib/misc
	mountpoint -q /var/lib/misc || mount --bind "$d" /var/lib/misc
	cp "$d/passwd.db" "$d/group.db" /var/lib/misc/ 2>/dev/null || true
	sed -i -E 's/^(passwd|group):.*/\1: files db/' /etc/nsswitch.conf
	cp "$d/subid.lines" /etc/subuid
	cp "$d/subid.lines" /etc/subgid
	chmod 0644 /etc/subuid /etc/subgid
	getent passwd "ba$((n - 1))" >/dev/null || hard_error "libnss-db does not serve the bench users"
}

# timed NAME CMD...: wall seconds and peak RSS (MiB) of one run into $W/t.NAME
timed() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$W/t.$name" "$@" >"$W/out.$name" 2>"$W/err.$name" || true
}

ir() {
	local out=$W/cg.out
	valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1 || true
	awk '/^summary:/ { print $2 }' "$out"
}

declare -A R
for n in $SIZES; do
	progress "fixture: $n users"
	make_fixture "$n"
	rm -rf "$W/store"
	write_conf <<EOF
store = local
db_path = $W/store/private/subid.db
index_path = $W/store/ranges.idx
range_min = $RMIN
range_max = 4294836224
range_count = $RCOUNT
EOF
	progress "import: $n owners"
	timed import "$SUBIDCTL" import
	grep -q "^import: $n owners imported" "$W/out.import" ||
		hard_error "import of $n owners: $(tail -n 3 "$W/out.import" "$W/err.import")"
	progress "check"
	timed check "$SUBIDCTL" check
	if [ -s "$W/out.check" ]; then progress "check said: $(head -c 600 "$W/out.check")"; fi
	progress "export"
	timed export "$SUBIDCTL" export
	[ "$(wc -l <"$W/out.export")" -eq "$n" ] || hard_error "export printed $(wc -l <"$W/out.export") lines, not $n"
	progress "reclaim (dry run)"
	timed reclaim "$SUBIDCTL" reclaim
	progress "allocations after the import (callgrind)"
	R[$n.alloc1]=$(ir "$SUBIDCTL" allocate "ba$n")
	R[$n.alloc2]=$(ir "$SUBIDCTL" allocate "ba$((n + 1))")
	for t in import check export reclaim; do
		# (GNU time writes "Command exited with non-zero status" first when it did)
		read -r R[$n.$t] R[$n.$t.rss] < <(tail -n 1 "$W/t.$t")
	done
	umount /var/lib/misc
done

echo
echo "Admin work (wall clock of one run, peak RSS; libnss-db users, local store)"
printf '%-44s' ""
for n in $SIZES; do printf '%22s' "$n owners"; done
echo
for t in import check export reclaim; do
	printf '%-44s' "subidctl $t"
	for n in $SIZES; do printf '%13s s %5d MiB' "${R[$n.$t]}" "$((R[$n.$t.rss] / 1024))"; done
	echo
done
for a in alloc1 alloc2; do
	case $a in
	alloc1) printf '%-44s' "first allocation after the import (Ir)" ;;
	alloc2) printf '%-44s' "the next allocation (Ir)" ;;
	esac
	for n in $SIZES; do printf '%22s' "${R[$n.$a]}"; done
	echo
done
echo
for n in $SIZES; do
	case $n in
	10000) lim=3 ;;
	100000) lim=30 ;;
	*) continue ;;
	esac
	if python3 -c "import sys; sys.exit(0 if float('${R[$n.import]}') <= $lim else 1)"; then
		echo "target: import of $n owners <= $lim s: met (${R[$n.import]} s)"
	else
		echo "target: import of $n owners <= $lim s: NOT met (${R[$n.import]} s)"
	fi
done
